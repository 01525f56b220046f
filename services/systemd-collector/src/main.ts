import { runService } from '@homelab/service-kit'
import { systemdCollector } from './module.js'

await runService(systemdCollector)
