import { readFileSync, writeFileSync } from 'node:fs'
import { SystemReading } from '@homelab/contracts'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../../../test/helpers/stack.js'
import { HostReader } from './host-reader.js'
import { ProcFile } from './proc-file.js'
import { buildReading } from './sampler.js'

describe('reading this machine', () => {
  it('re-reads an open /proc file from the start and sees fresh content', async () => {
    const f = new ProcFile(['/proc/self/stat'])
    const a = await f.read()
    await new Promise((r) => setImmediate(r))
    for (let i = 0; i < 1e6; i++) Math.sqrt(i) // burn some CPU so utime moves
    const b = await f.read()
    expect(a.split(' ')[0]).toBe(String(process.pid))
    expect(b.split(' ')[0]).toBe(String(process.pid))
    await f.close()
  })

  it('reads a file larger than its buffer whole, and falls back to the next path', async () => {
    const dir = tempDir()
    const big = `${'x'.repeat(10_000)}\nend\n`
    writeFileSync(`${dir.path}/big`, big)
    const f = new ProcFile([`${dir.path}/missing`, `${dir.path}/big`])
    expect(await f.read()).toBe(big)
    await f.close()
    dir.remove()
  })

  it('builds a valid reading of this host from two real snapshots', async () => {
    const reader = new HostReader({ proc: '/proc', sys: '/sys', rootfs: '' })
    await reader.init()
    const a = await reader.read()
    await new Promise((r) => setTimeout(r, 200))
    const b = await reader.read()
    const reading = SystemReading.parse(buildReading(a, b, 'me', 1000))
    const kb = Number(/MemTotal:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))![1])
    expect(reading.memory.total).toBe(kb * 1024)
    expect(reading.cpu.cores.length).toBe(
      readFileSync('/proc/stat', 'utf8')
        .split('\n')
        .filter((l) => /^cpu\d/.test(l)).length,
    )
    expect(reading.filesystems.map((f) => f.mount)).toContain('/')
    await reader.close()
  })
})
