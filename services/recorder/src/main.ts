import {
  brokerIdentity,
  Counters,
  createLogger,
  loadConfig,
  mqttProbe,
  runUntilSignal,
  startHealthFile,
} from '@homelab/service-kit'
import { openWriter } from '@homelab/storage'
import { RecorderConfig } from './config.js'
import { rebuildProjections } from './rebuild.js'
import { databasePath, Recorder } from './recorder.js'
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
  await runUntilSignal(log, async () => {
    const c = loadConfig(RecorderConfig)
    const { topics, host, username, password } = brokerIdentity(c, 'recorder')
    const recorder = new Recorder({
      config: c,
      topics,
      host,
      username,
      password,
      log,
      counters: new Counters(),
    })
    recorder.start()
    const connected = mqttProbe(recorder.conn)
    startHealthFile(c.HOMELAB_HEALTH_FILE, () =>
      recorder.conn.hasCondition('database')
        ? { ok: false, detail: recorder.conn.currentStatus.reason ?? 'cannot write the database' }
        : connected(),
    )
    log.info(`recording to ${databasePath(c.HOMELAB_DATA_DIR)}`)
    return recorder
  })
}
