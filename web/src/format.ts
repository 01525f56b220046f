const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

/** A value formatter; `ticks` labels an axis's ticks together (given the step between them), when it has one. */
export type Fmt = ((v: number) => string) & { ticks?: (vals: readonly number[], step: number) => string[] }

function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–'
  let i = 0
  let v = n
  while (Math.abs(v) >= 1024 && i < UNITS.length - 1) {
    v /= 1024
    i++
  }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${UNITS[i]}`
}

export const bytes = Object.assign(formatBytes, {
  ticks: (vals: readonly number[], step: number) => byteTicks(vals, step),
})

export const rate = Object.assign(
  (n: number | null | undefined) => (n === null || n === undefined ? '–' : `${formatBytes(n)}/s`),
  { ticks: (vals: readonly number[], step: number) => byteTicks(vals, step, '/s') },
)

/** A percent axis/value: no decimals on the axis, one in values. */
export const percentFmt: Fmt = Object.assign((v: number) => `${v.toFixed(0)}%`, {
  ticks: (vals: readonly number[], step: number) => numberTicks(vals, step, '%'),
})

export const pct = (n: number | null | undefined) =>
  n === null || n === undefined ? '–' : `${n.toFixed(1)} %`

export function duration(sec: number): string {
  const d = Math.floor(sec / 86400)
  const h = Math.floor((sec % 86400) / 3600)
  const m = Math.floor((sec % 3600) / 60)
  if (sec < 60) return `${Math.max(0, Math.round(sec))}s`
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : `${m}m`
}

export function ago(ms: number | null): string {
  if (ms === null) return 'never'
  const s = Math.round((Date.now() - ms) / 1000)
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`
}

/**
 * Tick labels for a byte axis: one unit for all (the largest tick's) and as many decimals as the step between ticks
 * needs, so adjacent ticks never read the same ("24.1 GiB" eight times) and the unit is not repeated per magnitude.
 */
export function byteTicks(vals: readonly number[], step: number, suffix = ''): string[] {
  const top = Math.max(...vals.map((v) => Math.abs(v)), 0)
  let i = 0
  while (top >= 1024 ** (i + 1) && i < UNITS.length - 1) i++
  const unit = 1024 ** i
  const decimals = step > 0 ? Math.min(3, Math.max(0, Math.ceil(-Math.log10(step / unit) - 1e-9))) : 0
  return vals.map((v) => `${(v / unit).toFixed(decimals)} ${UNITS[i]}${suffix}`)
}

/** Plain number ticks with the decimals their step needs (0.25 steps: two; 5 steps: none). */
export function numberTicks(vals: readonly number[], step: number, suffix = ''): string[] {
  let decimals = 0
  while (
    decimals < 3 &&
    step > 0 &&
    Math.abs(step * 10 ** decimals - Math.round(step * 10 ** decimals)) > 1e-6
  )
    decimals++
  return vals.map((v) => `${v.toFixed(decimals)}${suffix}`)
}

const pad = (n: number) => String(n).padStart(2, '0')
const DAY = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' })

/**
 * Time ticks (ms): the time of day (with seconds when the step is under a minute), and the date under the first tick
 * and under each that starts a new day; only the date when ticks are a day or more apart. Same width for every tick,
 * so the first no longer runs into the second.
 */
export function timeTicks(vals: readonly number[], step: number): string[] {
  let lastDay = ''
  return vals.map((v) => {
    const d = new Date(v)
    const day = DAY.format(d)
    if (step >= 86_400_000) return day
    const time = `${pad(d.getHours())}:${pad(d.getMinutes())}${step < 60_000 ? `:${pad(d.getSeconds())}` : ''}`
    const label = day !== lastDay ? `${time}\n${day}` : time
    lastDay = day
    return label
  })
}
