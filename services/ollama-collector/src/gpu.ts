import { execFile } from 'node:child_process'
import type { GpuDevice, GpuState } from '@homelab/contracts'

export const NVIDIA_QUERY = 'index,name,utilization.gpu,memory.used,memory.total,temperature.gpu'

/** One number of nvidia-smi's `--format=csv,noheader,nounits` output; "[N/A]", "[Not Supported]" → null. */
function num(s: string | undefined): number | null {
  if (s === undefined) return null
  const v = Number(s.trim())
  return s.trim() !== '' && Number.isFinite(v) ? v : null
}

/** Parses `nvidia-smi --query-gpu=<NVIDIA_QUERY> --format=csv,noheader,nounits` (memory in MiB → bytes). */
export function parseNvidiaSmi(out: string): GpuDevice[] {
  const devices: GpuDevice[] = []
  for (const line of out.split('\n')) {
    if (line.trim() === '') continue
    const f = line.split(',').map((s) => s.trim())
    if (f.length < 6) continue
    const index = num(f[0])
    if (index === null || !Number.isInteger(index) || index < 0) continue
    const mib = (s: string | undefined) => {
      const v = num(s)
      return v === null ? null : v * 1024 * 1024
    }
    const util = num(f[2])
    devices.push({
      index,
      name: (f[1] ?? '').slice(0, 128),
      utilization: util === null ? null : Math.min(100, Math.max(0, util)),
      memoryUsed: mib(f[3]),
      memoryTotal: mib(f[4]),
      temperature: num(f[5]),
    })
  }
  return devices.slice(0, 16)
}

/**
 * Reads NVIDIA GPUs through nvidia-smi (asynchronously: it can take 50–200 ms, never on the event loop). A machine
 * without the program or without a GPU is "not present", with the reason; nvidia-smi is not retried every interval
 * once it is known to be missing.
 */
export class GpuReader {
  private missing: string | null = null

  constructor(
    private readonly program: string,
    enabled: boolean,
  ) {
    if (!enabled) this.missing = 'GPU reading is off (HOMELAB_OLLAMA_GPU=off)'
  }

  read(): Promise<GpuState> {
    if (this.missing) return Promise.resolve({ present: false, reason: this.missing, devices: [] })
    return new Promise((resolve) => {
      execFile(
        this.program,
        [`--query-gpu=${NVIDIA_QUERY}`, '--format=csv,noheader,nounits'],
        { timeout: 5000, maxBuffer: 64 * 1024 },
        (err, stdout) => {
          if (err) {
            const code = (err as NodeJS.ErrnoException).code
            if (code === 'ENOENT') {
              this.missing = `no NVIDIA GPU: ${this.program} was not found`
              resolve({ present: false, reason: this.missing, devices: [] })
              return
            }
            resolve({
              present: false,
              reason: `nvidia-smi failed: ${(err.message.split('\n')[0] ?? '').slice(0, 300)}`,
              devices: [],
            })
            return
          }
          const devices = parseNvidiaSmi(stdout)
          resolve(
            devices.length
              ? { present: true, reason: null, devices }
              : { present: false, reason: 'nvidia-smi lists no GPU', devices: [] },
          )
        },
      )
    })
  }
}
