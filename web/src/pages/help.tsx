import { useEffect, useState } from 'preact/hooks'
import { z } from 'zod'
import { url } from '../base'

/**
 * The parts of the OpenAPI document this page shows (validated: a page never renders a shape it did not expect). A
 * JSON Schema may also be `true` or `false` (anything, nothing), as after a tuple's items.
 */
const JsonSchema: z.ZodType<JsonSchema> = z.lazy(() => z.union([z.boolean(), SchemaObject]))
const SchemaObject: z.ZodType<SchemaObject> = z.lazy(() =>
  z
    .object({
      $ref: z.string().optional(),
      type: z.union([z.string(), z.array(z.string())]).optional(),
      enum: z.array(z.unknown()).optional(),
      const: z.unknown().optional(),
      properties: z.record(z.string(), JsonSchema).optional(),
      required: z.array(z.string()).optional(),
      items: JsonSchema.optional(),
      prefixItems: z.array(JsonSchema).optional(),
      anyOf: z.array(JsonSchema).optional(),
      oneOf: z.array(JsonSchema).optional(),
      description: z.string().optional(),
      default: z.unknown().optional(),
    })
    .loose(),
)
type JsonSchema = boolean | SchemaObject
interface SchemaObject {
  $ref?: string | undefined
  type?: string | string[] | undefined
  enum?: unknown[] | undefined
  const?: unknown
  properties?: Record<string, JsonSchema> | undefined
  required?: string[] | undefined
  items?: JsonSchema | undefined
  prefixItems?: JsonSchema[] | undefined
  anyOf?: JsonSchema[] | undefined
  oneOf?: JsonSchema[] | undefined
  description?: string | undefined
  default?: unknown
}
const Content = z.record(z.string(), z.object({ schema: JsonSchema.optional() }))
const Operation = z.object({
  operationId: z.string(),
  tags: z.array(z.string()),
  summary: z.string(),
  description: z.string().default(''),
  'x-role': z.string(),
  parameters: z
    .array(
      z.object({
        name: z.string(),
        in: z.string(),
        required: z.boolean().default(false),
        schema: JsonSchema,
        description: z.string().optional(),
      }),
    )
    .default([]),
  requestBody: z.object({ content: Content }).optional(),
  responses: z.record(z.string(), z.object({ description: z.string(), content: Content.optional() })),
})
type Operation = z.infer<typeof Operation>
const Document = z.object({
  info: z.object({ title: z.string(), version: z.string(), description: z.string() }),
  tags: z.array(z.object({ name: z.string() })),
  paths: z.record(z.string(), z.record(z.string(), Operation)),
  components: z.object({ schemas: z.record(z.string(), JsonSchema) }),
})
type Document = z.infer<typeof Document>

/** A type in a line: `string`, `integer ≥ 0`, `"a" | "b"`, `Event[]`, `{ host, series }`. */
function typeText(s: JsonSchema | undefined, depth = 0): string {
  if (s === undefined || s === true) return 'any'
  if (s === false) return 'nothing'
  if (s.$ref) return s.$ref.replace('#/components/schemas/', '')
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ')
  if (s.const !== undefined) return JSON.stringify(s.const)
  const alternatives = s.anyOf ?? s.oneOf
  if (alternatives) return alternatives.map((a) => typeText(a, depth)).join(' | ')
  if (s.type === 'array' && s.prefixItems)
    return `[${s.prefixItems.map((i) => typeText(i, depth)).join(', ')}]`
  if (s.type === 'array') return `${typeText(s.items, depth)}[]`
  if (s.type === 'object' && s.properties) {
    const keys = Object.keys(s.properties)
    return depth > 0 ? `{ ${keys.join(', ')} }` : 'object'
  }
  return Array.isArray(s.type) ? s.type.join(' | ') : (s.type ?? 'any')
}

/** An object's fields, one row each, nested objects indented (two levels). */
function Fields({ s, doc, depth = 0 }: { s: JsonSchema; doc: Document; depth?: number }) {
  const deref = (x: JsonSchema | undefined): SchemaObject | null => {
    if (x === undefined || typeof x === 'boolean') return null
    return x.$ref
      ? (objectOf(doc.components.schemas[x.$ref.replace('#/components/schemas/', '')]) ?? null)
      : x
  }
  const target = deref(s)
  const resolved = target?.type === 'array' ? deref(target.items) : target
  if (!resolved?.properties) return <span class="mono small">{typeText(s, 1)}</span>
  return (
    <ul class="schema">
      {Object.entries(resolved.properties).map(([name, p]) => (
        <li key={name}>
          <span class="mono">
            {name}
            {resolved.required?.includes(name) ? '' : '?'}
          </span>{' '}
          <span class="muted mono small">{typeText(p, 1)}</span>
          {typeof p === 'object' && p.description && <span class="small"> — {p.description}</span>}
          {depth < 1 && hasFields(p) && <Fields s={p} doc={doc} depth={depth + 1} />}
        </li>
      ))}
    </ul>
  )
}

const objectOf = (s: JsonSchema | undefined): SchemaObject | undefined =>
  typeof s === 'object' ? s : undefined
const hasFields = (s: JsonSchema): boolean =>
  typeof s === 'object' && (s.properties !== undefined || objectOf(s.items)?.properties !== undefined)

function Endpoint({ method, path, op, doc }: { method: string; path: string; op: Operation; doc: Document }) {
  const body = op.requestBody?.content['application/json']?.schema
  return (
    <details class="endpoint" data-testid="endpoint" data-operation={op.operationId}>
      <summary>
        <span class={`method ${method}`}>{method.toUpperCase()}</span> <span class="mono">{path}</span>{' '}
        <span class="muted">{op.summary}</span>
      </summary>
      {op.description && <p class="small">{op.description}</p>}
      {op.parameters.length > 0 && (
        <table class="small">
          <tbody>
            {op.parameters.map((p) => (
              <tr key={`${p.in}:${p.name}`}>
                <td class="mono">
                  {p.name}
                  {p.required ? '' : '?'}
                </td>
                <td class="muted">{p.in}</td>
                <td class="mono">{typeText(p.schema, 1)}</td>
                <td>{p.description ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {body && (
        <>
          <h4>Body (JSON)</h4>
          <Fields s={body} doc={doc} />
        </>
      )}
      <h4>Answers</h4>
      <ul>
        {Object.entries(op.responses).map(([code, r]) => {
          const types = Object.entries(r.content ?? {})
          const schema = types[0]?.[1].schema
          return (
            <li key={code}>
              <strong>{code}</strong> {r.description}
              {types.length > 0 && <span class="muted mono small"> {types[0]?.[0]}</span>}
              {schema && code.startsWith('2') && <Fields s={schema} doc={doc} />}
            </li>
          )
        })}
      </ul>
    </details>
  )
}

/**
 * Help: the API as the gateway describes it (its OpenAPI document), readable — every endpoint by area, who may call
 * it, its parameters, body and answers — with a link to the document itself for tools (Postman, code generators).
 */
export function Help() {
  const [doc, setDoc] = useState<Document | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [filter, setFilter] = useState('')
  useEffect(() => {
    fetch(url('/api/openapi.json'))
      .then((r) => r.json())
      .then((j: unknown) => {
        const r = Document.safeParse(j)
        if (r.success) setDoc(r.data)
        else
          setError(
            `the API document did not read: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`,
          )
      })
      .catch((e: unknown) => setError(String(e)))
  }, [])
  const f = filter.trim().toLowerCase()
  return (
    <main class="stack narrow" data-testid="help-page">
      <div class="card">
        <h3>API</h3>
        <p>
          Everything the dashboard does goes through this API; scripts use it with an API token (the Account
          page, or <code>npm run token</code>) as <code>Authorization: Bearer …</code>. The machine-readable
          description is{' '}
          <a href={url('/api/openapi.json')} data-testid="openapi-link">
            openapi.json
          </a>{' '}
          (OpenAPI 3.1){doc ? `, version ${doc.info.version}` : ''}.
        </p>
        <input
          type="search"
          placeholder="Filter: alerts, logs, POST …"
          aria-label="filter endpoints"
          value={filter}
          onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
        />
        {error && <p class="error">{error}</p>}
      </div>
      {doc?.tags.map(({ name }) => {
        const ops = Object.entries(doc.paths).flatMap(([path, byMethod]) =>
          Object.entries(byMethod)
            .filter(
              ([method, op]) =>
                op.tags.includes(name) && (!f || `${method} ${path} ${op.summary}`.toLowerCase().includes(f)),
            )
            .map(([method, op]) => ({ method, path, op })),
        )
        if (ops.length === 0) return null
        return (
          <div class="card" key={name} data-testid="api-tag">
            <h3>{name}</h3>
            {ops.map((o) => (
              <Endpoint key={`${o.method} ${o.path}`} {...o} doc={doc} />
            ))}
          </div>
        )
      })}
    </main>
  )
}
