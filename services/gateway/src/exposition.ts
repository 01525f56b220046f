import type { LiveMessage, LiveReading, ReadingDocs } from '@homelab/contracts'

/**
 * The Prometheus text exposition (format 0.0.4) of everything the gateway holds now: the latest reading of every
 * host, container, unit and Ollama, the open alerts and the monitor's own services. It is built from the live view
 * (no database read), so a scrape costs one pass over a few hundred documents.
 *
 * Names: where a quantity means what node_exporter's metric of that name means, it has that name (node_load1,
 * node_memory_MemAvailable_bytes, node_filesystem_avail_bytes, node_network_receive_bytes_total, node_uname_info, …),
 * so dashboards built on node_exporter show them; containers use cAdvisor's names where they match
 * (container_memory_usage_bytes, …). Everything else is `homelab_*`. Every series has a `host` label; label sets are
 * fixed per metric, and the number of series is bounded by what the contracts bound (interfaces, filesystems,
 * sensors ≤ 256 per host; one set per container, unit and open alert). docs/prometheus.md lists them all.
 */

type Labels = Readonly<Record<string, string>>
type Kind = 'gauge' | 'counter'

interface Family {
  help: string
  type: Kind
  lines: string[]
}

/** A label value as the text format needs it: backslash, quote and newline escaped; cut at 256 characters. */
function labelValue(v: string): string {
  return v.slice(0, 256).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function number(v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Number.POSITIVE_INFINITY) return '+Inf'
  if (v === Number.NEGATIVE_INFINITY) return '-Inf'
  return String(v)
}

class Exposition {
  private readonly families = new Map<string, Family>()

  add(name: string, type: Kind, help: string, labels: Labels, value: number | null | undefined): void {
    if (value === null || value === undefined) return
    let f = this.families.get(name)
    if (!f) {
      f = { help, type, lines: [] }
      this.families.set(name, f)
    }
    const l = Object.entries(labels)
      .map(([k, v]) => `${k}="${labelValue(v)}"`)
      .join(',')
    f.lines.push(`${name}{${l}} ${number(value)}`)
  }

  text(): string {
    const out: string[] = []
    for (const [name, f] of this.families) {
      out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`, ...f.lines)
    }
    return `${out.join('\n')}\n`
  }
}

const seconds = (ms: number) => ms / 1000

function system(x: Exposition, r: ReadingDocs['system'], now: number): void {
  const host = { host: r.host }
  x.add('node_load1', 'gauge', '1m load average.', host, r.load[0])
  x.add('node_load5', 'gauge', '5m load average.', host, r.load[1])
  x.add('node_load15', 'gauge', '15m load average.', host, r.load[2])
  x.add(
    'node_memory_MemTotal_bytes',
    'gauge',
    'Memory information field MemTotal_bytes.',
    host,
    r.memory.total,
  )
  x.add(
    'node_memory_MemAvailable_bytes',
    'gauge',
    'Memory information field MemAvailable_bytes.',
    host,
    r.memory.available,
  )
  x.add(
    'node_memory_SwapTotal_bytes',
    'gauge',
    'Memory information field SwapTotal_bytes.',
    host,
    r.memory.swapTotal,
  )
  x.add(
    'node_memory_SwapFree_bytes',
    'gauge',
    'Memory information field SwapFree_bytes.',
    host,
    r.memory.swapTotal - r.memory.swapUsed,
  )
  x.add(
    'node_time_seconds',
    'gauge',
    'System time in seconds since epoch (1970), at the reading.',
    host,
    seconds(r.ts),
  )
  for (const f of r.filesystems) {
    const l = { host: r.host, device: f.device, fstype: f.fsType, mountpoint: f.mount }
    x.add('node_filesystem_size_bytes', 'gauge', 'Filesystem size in bytes.', l, f.total)
    x.add(
      'node_filesystem_avail_bytes',
      'gauge',
      'Filesystem space available to non-root users in bytes.',
      l,
      f.available,
    )
    x.add(
      'node_filesystem_free_bytes',
      'gauge',
      'Filesystem free space in bytes.',
      l,
      Math.max(0, f.total - f.used),
    )
  }
  for (const n of r.network) {
    const l = { host: r.host, device: n.iface }
    x.add(
      'node_network_receive_bytes_total',
      'counter',
      'Network device statistic receive_bytes.',
      l,
      n.rxBytes,
    )
    x.add(
      'node_network_transmit_bytes_total',
      'counter',
      'Network device statistic transmit_bytes.',
      l,
      n.txBytes,
    )
  }
  const cpu = 'CPU use over the last interval, percent of all cores, by mode.'
  x.add('homelab_cpu_usage_percent', 'gauge', cpu, { host: r.host, mode: 'all' }, r.cpu.usage)
  x.add('homelab_cpu_usage_percent', 'gauge', cpu, { host: r.host, mode: 'user' }, r.cpu.user)
  x.add('homelab_cpu_usage_percent', 'gauge', cpu, { host: r.host, mode: 'system' }, r.cpu.system)
  x.add('homelab_cpu_usage_percent', 'gauge', cpu, { host: r.host, mode: 'iowait' }, r.cpu.iowait)
  for (const [i, v] of r.cpu.cores.entries())
    x.add(
      'homelab_cpu_core_usage_percent',
      'gauge',
      'CPU use of one core over the last interval, percent.',
      { host: r.host, cpu: String(i) },
      v,
    )
  x.add('homelab_memory_used_bytes', 'gauge', 'Memory in use (total less available).', host, r.memory.used)
  x.add('homelab_cpu_temperature_celsius', 'gauge', 'CPU temperature.', host, r.cpuTemperature)
  for (const t of r.temperatures)
    x.add(
      'homelab_temperature_celsius',
      'gauge',
      'A temperature sensor.',
      { host: r.host, sensor: t.sensor },
      t.celsius,
    )
  for (const d of r.disks) {
    const l = { host: r.host, device: d.name }
    x.add(
      'homelab_disk_read_bytes_per_second',
      'gauge',
      'Disk reads over the last interval.',
      l,
      d.readBytesPerSec,
    )
    x.add(
      'homelab_disk_written_bytes_per_second',
      'gauge',
      'Disk writes over the last interval.',
      l,
      d.writeBytesPerSec,
    )
  }
  x.add('homelab_uptime_seconds', 'gauge', 'Seconds since the host booted.', host, r.uptimeSec)
  x.add(
    'homelab_reading_age_seconds',
    'gauge',
    "Seconds since the host's latest system reading (its collector's freshness).",
    host,
    Math.max(0, seconds(now - r.ts)),
  )
}

function facts(x: Exposition, f: ReadingDocs['facts']): void {
  x.add(
    'node_uname_info',
    'gauge',
    'Labeled system information as provided by the uname system call.',
    { host: f.host, nodename: f.hostname, release: f.kernel, machine: f.arch, sysname: 'Linux' },
    1,
  )
  x.add(
    'node_boot_time_seconds',
    'gauge',
    'Node boot time, in unixtime.',
    { host: f.host },
    Math.round(seconds(f.bootTime)),
  )
}

function container(x: Exposition, r: ReadingDocs['container']): void {
  const c = r.container
  const l = { host: r.host, name: c.name, image: c.image }
  x.add('homelab_container_running', 'gauge', '1 while the container runs.', l, c.state === 'running' ? 1 : 0)
  x.add(
    'homelab_container_state',
    'gauge',
    "The container's state (1 for the current one).",
    { ...l, state: c.state },
    1,
  )
  x.add(
    'homelab_container_healthy',
    'gauge',
    '1 healthy, 0 unhealthy; absent without a healthcheck or while it starts.',
    l,
    c.health === 'healthy' ? 1 : c.health === 'unhealthy' ? 0 : null,
  )
  x.add(
    'homelab_container_restarts_total',
    'counter',
    'Restarts by Docker (restart policy).',
    l,
    c.restartCount,
  )
  x.add(
    'homelab_container_oom_killed',
    'gauge',
    '1 when the last run was killed for memory.',
    l,
    c.oomKilled ? 1 : 0,
  )
  const s = r.stats
  if (!s) return
  x.add('container_memory_usage_bytes', 'gauge', 'Current memory usage in bytes.', l, s.memoryUsed)
  x.add('container_spec_memory_limit_bytes', 'gauge', 'Memory limit for the container.', l, s.memoryLimit)
  x.add(
    'container_network_receive_bytes_total',
    'counter',
    'Cumulative count of bytes received.',
    l,
    s.networkRx,
  )
  x.add(
    'container_network_transmit_bytes_total',
    'counter',
    'Cumulative count of bytes transmitted.',
    l,
    s.networkTx,
  )
  x.add('container_fs_reads_bytes_total', 'counter', 'Cumulative count of bytes read.', l, s.blockRead)
  x.add('container_fs_writes_bytes_total', 'counter', 'Cumulative count of bytes written.', l, s.blockWrite)
  x.add('container_processes', 'gauge', 'Number of processes running inside the container.', l, s.pids)
  x.add(
    'container_last_seen',
    'gauge',
    'Last time the container was seen by the exporter.',
    l,
    Math.round(seconds(r.ts)),
  )
  x.add(
    'homelab_container_cpu_percent',
    'gauge',
    'CPU use over the last interval, percent of one core (as docker stats shows it).',
    l,
    s.cpuPercent,
  )
}

function unit(x: Exposition, r: ReadingDocs['unit']): void {
  const u = r.unit
  const l = { host: r.host, unit: u.name }
  x.add('homelab_unit_active', 'gauge', '1 while the unit is active.', l, u.activeState === 'active' ? 1 : 0)
  x.add(
    'homelab_unit_state',
    'gauge',
    "The unit's active state (1 for the current one).",
    { ...l, state: u.activeState },
    1,
  )
  x.add('homelab_unit_restarts_total', 'counter', 'Restarts by systemd (NRestarts).', l, u.nRestarts)
  x.add('homelab_unit_memory_bytes', 'gauge', "The unit's memory (MemoryCurrent).", l, r.stats.memoryBytes)
  x.add(
    'homelab_unit_cpu_percent',
    'gauge',
    'CPU use over the last interval, percent of one core.',
    l,
    r.stats.cpuPercent,
  )
  x.add('homelab_unit_tasks', 'gauge', "The unit's tasks (TasksCurrent).", l, r.stats.tasks)
}

function ollama(x: Exposition, r: ReadingDocs['ollama']): void {
  const l = { host: r.host }
  x.add('homelab_ollama_up', 'gauge', '1 while Ollama answers.', l, r.up ? 1 : 0)
  x.add('homelab_ollama_models_installed', 'gauge', 'Installed models.', l, r.installed.length)
  x.add('homelab_ollama_models_loaded', 'gauge', 'Models loaded in memory.', l, r.loaded.length)
  for (const m of r.loaded)
    x.add(
      'homelab_ollama_model_loaded_bytes',
      'gauge',
      'Memory of a loaded model.',
      { host: r.host, model: m.name },
      m.size,
    )
  if (r.proxy) {
    x.add(
      'homelab_ollama_requests_total',
      'counter',
      'Requests through the measuring proxy.',
      l,
      r.proxy.requests,
    )
    x.add(
      'homelab_ollama_request_errors_total',
      'counter',
      'Failed requests through the proxy.',
      l,
      r.proxy.errors,
    )
    x.add(
      'homelab_ollama_inferences_active',
      'gauge',
      'Inference requests in flight.',
      l,
      r.proxy.activeInferences,
    )
  }
  x.add(
    'homelab_ollama_last_tokens_per_second',
    'gauge',
    'Generation speed of the latest measured request.',
    l,
    r.lastInference?.tokensPerSecond,
  )
}

function alerts(x: Exposition, r: ReadingDocs['alerts']): void {
  const l = { host: r.host }
  x.add('homelab_alerts_firing', 'gauge', 'Open alerts that fire.', l, r.firing)
  x.add(
    'homelab_alerts_pending',
    'gauge',
    'Open alerts whose condition holds, not yet for its duration.',
    l,
    r.pending,
  )
}

function alert(x: Exposition, r: ReadingDocs['alert']): void {
  const a = r.alert
  x.add(
    'homelab_alert',
    'gauge',
    'An open alert: 1 firing, 0 pending (the host label is the host it concerns).',
    { host: a.host, rule: a.rule, name: a.name, severity: a.severity, subject: a.subject },
    a.state === 'firing' ? 1 : 0,
  )
}

/** The series of one reading (a cleared one, of a removed container, has none). */
function reading(x: Exposition, m: LiveReading, now: number): void {
  switch (m.kind) {
    case 'facts':
      if (m.payload) facts(x, m.payload)
      return
    case 'system':
      if (m.payload) system(x, m.payload, now)
      return
    case 'container':
      if (m.payload) container(x, m.payload)
      return
    case 'unit':
      if (m.payload) unit(x, m.payload)
      return
    case 'ollama':
      if (m.payload) ollama(x, m.payload)
      return
    case 'alerts':
      if (m.payload) alerts(x, m.payload)
      return
    case 'alert':
      if (m.payload) alert(x, m.payload)
      return
  }
}

/** Counters the monitor's services report in their status, as `homelab_service_reported_total{counter=…}`. */
const COUNTER_NAME = /^[a-z0-9_.:-]{1,64}$/i

export function exposition(messages: readonly LiveMessage[], now: number): string {
  const x = new Exposition()
  for (const m of messages) {
    if (m.channel === 'reading') reading(x, m, now)
    const l = { host: m.host, service: m.service }
    if (m.channel === 'availability')
      x.add(
        'homelab_service_up',
        'gauge',
        '1 while a service of the monitor is online.',
        l,
        m.payload === 'online' ? 1 : 0,
      )
    if (m.channel === 'status' && m.payload) {
      x.add(
        'homelab_service_degraded',
        'gauge',
        '1 while a service of the monitor reports degraded or unavailable.',
        l,
        m.payload.state === 'ok' ? 0 : 1,
      )
      x.add(
        'homelab_service_start_time_seconds',
        'gauge',
        'When the service started.',
        l,
        Math.round(seconds(m.payload.startedAt)),
      )
      const counters = m.payload.counters
      if (m.service === 'recorder') {
        x.add(
          'homelab_messages_stored_total',
          'counter',
          'Messages the recorder stored.',
          l,
          counters['messages.stored'] ?? 0,
        )
        x.add(
          'homelab_messages_quarantined_total',
          'counter',
          'Messages the recorder refused and kept aside (invalid, oversized, …).',
          l,
          counters['messages.quarantined'] ?? 0,
        )
      }
      for (const [name, v] of Object.entries(counters)) {
        if (!COUNTER_NAME.test(name)) continue
        x.add(
          'homelab_service_reported_total',
          'counter',
          "A service's own counter at its last status (messages stored, quarantined, refused, …).",
          { ...l, counter: name },
          v,
        )
      }
    }
  }
  return x.text()
}
