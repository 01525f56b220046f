import type { Server } from 'node:http'
import Provider from 'oidc-provider'
import { freePort } from './net.js'

export interface TestIssuer {
  issuer: string
  clientId: string
  clientSecret: string
  stop(): Promise<void>
}

/**
 * A real OpenID Connect provider (oidc-provider, OpenID-certified) on a loopback port, with one confidential client
 * for the gateway (and one for another application). Its built-in development login page accepts any login name with any password; the account's
 * groups claim is `homelab-admins` for names starting with "admin", `homelab-ops` for "ops", else `family`.
 */
export async function startIssuer(redirectUri: string): Promise<TestIssuer> {
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const clientId = 'homelab'
  const clientSecret = 'a-client-secret-for-the-oidc-test-0001'
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
      // Another application at the same provider: a code issued to it must not log anyone in to the gateway.
      {
        client_id: 'other-app',
        client_secret: 'the-other-apps-secret-000000000000',
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    async findAccount(_ctx, id) {
      const groups = id.startsWith('admin')
        ? ['homelab-admins']
        : id.startsWith('ops')
          ? ['homelab-ops']
          : ['family']
      return {
        accountId: id,
        claims: async () => ({ sub: id, preferred_username: id, groups }),
      }
    },
    claims: { openid: ['sub'], profile: ['preferred_username'], groups: ['groups'] },
    scopes: ['openid', 'profile', 'groups'],
    cookies: { keys: ['oidc-test-cookie-key-0000000000000'] },
  })
  const server: Server = provider.listen(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => {
    server.once('listening', () => resolve())
    server.once('error', reject)
  })
  return {
    issuer,
    clientId,
    clientSecret,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
