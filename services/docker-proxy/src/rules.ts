/**
 * The Docker API calls the docker-collector makes, and nothing else: reading the engine, its containers, their stats
 * and its event stream, a container's logs (read on demand by an operator); starting, stopping and restarting a container only when control is enabled. Everything else
 * (creating containers, exec, images, volumes, networks, the build API, …) is refused: whoever can call those is
 * root on the machine.
 */
const NAME = '[A-Za-z0-9][A-Za-z0-9_.-]{0,127}'
const READ: RegExp[] = [
  /^\/_ping$/,
  /^\/version$/,
  /^\/info$/,
  /^\/events$/,
  /^\/containers\/json$/,
  new RegExp(`^/containers/${NAME}/json$`),
  new RegExp(`^/containers/${NAME}/stats$`),
  new RegExp(`^/containers/${NAME}/logs$`),
]
const CONTROL = new RegExp(`^/containers/${NAME}/(?:start|stop|restart)$`)

export type Verdict = { allowed: true } | { allowed: false; reason: string }

/** Whether a request may pass. `url` is the request target (an API version prefix and a query are allowed). */
export function verdict(method: string, url: string, control: boolean): Verdict {
  const path = (url.split('?')[0] ?? '').replace(/^\/v\d+\.\d+(?=\/)/, '')
  if (path.includes('..') || path.includes('//'))
    return { allowed: false, reason: 'a path with ".." or "//"' }
  if ((method === 'GET' || method === 'HEAD') && READ.some((r) => r.test(path))) return { allowed: true }
  if (method === 'POST' && CONTROL.test(path)) {
    return control
      ? { allowed: true }
      : {
          allowed: false,
          reason:
            'starting, stopping and restarting containers is off (HOMELAB_DOCKER_PROXY_CONTROL=on enables it)',
        }
  }
  return { allowed: false, reason: `${method} ${path} is not something the docker-collector needs` }
}
