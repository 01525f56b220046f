import type { HostSummary } from '@homelab/contracts'
import { ago } from '../format'

/** The monitor's own services on every host: online or not, their state and why, since when. */
export function Health({ hosts }: { hosts: HostSummary[] }) {
  return (
    <main class="stack narrow" data-testid="health-page">
      {hosts.length === 0 && <p class="muted">No service of the monitor has reported yet.</p>}
      {hosts.map((h) => (
        <div class="card" key={h.host}>
          <h3>
            {h.host} <span class="muted small">last heard {ago(h.lastSeen)}</span>
          </h3>
          <table class="cards" data-testid={`health-${h.host}`}>
            <thead>
              <tr>
                <th>service</th>
                <th>connection</th>
                <th>state</th>
                <th class="wide">why</th>
                <th>since</th>
              </tr>
            </thead>
            <tbody>
              {h.services.map((s) => (
                <tr key={s.service}>
                  <td>
                    <span
                      class={`dot ${s.availability === 'online' ? (s.state === 'ok' || s.state === null ? 'ok' : 'warn') : 'bad'}`}
                    />
                    {s.service}
                  </td>
                  <td data-label="connection">{s.availability}</td>
                  <td data-label="state">{s.state ?? '–'}</td>
                  <td class="small">{s.reason ?? ''}</td>
                  <td class="small" data-label="since">
                    {s.since === null ? '–' : ago(s.since)}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
    </main>
  )
}
