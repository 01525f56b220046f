import { closeSync, openSync, readSync } from 'node:fs'

/**
 * Reads a small kernel file (/proc, /sys) whole, synchronously, into `buf` (reused by the caller, so a sampling loop
 * allocates nothing per file); null when it is not there or cannot be read (a process that ended, a cgroup gone).
 */
export function readSmallFile(path: string, buf: Buffer): string | null {
  let fd: number
  try {
    fd = openSync(path, 'r')
  } catch {
    return null
  }
  try {
    const n = readSync(fd, buf, 0, buf.length, 0)
    return buf.toString('latin1', 0, n)
  } catch {
    return null
  } finally {
    closeSync(fd)
  }
}
