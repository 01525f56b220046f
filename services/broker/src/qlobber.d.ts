declare module 'qlobber' {
  export interface QlobberOptions {
    wildcard_one?: string
    wildcard_some?: string
    separator?: string
    match_empty_levels?: boolean
  }
  /** Matches topics against added patterns (MQTT wildcards with these options). */
  export class QlobberTrue {
    constructor(options?: QlobberOptions)
    add(topic: string): this
    test(topic: string): boolean
  }
}

declare module 'qlobber/aedes/qlobber-sub.js' {
  import type { QlobberOptions } from 'qlobber'

  interface SubEntry {
    clientId: string
    topic: string
    qos?: number
    rh?: number
    rap?: boolean
    nl?: boolean
  }
  /** aedes' subscription trie: subscriptions by topic filter, matched against published topics. */
  export default class QlobberSub {
    constructor(options?: QlobberOptions)
    subscriptionsCount: number
    add(topic: string, sub: SubEntry): this
    remove(topic: string, sub: { clientId: string; topic: string }): this
    match(topic: string): SubEntry[]
  }
}
