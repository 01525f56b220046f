import type { AddressInfo } from 'node:net'
import { type ParsedMail, simpleParser } from 'mailparser'
import { SMTPServer } from 'smtp-server'

/**
 * A real SMTP server on loopback (smtp-server, the one nodemailer's authors keep): STARTTLS on a plain port, or TLS
 * from the first byte (`secure`), AUTH PLAIN/LOGIN required before MAIL FROM, a recipient it refuses with 550, a
 * password it refuses with 535. Every accepted message is parsed (mailparser) for the test to check. Its TLS
 * certificate is the library's built-in self-signed one, so a client must be told not to verify it.
 */
export interface SmtpStandIn {
  port: number
  messages: { envelope: { from: string; to: string[] }; auth: string | null; mail: ParsedMail }[]
  close(): Promise<void>
}

export const SMTP_USER = 'alerts@example.org'
export const SMTP_PASSWORD = 'smtp-secret'
/** A recipient the server refuses (550). */
export const REFUSED_RECIPIENT = 'nobody@example.org'

export async function startSmtp(o: { secure: boolean }): Promise<SmtpStandIn> {
  const messages: SmtpStandIn['messages'] = []
  const server = new SMTPServer({
    secure: o.secure,
    // The built-in certificate: its warning is the point of this option, and this server is a test's.
    logger: false,
    authMethods: ['PLAIN', 'LOGIN'],
    authOptional: false,
    size: 1024 * 1024,
    onAuth(auth, _session, cb) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) cb(null, { user: auth.username })
      else cb(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }))
    },
    onRcptTo(address, _session, cb) {
      if (address.address === REFUSED_RECIPIENT)
        cb(
          Object.assign(new Error(`<${address.address}>: Recipient address rejected`), { responseCode: 550 }),
        )
      else cb()
    },
    onData(stream, session, cb) {
      simpleParser(stream).then(
        (mail) => {
          messages.push({
            envelope: {
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
            },
            auth: typeof session.user === 'string' ? session.user : null,
            mail,
          })
          cb()
        },
        (e: Error) => cb(e),
      )
    },
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const { port } = server.server.address() as AddressInfo
  return {
    port,
    messages,
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}
