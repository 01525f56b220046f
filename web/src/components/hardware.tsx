import type { DiskInfo, DisksReading, UpsReading } from '@homelab/contracts'
import { ago, bytes, duration } from '../format'

const HEALTH_BADGE: Record<DiskInfo['health'], string> = { passed: 'ok', failed: 'bad', unknown: 'muted' }

/** Why a disk needs a look: SMART says FAILED, an attribute is failing, its sectors or media errors are not 0. */
function diskProblems(d: DiskInfo): string | null {
  const p: string[] = []
  if (d.health === 'failed') p.push('SMART health FAILED')
  if (d.failingAttributes.length > 0) p.push(`failing now: ${d.failingAttributes.join(', ')}`)
  if ((d.pendingSectors ?? 0) > 0) p.push(`${d.pendingSectors} pending sectors`)
  if ((d.uncorrectableSectors ?? 0) > 0) p.push(`${d.uncorrectableSectors} uncorrectable sectors`)
  if ((d.mediaErrors ?? 0) > 0) p.push(`${d.mediaErrors} media errors`)
  if ((d.criticalWarning ?? 0) > 0) p.push(`NVMe critical warning 0x${d.criticalWarning?.toString(16)}`)
  return p.length > 0 ? p.join(' · ') : null
}

/** Disk health as smartctl last read it: one row per disk, or what smartctl needs to read any. */
export function DiskHealthCard({ reading, stale }: { reading: DisksReading; stale: boolean }) {
  const { smartctl, disks } = reading
  return (
    <div class="card" data-testid="disk-health">
      <h3>
        Disk health{' '}
        <span class="muted small">
          S.M.A.R.T. · read {ago(reading.ts)}
          {stale ? ' (collector offline)' : ''}
        </span>
      </h3>
      {smartctl.reason && (
        <p class="muted small" data-testid="disk-health-reason">
          {smartctl.reason}
        </p>
      )}
      {disks.length > 0 && (
        <table class="cards" data-testid="disk-health-table">
          <thead>
            <tr>
              <th>disk</th>
              <th>health</th>
              <th class="num">temp</th>
              <th class="num">power on</th>
              <th class="num">sectors / wear</th>
            </tr>
          </thead>
          <tbody>
            {disks.map((d) => {
              const problem = diskProblems(d)
              return (
                <tr key={d.name} data-testid={`disk-${d.name}`}>
                  <td>
                    <span class="mono">{d.name}</span>{' '}
                    <span class="muted small">
                      {d.model ?? d.protocol}
                      {d.capacityBytes ? ` · ${bytes(d.capacityBytes)}` : ''}
                    </span>
                  </td>
                  <td data-label="health">
                    <span class={`badge ${HEALTH_BADGE[d.health]}`}>{d.health.toUpperCase()}</span>
                    {d.state !== 'active' && <span class="muted small"> {d.state}</span>}
                    {(problem ?? d.message) && <div class="muted small clamp">{problem ?? d.message}</div>}
                  </td>
                  <td class="num" data-label="temp">
                    {d.temperatureC === null ? '–' : `${d.temperatureC} °C`}
                  </td>
                  <td class="num" data-label="power on">
                    {d.powerOnHours === null ? '–' : `${d.powerOnHours.toLocaleString('en')} h`}
                  </td>
                  <td class="num" data-label="sectors / wear">
                    {d.usedPercent !== null
                      ? `${d.usedPercent}% used · ${d.mediaErrors ?? 0} errors`
                      : d.reallocatedSectors !== null
                        ? `${d.reallocatedSectors} realloc · ${d.pendingSectors ?? 0} pending`
                        : '–'}
                  </td>
                </tr>
              )
            })}
          </tbody>
        </table>
      )}
    </div>
  )
}

function powerState(u: UpsReading): { text: string; badge: string } {
  if (!u.reachable) return { text: 'unreachable', badge: 'muted' }
  if (u.lowBattery) return { text: 'low battery', badge: 'bad' }
  if (u.onBattery) return { text: 'on battery', badge: 'warn' }
  if (u.online) return { text: 'on line', badge: 'ok' }
  return { text: u.status ?? 'unknown', badge: 'muted' }
}

/** Every UPS of the host: power state, charge, runtime, load and input voltage. */
export function UpsCard({ ups, stale }: { ups: UpsReading[]; stale: boolean }) {
  return (
    <div class="card" data-testid="ups">
      <h3>
        UPS <span class="muted small">NUT{stale ? ' · collector offline' : ''}</span>
      </h3>
      <table class="cards">
        <tbody>
          {ups.map((u) => {
            const s = powerState(u)
            return (
              <tr key={u.ups.name} data-testid={`ups-${u.ups.name}`}>
                <td>
                  <span class="mono">{u.ups.name}</span>{' '}
                  <span class="muted small">{u.ups.model ?? u.ups.description ?? u.ups.server}</span>
                  <div>
                    <span class={`badge ${s.badge}`} data-testid={`ups-${u.ups.name}-state`}>
                      {s.text}
                    </span>{' '}
                    <span class="muted small">
                      {u.reachable ? `${u.status ?? ''} · since ${ago(u.since)}` : u.reason}
                    </span>
                  </div>
                </td>
                <td class="wide" data-label="charge">
                  <div class="bar" title="battery charge">
                    <div
                      style={{ width: `${u.chargePercent ?? 0}%` }}
                      class={(u.chargePercent ?? 100) < 30 ? 'hot' : ''}
                    />
                  </div>
                  <span class="small" data-testid={`ups-${u.ups.name}-charge`}>
                    {u.chargePercent === null ? '–' : `${u.chargePercent}%`}
                    {u.runtimeSec !== null ? ` · ${duration(u.runtimeSec)} left` : ''}
                  </span>
                </td>
                <td class="num" data-label="load">
                  {u.loadPercent === null ? '–' : `load ${u.loadPercent}%`}
                  <div class="muted small">{u.inputVoltage === null ? '' : `in ${u.inputVoltage} V`}</div>
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}
