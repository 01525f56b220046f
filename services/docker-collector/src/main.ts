import { runService } from '@homelab/service-kit'
import { dockerCollector } from './module.js'

await runService(dockerCollector)
