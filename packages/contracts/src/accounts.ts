import { z } from 'zod'

/** What a person or a script may do: viewers read, operators also run commands, admins also manage. */
export const Role = z.enum(['viewer', 'operator', 'admin'])
export type Role = z.infer<typeof Role>
const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 }
export const roleAtLeast = (has: Role, needed: Role): boolean => RANK[has] >= RANK[needed]
/** The lower of two roles (a token never has more rights than its owner has now). */
export const lowerRole = (a: Role, b: Role): Role => (RANK[a] <= RANK[b] ? a : b)

export const UserName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]*$/, 'use letters, digits and . _ @ - (starting with a letter or digit)')
export const NewPassword = z
  .string()
  .min(10, 'a password needs at least 10 characters')
  .max(1024, 'a password has at most 1,024 characters')

/** How a request proved who it is. `break-glass`: the admin token file (for when no account can log in). */
export const AuthMethod = z.enum(['password', 'token', 'break-glass', 'proxy', 'oidc'])
export type AuthMethod = z.infer<typeof AuthMethod>

export const LoginRequest = z.union([
  z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) }).strict(),
  z.object({ token: z.string().min(16).max(256) }).strict(),
])
export const Me = z.object({ name: z.string(), role: Role, via: AuthMethod })
export type Me = z.infer<typeof Me>

/** GET /api/auth/session: who is logged in, and what the login page should offer. */
export const SessionInfo = z.object({
  user: Me.nullable(),
  /** No account exists yet: the first admin is created with the setup link (or `npm run user -- add`). */
  setup: z.boolean(),
  /** A single sign-on provider is configured (GET /api/auth/oidc/login). */
  oidc: z.boolean(),
})
export type SessionInfo = z.infer<typeof SessionInfo>

export const SetupRequest = z
  .object({ code: z.string().min(16).max(128), username: UserName, password: NewPassword })
  .strict()
export const PasswordChange = z
  .object({ current: z.string().min(1).max(1024), password: NewPassword })
  .strict()

export const UserSource = z.enum(['local', 'sso'])
export const UserView = z.object({
  name: z.string(),
  role: Role,
  source: UserSource,
  createdAt: z.number().int(),
  lastLoginAt: z.number().int().nullable(),
  sessions: z.number().int().min(0),
})
export type UserView = z.infer<typeof UserView>
export const UsersResponse = z.object({ users: z.array(UserView) })
export const NewUser = z.object({ name: UserName, role: Role, password: NewPassword }).strict()
export const UserPatch = z
  .object({ role: Role.optional(), password: NewPassword.optional() })
  .strict()
  .refine((p) => p.role !== undefined || p.password !== undefined, 'give a role or a password')

export const TokenView = z.object({
  id: z.string(),
  name: z.string(),
  role: Role,
  /** The user it acts for (its rights never exceed theirs); null: made with the CLI or the break-glass token. */
  owner: z.string().nullable(),
  createdAt: z.number().int(),
  lastUsedAt: z.number().int().nullable(),
})
export type TokenView = z.infer<typeof TokenView>
export const TokensResponse = z.object({ tokens: z.array(TokenView) })
export const NewToken = z.object({ name: z.string().min(1).max(64), role: Role }).strict()
/** The answer to creating a token: the only time its secret is shown. */
export const CreatedToken = TokenView.extend({ token: z.string() })

/** The data of the access events (auth.*, user.*, token.*): who, how, from where, and who did it. */
export const AccessAudit = z
  .object({
    user: z.string().max(256),
    via: z.string().max(32).optional(),
    address: z.string().max(64).optional(),
    role: Role.optional(),
    by: z.string().max(256).optional(),
    reason: z.string().max(512).optional(),
    token: z.string().max(64).optional(),
  })
  .loose()
export const ACCESS_EVENT_TYPES = [
  'auth.login',
  'auth.login_failed',
  'auth.logout',
  'auth.logout_all',
  'auth.password_changed',
  'user.created',
  'user.changed',
  'user.removed',
  'token.created',
  'token.revoked',
] as const
