import { z } from 'zod'

/**
 * How deep and how big a JSON value is, found without recursion (a hostile document nested thousands deep cannot
 * overflow the stack here) and without walking further than `maxNodes` values.
 */
export function jsonExtent(
  value: unknown,
  maxNodes: number,
  maxDepth = Number.POSITIVE_INFINITY,
): { depth: number; nodes: number } {
  let depth = 0
  let nodes = 0
  const stack: Array<[unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [v, d] = stack.pop()!
    nodes++
    if (d > depth) depth = d
    if (nodes > maxNodes || depth > maxDepth) break
    if (v !== null && typeof v === 'object') {
      for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1])
    }
  }
  return { depth, nodes }
}

/**
 * A free-form JSON object (an event's type-specific `data`, a command's `params`) with bounds: at most `maxDepth`
 * levels of nesting and `maxNodes` values. Past them a document is refused at the schema, so whatever a consumer
 * accepts it can also store and serialize.
 */
export function boundedRecord(maxDepth = 8, maxNodes = 5000) {
  return z.record(z.string().max(128), z.unknown()).superRefine((v, ctx) => {
    const e = jsonExtent(v, maxNodes, maxDepth)
    if (e.depth > maxDepth) ctx.addIssue({ code: 'custom', message: `nested deeper than ${maxDepth} levels` })
    else if (e.nodes > maxNodes) ctx.addIssue({ code: 'custom', message: `more than ${maxNodes} values` })
  })
}
