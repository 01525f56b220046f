import { describe, expect, it } from 'vitest'
import {
  cpuPercent,
  hostMounts,
  parseDiskstats,
  parseLoadavg,
  parseMeminfo,
  parseMountinfo,
  parseNetDev,
  parseProcStat,
} from './procfs.js'

describe('/proc parsers', () => {
  it('computes CPU use from two /proc/stat readings', () => {
    const a = parseProcStat(
      'cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 50 0 50 400 0 0 0 0\ncpu1 50 0 50 400 0 0 0 0\n',
    )
    const b = parseProcStat(
      'cpu  200 0 150 1050 100 0 0 0 0 0\ncpu0 150 0 50 400 0 0 0 0\ncpu1 50 0 100 650 100 0 0 0\n',
    )
    expect(a.cores).toHaveLength(2)
    expect(cpuPercent(a.total, b.total)).toStrictEqual({ usage: 30, user: 20, system: 10, iowait: 20 })
    expect(cpuPercent(a.cores[0]!, b.cores[0]!).usage).toBe(100)
  })

  it('reads memory as bytes with used = total − available', () => {
    const m = parseMeminfo(
      'MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    400 kB\nSwapTotal:       200 kB\nSwapFree:        150 kB\n',
    )
    expect(m).toStrictEqual({ total: 1_024_000, available: 409_600, swapTotal: 204_800, swapFree: 153_600 })
  })

  it('parses load averages and refuses garbage', () => {
    expect(parseLoadavg('0.52 0.40 0.33 1/123 4567\n')).toStrictEqual([0.52, 0.4, 0.33])
    expect(() => parseLoadavg('nope')).toThrow()
  })

  it('reads disk counters for the chosen devices only', () => {
    const text = ' 254       0 vda 100 0 2000 0 50 0 4000 0 0 0 0\n   7       0 loop0 1 0 2 0 0 0 0 0 0 0 0\n'
    expect([...parseDiskstats(text, (n) => n === 'vda')]).toStrictEqual([
      ['vda', { reads: 100, readSectors: 2000, writes: 50, writeSectors: 4000 }],
    ])
  })

  it('reads interface byte counters and skips loopback and veth pairs', () => {
    const text =
      'Inter-|\n face |\n    lo: 10 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n  eth0: 1000 5 0 0 0 0 0 0 2000 6 0 0 0 0 0 0\nveth12ab: 5 1 0 0 0 0 0 0 5 1 0 0 0 0 0 0\n'
    expect([...parseNetDev(text)]).toStrictEqual([['eth0', { rxBytes: 1000, txBytes: 2000 }]])
  })

  it('keeps real filesystems once per device and skips pseudo ones', () => {
    const text = [
      '22 27 0:21 / /proc rw - proc proc rw',
      '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
      '28 27 254:0 /var/lib/docker/volumes/x /data rw - ext4 /dev/vda rw',
      '29 27 8:1 / /mnt/my\\040disk rw - ext4 /dev/sda1 rw',
      '30 27 8:1 / /mnt/my\\040disk/again rw - ext4 /dev/sda1 rw',
      '31 27 0:40 / /run/user/0 rw - tmpfs tmpfs rw',
      '32 27 0:41 / /var/lib/docker/overlay2/abc/merged rw - overlay overlay rw',
    ].join('\n')
    expect(parseMountinfo(text).map((m) => [m.mount, m.device, m.fsType])).toStrictEqual([
      ['/', '/dev/vda', 'ext4'],
      ['/mnt/my disk', '/dev/sda1', 'ext4'],
    ])
  })

  it('maps mounts under a host root prefix when running in a container', () => {
    const text =
      '27 1 254:0 / /host rw - ext4 /dev/vda rw\n28 1 8:1 / /host/boot rw - vfat /dev/sda1 rw\n29 1 0:50 / / rw - overlay overlay rw'
    expect(parseMountinfo(text, '/host').map((m) => m.mount)).toStrictEqual(['/', '/boot'])
  })

  it('reads either view with a host root: that of the host PID 1 (no prefix) or the container (prefix cut)', () => {
    // The host's PID 1 through the host's /proc mounted into a container: paths are already the host's.
    const hostView = '27 1 254:0 / / rw - ext4 /dev/vda rw\n28 27 8:1 / /boot/firmware rw - vfat /dev/sda1 rw'
    expect(hostMounts(hostView, '/host/root').map((m) => m.mount)).toStrictEqual(['/', '/boot/firmware'])
    // The container's own view, where the host's root is mounted at /host/root.
    const containerView =
      '29 1 0:50 / / rw - overlay overlay rw\n30 29 254:0 / /host/root ro - ext4 /dev/vda rw\n31 30 8:1 / /host/root/boot/firmware ro - vfat /dev/sda1 rw'
    expect(hostMounts(containerView, '/host/root').map((m) => m.mount)).toStrictEqual(['/', '/boot/firmware'])
    expect(hostMounts(hostView, '').map((m) => m.mount)).toStrictEqual(['/', '/boot/firmware'])
  })
})
