import { createLogger, loadConfig, runService } from '@homelab/service-kit'
import { openWriter } from '@homelab/storage'
import { RecorderConfig } from './config.js'
import { recorder } from './module.js'
import { rebuildProjections } from './rebuild.js'
import { databasePath } from './recorder.js'
import { Store } from './store.js'

const log = createLogger('recorder')

if (process.argv[2] === 'rebuild') {
  // `recorder rebuild`: replay the event log and the raw tier into the projections (run with the recorder stopped).
  const c = loadConfig(RecorderConfig)
  const db = openWriter(databasePath(c.HOMELAB_DATA_DIR))
  const r = rebuildProjections(db, new Store(db))
  db.close()
  log.info(`rebuilt projections from ${r.events} events and ${r.samples} raw samples`)
} else {
  await runService(recorder)
}
