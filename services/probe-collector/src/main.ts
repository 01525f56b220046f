import { runService } from '@homelab/service-kit'
import { probeCollector } from './module.js'

await runService(probeCollector)
