import { runService } from '@homelab/service-kit'
import { alerter } from './module.js'

await runService(alerter)
