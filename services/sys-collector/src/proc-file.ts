import { closeSync, openSync, readSync } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'

/**
 * A /proc or /sys file kept open and re-read from offset 0 on every tick: one pread per sample instead of
 * readFile's open, fstat, read and close (the kernel regenerates the content on each read from 0).
 *
 * `readSync` is for /proc's own counters (stat, meminfo, loadavg…), which the kernel answers from memory in
 * microseconds: read on the event loop they cost no trip through libuv's thread pool and no extra wake-up of the
 * loop per file. `read` (asynchronous) is for sysfs sensors, whose driver may talk to a device (a SATA disk's drive
 * temperature, an I²C chip) and must never hold up the loop.
 */
export class ProcFile {
  private handle: FileHandle | null = null
  private fd: number | null = null
  private buf = Buffer.allocUnsafe(4096)

  constructor(private readonly paths: readonly string[]) {}

  private async openFirst(): Promise<FileHandle> {
    let last: unknown = null
    for (const p of this.paths) {
      try {
        return await open(p, 'r')
      } catch (e) {
        last = e
      }
    }
    throw last ?? new Error('no path')
  }

  private openFirstSync(): number {
    let last: unknown = null
    for (const p of this.paths) {
      try {
        return openSync(p, 'r')
      } catch (e) {
        last = e
      }
    }
    throw last ?? new Error('no path')
  }

  async read(): Promise<string> {
    for (let attempt = 0; attempt < 2; attempt++) {
      this.handle ??= await this.openFirst()
      try {
        for (;;) {
          const { bytesRead } = await this.handle.read(this.buf, 0, this.buf.length, 0)
          if (bytesRead < this.buf.length) return this.buf.toString('utf8', 0, bytesRead)
          this.buf = Buffer.allocUnsafe(this.buf.length * 2) // content larger than the buffer: grow and re-read
        }
      } catch (e) {
        // A handle that went bad (the file was replaced): reopen once.
        await this.close()
        if (attempt === 1) throw e
      }
    }
    throw new Error('unreachable')
  }

  readSync(): string {
    for (let attempt = 0; attempt < 2; attempt++) {
      this.fd ??= this.openFirstSync()
      try {
        for (;;) {
          const n = readSync(this.fd, this.buf, 0, this.buf.length, 0)
          if (n < this.buf.length) return this.buf.toString('utf8', 0, n)
          this.buf = Buffer.allocUnsafe(this.buf.length * 2)
        }
      } catch (e) {
        this.closeFd()
        if (attempt === 1) throw e
      }
    }
    throw new Error('unreachable')
  }

  private closeFd(): void {
    if (this.fd === null) return
    try {
      closeSync(this.fd)
    } catch {}
    this.fd = null
  }

  async close(): Promise<void> {
    this.closeFd()
    const h = this.handle
    this.handle = null
    await h?.close().catch(() => undefined)
  }
}
