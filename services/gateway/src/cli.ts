import { createInterface } from 'node:readline'
import { NewPassword, Role, UserName } from '@homelab/contracts'
import { loadConfig } from '@homelab/service-kit'
import type { z } from 'zod'
import { AccountConflict } from './accounts.js'
import { Auth } from './auth.js'
import { GatewayConfig, sessionOptions } from './config.js'

const USAGE = `usage:
  npm run user -- list
  npm run user -- add NAME viewer|operator|admin     (asks for the password; or pipe it in)
  npm run user -- passwd NAME                        (sets a new password; ends their sessions)
  npm run user -- role NAME viewer|operator|admin
  npm run user -- remove NAME                        (ends their sessions, removes their tokens)
  npm run user -- logout NAME                        (ends their sessions)
`
const TOKEN_USAGE = 'usage: token create NAME viewer|operator|admin | token list | token delete ID\n'

/** A password from the terminal (not echoed, asked twice) or, when piped, the first line of stdin. */
async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const rl = createInterface({ input: process.stdin })
    for await (const line of rl) {
      rl.close()
      return line
    }
    return ''
  }
  const ask = (q: string) =>
    new Promise<string>((resolve, reject) => {
      const stdin = process.stdin
      process.stdout.write(q)
      let typed = ''
      const done = () => {
        stdin.off('data', onData)
        stdin.setRawMode(false)
        stdin.pause()
        process.stdout.write('\n')
      }
      // Raw mode: the characters are not echoed.
      const onData = (chunk: string) => {
        for (const ch of chunk) {
          if (ch === '\r' || ch === '\n') {
            done()
            resolve(typed)
            return
          }
          if (ch === '\u0003') {
            done()
            reject(new CliError('cancelled'))
            return
          }
          typed = ch === '\u007f' || ch === '\b' ? typed.slice(0, -1) : typed + ch
        }
      }
      stdin.setEncoding('utf8')
      stdin.setRawMode(true)
      stdin.resume()
      stdin.on('data', onData)
    })
  const a = await ask('password: ')
  const b = await ask('again: ')
  if (a !== b) throw new CliError('the two passwords differ')
  return a
}

class CliError extends Error {}

function arg<S extends z.ZodType>(schema: S, v: string | undefined, what: string): z.infer<S> {
  const r = schema.safeParse(v)
  if (!r.success) throw new CliError(`${what}: ${r.error.issues[0]?.message ?? 'missing'}`)
  return r.data
}

/** `gateway user …` and `gateway token …`: account and token management on the gateway's database. */
export async function runCli(cmd: 'user' | 'token', args: string[]): Promise<number> {
  const c = loadConfig(GatewayConfig)
  const auth = new Auth(c.HOMELAB_DATA_DIR, c.HOMELAB_ADMIN_TOKEN, sessionOptions(c))
  const out = (s: string) => process.stdout.write(`${s}\n`)
  const [sub, a, b] = args
  try {
    if (cmd === 'token') {
      if (sub === 'create' && a) {
        const t = auth.accounts.createToken(null, a, arg(Role, b, 'role'))
        out(t.token)
      } else if (sub === 'list') {
        for (const t of auth.accounts.tokens())
          out(`${t.id}  ${t.role.padEnd(8)}  ${t.name}${t.owner ? `  (for ${t.owner})` : ''}`)
      } else if (sub === 'delete' && a) {
        if (!auth.accounts.removeToken(a)) throw new CliError(`no token with id ${a}`)
      } else {
        process.stderr.write(TOKEN_USAGE)
        return 2
      }
      return 0
    }
    const name = () => arg(UserName, a, 'name')
    switch (sub) {
      case 'list':
        for (const u of auth.accounts.list())
          out(
            `${u.name.padEnd(24)} ${u.role.padEnd(8)} ${u.source.padEnd(5)} ${auth.sessionCount(u)} sessions`,
          )
        return 0
      case 'add': {
        const n = name()
        const role = arg(Role, b, 'role')
        const password = arg(NewPassword, await readPassword(), 'password')
        await auth.accounts.add(n, role, password)
        out(`added ${n} (${role})`)
        return 0
      }
      case 'passwd': {
        const n = name()
        if (!auth.accounts.get(n)) throw new CliError(`no user named "${n}"`)
        const password = arg(NewPassword, await readPassword(), 'password')
        await auth.accounts.setPassword(n, password)
        const ended = auth.endSessionsOf(n)
        out(`password of ${n} set; ${ended} sessions ended`)
        return 0
      }
      case 'role': {
        const n = name()
        if (!auth.accounts.setRole(n, arg(Role, b, 'role'))) throw new CliError(`no user named "${n}"`)
        out(`${n} is now ${b}`)
        return 0
      }
      case 'remove': {
        const n = name()
        const ended = auth.endSessionsOf(n)
        if (!auth.accounts.remove(n)) throw new CliError(`no user named "${n}"`)
        out(`removed ${n}; ${ended} sessions ended`)
        return 0
      }
      case 'logout': {
        const n = name()
        out(`${auth.endSessionsOf(n)} sessions of ${n} ended`)
        return 0
      }
      default:
        process.stderr.write(USAGE)
        return 2
    }
  } catch (e) {
    if (e instanceof CliError || e instanceof AccountConflict) {
      process.stderr.write(`error: ${e.message}\n`)
      return 1
    }
    throw e
  } finally {
    auth.close()
  }
}
