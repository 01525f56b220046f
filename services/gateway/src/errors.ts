import type { z } from 'zod'

/** An error answered as `{ "error": { "code", "message" } }` with its HTTP status. */
export class ApiFailure extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 500 | 502 | 503 | 504,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message)
  }
}

/** Validates input with a zod schema, answering 400 with the first problem named. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(input)
  if (r.success) return r.data
  const issue = r.error.issues[0]
  const where = issue?.path.length ? issue.path.join('.') : what
  const message =
    issue?.code === 'unrecognized_keys'
      ? `unknown ${what} parameter(s): ${issue.keys.join(', ')}`
      : `${where}: ${issue?.message}`
  throw new ApiFailure(
    400,
    'bad_request',
    message,
    r.error.issues.slice(0, 5).map((i) => ({ path: i.path.join('.'), message: i.message })),
  )
}
