import { runService } from '@homelab/service-kit'
import { ollamaCollector } from './module.js'

await runService(ollamaCollector)
