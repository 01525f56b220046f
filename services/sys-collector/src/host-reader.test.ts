import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { SystemReading } from '@homelab/contracts'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../../../test/helpers/stack.js'
import { findSensors, HostReader } from './host-reader.js'
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

  it('reads every temperature sensor of a /sys tree: hwmon chips by their labels, thermal zones no chip covers', async () => {
    const dir = tempDir()
    const sys = `${dir.path}/sys`
    const put = (path: string, text: string) => {
      mkdirSync(dirname(`${sys}/${path}`), { recursive: true })
      writeFileSync(`${sys}/${path}`, `${text}\n`)
    }
    put('class/hwmon/hwmon0/name', 'coretemp')
    put('class/hwmon/hwmon0/temp1_input', '45000')
    put('class/hwmon/hwmon0/temp1_label', 'Package id 0')
    put('class/hwmon/hwmon0/temp2_input', '43500')
    put('class/hwmon/hwmon0/temp2_label', 'Core 0')
    put('class/hwmon/hwmon1/name', 'nvme')
    put('class/hwmon/hwmon1/temp1_input', '38850')
    put('class/hwmon/hwmon2/name', 'nvme')
    put('class/hwmon/hwmon2/temp1_input', '41000')
    put('class/thermal/thermal_zone0/type', 'acpitz')
    put('class/thermal/thermal_zone0/temp', '27800')
    put('class/thermal/thermal_zone1/type', 'coretemp')
    put('class/thermal/thermal_zone1/temp', '45000')
    put('class/thermal/thermal_zone2/type', 'broken')
    put('class/thermal/thermal_zone2/temp', 'not a number')
    expect((await findSensors(sys)).map((x) => x.name)).toStrictEqual([
      'coretemp Package id 0',
      'coretemp Core 0',
      'nvme temp1',
      'nvme temp1 #2',
      'thermal acpitz',
      'thermal broken',
    ])
    const reader = new HostReader({ proc: '/proc', sys, rootfs: '' })
    await reader.init()
    const a = await reader.read()
    const b = await reader.read()
    const reading = SystemReading.parse(buildReading(a, b, 'me', 1000))
    // The sensor that does not read as a number is left out, not reported as 0.
    expect(reading.temperatures).toStrictEqual([
      { sensor: 'coretemp Package id 0', celsius: 45 },
      { sensor: 'coretemp Core 0', celsius: 43.5 },
      { sensor: 'nvme temp1', celsius: 38.9 },
      { sensor: 'nvme temp1 #2', celsius: 41 },
      { sensor: 'thermal acpitz', celsius: 27.8 },
    ])
    expect(reading.cpuTemperature).toBe(45)
    await reader.close()
    dir.remove()
  })
})
