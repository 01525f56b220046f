declare module 'aedes-persistence-level' {
  import type { Level } from 'level'

  /** The part of the persistence the broker itself reads (aedes uses the rest). */
  export interface LevelPersistence {
    createRetainedStream(pattern: string): AsyncIterable<{ topic: string }>
  }
  function aedesPersistenceLevel(db: Level<string, unknown>): LevelPersistence
  export default aedesPersistenceLevel
}
