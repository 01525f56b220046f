import type { ContainerView, ProcessesReading, ProcessInfo } from '@homelab/contracts'
import { useMemo, useState } from 'preact/hooks'
import { url } from '../base'
import { ago, bytes } from '../format'
import { Empty } from './empty'

type SortKey = 'cpu' | 'rss' | 'pid' | 'name' | 'user'

const VALUE: Record<SortKey, (p: ProcessInfo) => number | string> = {
  cpu: (p) => p.cpuPercent,
  rss: (p) => p.rss,
  pid: (p) => p.pid,
  name: (p) => p.name.toLowerCase(),
  user: (p) => p.user,
}

/**
 * The host's top processes by CPU and by memory, live from the sys-collector's `reading/processes`: sortable,
 * searchable (name, command, user, container, unit), with the container each one runs in.
 */
export function Processes({
  reading,
  containers,
}: {
  reading: ProcessesReading | null
  containers: ContainerView[] | null
}) {
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: 'cpu', desc: true })
  const [q, setQ] = useState('')
  const names = useMemo(() => {
    const m = new Map<string, string>()
    for (const c of containers ?? []) {
      m.set(c.containerId, c.containerName)
      m.set(c.containerId.slice(0, 12), c.containerName)
    }
    return m
  }, [containers])
  const containerOf = (p: ProcessInfo) =>
    p.containerId
      ? (names.get(p.containerId) ?? names.get(p.containerId.slice(0, 12)) ?? p.containerId.slice(0, 12))
      : null

  const rows = useMemo(() => {
    if (!reading) return []
    const f = q.trim().toLowerCase()
    const list = reading.processes.filter(
      (p) =>
        !f ||
        `${p.pid} ${p.name} ${p.command} ${p.user} ${containerOf(p) ?? ''} ${p.unit ?? ''}`
          .toLowerCase()
          .includes(f),
    )
    const v = VALUE[sort.key]
    return list.sort((a, b) => {
      const x = v(a)
      const y = v(b)
      const c = typeof x === 'string' && typeof y === 'string' ? x.localeCompare(y) : Number(x) - Number(y)
      return (sort.desc ? -c : c) || a.pid - b.pid
    })
  }, [reading, q, sort, names])

  const head = (key: SortKey, label: string, num = false) => (
    <th
      class={num ? 'num' : undefined}
      aria-sort={sort.key === key ? (sort.desc ? 'descending' : 'ascending') : 'none'}
    >
      <button
        type="button"
        class="ghost sort"
        data-testid={`proc-sort-${key}`}
        onClick={() => setSort({ key, desc: sort.key === key ? !sort.desc : num })}
      >
        {label}
        {sort.key === key ? (sort.desc ? ' ↓' : ' ↑') : ''}
      </button>
    </th>
  )

  return (
    <div class="card full" data-testid="processes-card">
      <h3>
        Processes{' '}
        {reading && (
          <span class="muted small" data-testid="process-counts">
            {reading.total} processes · {reading.running} running · {reading.threads} threads · top{' '}
            {reading.top} by CPU and by memory · {ago(reading.ts)}
          </span>
        )}
      </h3>
      {!reading ? (
        <Empty testId="processes-empty">
          No processes reading yet: the sys-collector sends the top processes with every sample, unless{' '}
          <code>HOMELAB_PROCESSES_TOP</code> is 0.
        </Empty>
      ) : (
        <>
          <div class="toolbar">
            <input
              type="search"
              placeholder="search name, command, user, container"
              aria-label="search processes"
              value={q}
              onInput={(e) => setQ((e.target as HTMLInputElement).value)}
            />
          </div>
          {rows.length === 0 && <Empty testId="processes-nomatch">No listed process matches “{q}”.</Empty>}
          <div class="scroll">
            <table class="cards" data-testid="processes" hidden={rows.length === 0}>
              <thead>
                <tr>
                  {head('pid', 'PID', true)}
                  {head('name', 'process')}
                  {head('user', 'user')}
                  {head('cpu', 'CPU', true)}
                  {head('rss', 'memory', true)}
                  <th>state</th>
                  <th>container / unit</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((p) => {
                  const container = containerOf(p)
                  return (
                    <tr key={p.pid} data-testid={`proc-${p.pid}`}>
                      <td class="num mono" data-label="pid">
                        {p.pid}
                      </td>
                      <td class="ellipsis" title={p.command}>
                        <strong class="mono">{p.name}</strong>{' '}
                        <span class="muted small mono">{p.command}</span>
                      </td>
                      <td class="small" data-label="user">
                        {p.user}
                      </td>
                      <td class="num" data-label="CPU">
                        {p.cpuPercent.toFixed(1)}%
                      </td>
                      <td class="num" data-label="memory">
                        {bytes(p.rss)}
                      </td>
                      <td class="small" data-label="state">
                        {p.state} · {p.threads} thr
                      </td>
                      <td class="small mono ellipsis" data-label="in">
                        {container ? (
                          <a
                            href={url(`/containers/${encodeURIComponent(container)}`)}
                            data-testid="proc-container"
                          >
                            {container}
                          </a>
                        ) : (
                          (p.unit ?? '–')
                        )}
                      </td>
                    </tr>
                  )
                })}
              </tbody>
            </table>
          </div>
          <p class="muted small">
            CPU is % of one core over the last interval (200% is two cores). History keeps the busiest names
            as <code>proc.cpu</code> and <code>proc.rss</code>.
          </p>
        </>
      )}
    </div>
  )
}
