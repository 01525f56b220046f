import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto'

/**
 * Password hashes: scrypt (memory-hard, in node:crypto). N = 2^15, r = 8, p = 1 takes 32 MiB and ~85 ms on a 2-core VM
 * (more on a Pi) per login — the cost that makes a stolen database slow to guess, paid once per login.
 * Stored as `scrypt$<log2 N>$<r>$<p>$<salt>$<hash>` (base64url), so the cost can be raised later and old hashes
 * still verify.
 */
const COST = { log2N: 15, r: 8, p: 1 }
const KEY_LEN = 32

function derive(password: string, salt: Buffer, log2N: number, r: number, p: number): Promise<Buffer> {
  const o: ScryptOptions = { N: 2 ** log2N, r, p, maxmem: 2 * 128 * 2 ** log2N * r }
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, KEY_LEN, o, (e, key) => (e ? reject(e) : resolve(key))),
  )
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await derive(password, salt, COST.log2N, COST.r, COST.p)
  return ['scrypt', COST.log2N, COST.r, COST.p, salt.toString('base64url'), key.toString('base64url')].join(
    '$',
  )
}

const ENCODED = /^scrypt\$(\d{1,2})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9_-]{16,64})\$([A-Za-z0-9_-]{40,64})$/

/** Whether the password matches the stored hash (compared in constant time). A malformed hash matches nothing. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const m = ENCODED.exec(encoded)
  if (!m) return false
  const [log2N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])]
  if (log2N < 10 || log2N > 20 || r < 1 || r > 16 || p < 1 || p > 4) return false
  const expected = Buffer.from(m[5]!, 'base64url')
  const key = await derive(password, Buffer.from(m[4]!, 'base64url'), log2N, r, p)
  return key.length === expected.length && timingSafeEqual(key, expected)
}

let dummy: Promise<string> | null = null
/**
 * A hash no password is known for: a login for a user who does not exist is checked against it, so it costs the
 * same time as a wrong password for one who does (the answer is the same too).
 */
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(randomBytes(24).toString('base64url'))
  return dummy
}
