import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { Logger } from '@homelab/service-kit'
import { z } from 'zod'
import type { SqlitePersistence } from './sqlite-persistence.js'

interface Msgpack {
  decode(b: Buffer): unknown
}

/** What aedes-persistence-level stored (msgpack): packets with a topic and a payload, subscriptions with a qos. */
const OldPacket = z.looseObject({
  cmd: z.string().default('publish'),
  topic: z.string(),
  payload: z.instanceof(Uint8Array).transform((b) => Buffer.from(b)),
  qos: z.number().int().default(0),
  retain: z.boolean().default(false),
  clientId: z.string().optional(),
})
const OldSub = z.looseObject({
  clientId: z.string(),
  topic: z.string(),
  qos: z.number().int(),
  rh: z.number().int().optional(),
  rap: z.boolean().optional(),
  nl: z.boolean().optional(),
})

const LEVELDB_FILE = /^(CURRENT|LOCK|LOG(\.old)?|MANIFEST-\d+|\d+\.(log|ldb|sst))$/

/** Is `dir` a store of the broker's earlier versions (aedes-persistence-level on LevelDB)? */
export function hasLevelStore(dir: string): boolean {
  return existsSync(join(dir, 'CURRENT'))
}

/**
 * Moves the store of earlier versions (LevelDB, written by aedes-persistence-level 9.2.0) into the SQLite store:
 * retained messages, persistent sessions' subscriptions and their queued messages, wills. The LevelDB files are
 * then moved aside into `leveldb-migrated/` (delete it once the upgrade is known good). An install that upgrades
 * keeps its retained state and loses none of the messages queued for its recorder and alerter.
 */
export async function migrateLevelStore(dir: string, store: SqlitePersistence, log: Logger): Promise<number> {
  const { Level } = await import('level')
  const require = createRequire(createRequire(import.meta.url).resolve('aedes-persistence-level'))
  const msgpack: Msgpack = require('msgpack-lite')
  const db = new Level<string, Buffer>(dir, { valueEncoding: 'buffer' })
  await db.open()
  const range = (prefix: string) => ({ gte: prefix, lt: `${prefix.slice(0, -1)};` })
  let n = 0
  let skipped = 0
  const read = <S extends z.ZodType>(schema: S, v: Buffer): z.infer<S> | null => {
    const r = schema.safeParse(msgpack.decode(v))
    if (!r.success) skipped++
    return r.success ? r.data : null
  }
  const writes: Array<Promise<unknown>> = []
  try {
    for await (const [, v] of db.iterator(range('retained:'))) {
      const p = read(OldPacket, v)
      if (p) writes.push(store.storeRetained(p))
      n++
    }
    const subs = new Map<string, Array<z.infer<typeof OldSub>>>()
    for await (const [, v] of db.iterator(range('subscriptions:'))) {
      const s = read(OldSub, v)
      if (!s) continue
      const list = subs.get(s.clientId) ?? []
      list.push(s)
      subs.set(s.clientId, list)
      n++
    }
    for (const [id, list] of subs) writes.push(store.addSubscriptions({ id }, list))
    for await (const [k, v] of db.iterator(range('outgoing:'))) {
      const client = decodeURIComponent(k.slice('outgoing:'.length).split(':')[0] ?? '')
      const p = read(OldPacket, v)
      if (p) writes.push(store.outgoingEnqueue({ clientId: client }, p))
      n++
    }
    for await (const [, v] of db.iterator(range('will:'))) {
      const w = read(OldPacket, v)
      if (w?.clientId) writes.push(store.putWill({ id: w.clientId }, w))
      n++
    }
    await Promise.all(writes)
  } finally {
    await db.close()
  }
  const aside = join(dir, 'leveldb-migrated')
  mkdirSync(aside, { recursive: true })
  for (const f of readdirSync(dir)) if (LEVELDB_FILE.test(f)) renameSync(join(dir, f), join(aside, f))
  log.info(
    `moved ${n} records of the earlier broker store (LevelDB) into ${store.path}${skipped ? ` (${skipped} unreadable, skipped)` : ''}; the old files are in ${aside}`,
  )
  return n
}
