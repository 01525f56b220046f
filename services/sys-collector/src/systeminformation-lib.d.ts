// Types for the three systeminformation modules this service imports one by one (the package's index loads all
// of its ~25 modules — Docker, Wi-Fi, printers, Bluetooth… — and its types describe only the index).
declare module 'systeminformation/lib/osinfo.js' {
  import type { Systeminformation } from 'systeminformation'
  export function osInfo(): Promise<Systeminformation.OsData>
  export function time(): Systeminformation.TimeData
}
declare module 'systeminformation/lib/system.js' {
  import type { Systeminformation } from 'systeminformation'
  export function system(): Promise<Systeminformation.SystemData>
}
declare module 'systeminformation/lib/cpu.js' {
  import type { Systeminformation } from 'systeminformation'
  export function cpu(): Promise<Systeminformation.CpuData>
}
