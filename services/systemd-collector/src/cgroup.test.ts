import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CgroupReader, cpuStatNs, detectLayout } from './cgroup.js'

const roots: string[] = []
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true })
})

/** A folder laid out as the kernel lays out a cgroup mount, with the files systemd reads. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'hl-cgroup-'))
  roots.push(root)
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true })
    writeFileSync(join(root, path), text)
  }
  return root
}

const UNIT = '/system.slice/nginx.service'
const inode = (path: string) => Number(statSync(path).ino)

describe('cgroup stats', () => {
  it('reads a unit of a cgroup v2 tree as systemd does (memory.current, cpu.stat, pids.current)', () => {
    const root = tree({
      'cgroup.controllers': 'cpuset cpu io memory pids\n',
      [`${UNIT}/memory.current`]: '6459392\n',
      [`${UNIT}/cpu.stat`]: 'usage_usec 81000\nuser_usec 60000\nsystem_usec 21000\n',
      [`${UNIT}/pids.current`]: '3\n',
    })
    const r = new CgroupReader(root)
    expect(r.layout).toBe('unified')
    expect(r.verify(UNIT, inode(join(root, UNIT)))).toBe(true)
    expect(r.read(UNIT)).toEqual({ MemoryCurrent: 6_459_392, CPUUsageNSec: 81_000_000, TasksCurrent: 3 })
  })

  it('reads v1 controllers in a hybrid tree and checks the id on the unified one', () => {
    const root = tree({
      'unified/cgroup.procs': '',
      [`unified${UNIT}/cgroup.procs`]: '74\n',
      [`memory${UNIT}/memory.usage_in_bytes`]: '466944\n',
      [`pids${UNIT}/pids.current`]: '1\n',
    })
    const r = new CgroupReader(root)
    expect(r.layout).toBe('hybrid')
    expect(r.verify(UNIT, inode(join(root, 'unified', UNIT)))).toBe(true)
    // No cpuacct cgroup (CPUAccounting=no): systemd says "not set", and so does the reader.
    expect(r.read(UNIT)).toEqual({ MemoryCurrent: 466_944, CPUUsageNSec: null, TasksCurrent: 1 })
  })

  it('refuses a cgroup that is not the one systemd names, and paths that leave the tree', () => {
    const root = tree({ 'cgroup.controllers': '', [`${UNIT}/memory.current`]: '1\n' })
    const r = new CgroupReader(root)
    const id = inode(join(root, UNIT))
    // Another cgroup namespace: the same path, another directory.
    expect(r.verify(UNIT, id + 1)).toBe(false)
    expect(r.verify('/system.slice/missing.service', id)).toBe(false)
    expect(r.verify('/system.slice/../../etc', id)).toBe(false)
    expect(r.verify('system.slice/nginx.service', id)).toBe(false)
    expect(r.verify(UNIT, 0)).toBe(false)
  })

  it('has no tree where the root is not a cgroup mount, and takes unreadable numbers as unknown', () => {
    expect(detectLayout('')).toBe('none')
    expect(detectLayout(tree({ 'memory/x': '' }))).toBe('none')
    const root = tree({
      'cgroup.controllers': '',
      [`${UNIT}/memory.current`]: 'max\n',
      [`${UNIT}/cpu.stat`]: 'user_usec 1\n',
      [`${UNIT}/pids.current`]: '-1\n',
    })
    expect(new CgroupReader(root).read(UNIT)).toEqual({
      MemoryCurrent: null,
      CPUUsageNSec: null,
      TasksCurrent: null,
    })
    expect(new CgroupReader(root).read('/gone.service').MemoryCurrent).toBeNull()
    expect(cpuStatNs('usage_usec 12\n')).toBe(12_000)
  })
})
