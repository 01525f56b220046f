import { type FileHandle, open } from 'node:fs/promises'

/**
 * A /proc or /sys file kept open and re-read from offset 0 on every tick: one pread per sample instead of
 * readFile's open, fstat, read and close (the kernel regenerates the content on each read from 0).
 */
export class ProcFile {
  private handle: FileHandle | null = null
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

  async close(): Promise<void> {
    const h = this.handle
    this.handle = null
    await h?.close().catch(() => undefined)
  }
}
