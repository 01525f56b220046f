declare module 'aedes-persistence-level' {
  import type { Level } from 'level'

  function aedesPersistenceLevel(db: Level<string, unknown>): unknown
  export default aedesPersistenceLevel
}
