import { runService } from '@homelab/service-kit'
import { sysCollector } from './module.js'

await runService(sysCollector)
