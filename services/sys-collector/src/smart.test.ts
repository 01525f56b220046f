import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { diskChanges, parseDevice, parseScan, type ScannedDevice } from './smart.js'

/** smartctl 7.3's JSON for a SATA and an NVMe disk, as documented (https://www.smartmontools.org/wiki/JSON). */
const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(join(import.meta.dirname, '../../../test/fixtures/smartctl', name), 'utf8'))

const sda: ScannedDevice = { name: 'sda', device: '/dev/sda', type: 'sat', protocol: 'ATA', openError: null }
const nvme0: ScannedDevice = {
  name: 'nvme0',
  device: '/dev/nvme0',
  type: 'nvme',
  protocol: 'NVMe',
  openError: null,
}

describe('smartctl --json', () => {
  it('reads a healthy SATA disk: health, temperature, hours, cycles, the three sector counts', () => {
    const p = parseDevice(fixture('sata.json'), sda, 1000)
    expect(p.kind).toBe('disk')
    if (p.kind !== 'disk') return
    expect(p.disk).toMatchObject({
      name: 'sda',
      protocol: 'ATA',
      model: 'WDC WD40EFRX-68N32N0',
      serial: 'WD-WCC7K1234567',
      firmware: '82.00A82',
      capacityBytes: 4000787030016,
      state: 'active',
      health: 'passed',
      temperatureC: 37,
      powerOnHours: 28731,
      powerCycles: 61,
      reallocatedSectors: 0,
      pendingSectors: 0,
      uncorrectableSectors: 0,
      usedPercent: null,
      mediaErrors: null,
      failingAttributes: [],
      message: null,
      readAt: 1000,
    })
  })

  it('reads a failing SATA disk: FAILED, the attribute failing now, its counts', () => {
    const p = parseDevice(fixture('sata-failing.json'), sda, 1000)
    if (p.kind !== 'disk') throw new Error(`not a disk: ${p.kind}`)
    expect(p.disk.health).toBe('failed')
    expect(p.disk.failingAttributes).toEqual(['Reallocated_Sector_Ct'])
    expect(p.disk.reallocatedSectors).toBe(1872)
    expect(p.disk.pendingSectors).toBe(16)
    expect(p.disk.uncorrectableSectors).toBe(3)
  })

  it('reads an NVMe disk: wear, media errors, critical warning, its own health log', () => {
    const p = parseDevice(fixture('nvme.json'), nvme0, 1000)
    if (p.kind !== 'disk') throw new Error(`not a disk: ${p.kind}`)
    expect(p.disk).toMatchObject({
      protocol: 'NVMe',
      model: 'Samsung SSD 970 EVO Plus 1TB',
      capacityBytes: 1000204886016,
      health: 'passed',
      temperatureC: 41,
      powerOnHours: 11235,
      powerCycles: 812,
      usedPercent: 7,
      mediaErrors: 0,
      criticalWarning: 0,
      reallocatedSectors: null,
    })
  })

  it('does not wake a disk in standby: says so, reads nothing', () => {
    expect(parseDevice(fixture('sata-standby.json'), sda, 1000)).toEqual({
      kind: 'standby',
      message: 'Device is in STANDBY mode, exit(2)',
    })
  })

  it('keeps output it does not understand as unknown, naming where', () => {
    const bad = fixture('sata.json') as { temperature: unknown }
    bad.temperature = { current: 'hot' }
    const p = parseDevice(bad, sda, 1000)
    expect(p).toEqual({ kind: 'unknown', message: expect.stringContaining('temperature.current') })
    expect(parseDevice({ json_format_version: [2, 0], smartctl: { exit_status: 0 } }, sda, 1).kind).toBe(
      'unknown',
    )
    expect(parseDevice('Segmentation fault', sda, 1).kind).toBe('unknown')
  })

  it('names a device it could not open', () => {
    const p = parseDevice(
      {
        json_format_version: [1, 0],
        smartctl: {
          messages: [
            { string: 'Smartctl open device: /dev/sda failed: Permission denied', severity: 'error' },
          ],
          exit_status: 2,
        },
      },
      sda,
      1,
    )
    expect(p).toEqual({ kind: 'error', message: 'Smartctl open device: /dev/sda failed: Permission denied' })
  })

  it('lists the devices of --scan-open, disambiguating names', () => {
    const s = parseScan({
      json_format_version: [1, 0],
      smartctl: { version: [7, 3], exit_status: 0 },
      devices: [
        { name: '/dev/sda', info_name: '/dev/sda [SAT]', type: 'sat', protocol: 'ATA' },
        { name: '/dev/nvme0', info_name: '/dev/nvme0', type: 'nvme', protocol: 'NVMe' },
        {
          name: '/dev/bus/0',
          info_name: '/dev/bus/0 [megaraid_disk_00]',
          type: 'megaraid,0',
          protocol: 'SCSI',
        },
        {
          name: '/dev/bus/0',
          info_name: '/dev/bus/0 [megaraid_disk_01]',
          type: 'megaraid,1',
          protocol: 'SCSI',
        },
      ],
    })
    expect(s?.version).toBe('7.3')
    expect(s?.devices.map((d) => d.name)).toEqual(['sda', 'nvme0', '0', '0-megaraid_1'])
  })

  it('raises health changes and rising counts, not noise', () => {
    const ok = parseDevice(fixture('sata.json'), sda, 1)
    const bad = parseDevice(fixture('sata-failing.json'), sda, 2)
    if (ok.kind !== 'disk' || bad.kind !== 'disk') throw new Error('fixtures')
    expect(diskChanges(undefined, ok.disk)).toEqual([])
    expect(diskChanges(ok.disk, ok.disk)).toEqual([])
    expect(diskChanges(ok.disk, bad.disk)).toEqual([
      { type: 'disk.health_changed', from: 'passed', to: 'failed' },
      { type: 'disk.sectors_rising', from: 0, to: 1872, field: 'reallocatedSectors' },
      { type: 'disk.sectors_rising', from: 0, to: 16, field: 'pendingSectors' },
      { type: 'disk.sectors_rising', from: 0, to: 3, field: 'uncorrectableSectors' },
    ])
    expect(diskChanges(bad.disk, { ...bad.disk, state: 'standby' })).toEqual([])
  })
})
