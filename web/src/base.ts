/**
 * The path the dashboard is served under ('' or `/monitor`), from the `<base>` the gateway writes into the page
 * (HOMELAB_BASE_PATH). Every API call, the live stream and every link go through `url()`.
 */
export const BASE = (document.querySelector('base')?.getAttribute('href') ?? '/').replace(/\/+$/, '')

export const url = (path: string): string => `${BASE}${path}`

/** The app's own path: the address bar's without the base (`/monitor/history` → `/history`). */
export function appPath(): string {
  const p = location.pathname
  return (p.startsWith(BASE) ? p.slice(BASE.length) : p) || '/'
}
