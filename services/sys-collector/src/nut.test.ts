import { describe, expect, it } from 'vitest'
import { upsFromVars } from './hardware.js'
import { parseNutTarget, splitWords } from './nut.js'

describe('NUT protocol', () => {
  it('splits words, quoted ones with their escapes', () => {
    expect(splitWords('VAR fake ups.status "OB DISCHRG"')).toEqual([
      'VAR',
      'fake',
      'ups.status',
      'OB DISCHRG',
    ])
    expect(splitWords('UPS fake "a \\"quoted\\" \\\\ desc"')).toEqual(['UPS', 'fake', 'a "quoted" \\ desc'])
    expect(splitWords('VAR fake x ""')).toEqual(['VAR', 'fake', 'x', ''])
  })

  it('reads the forms of HOMELAB_UPS', () => {
    expect(parseNutTarget('nut://monuser:s3cret@nas.lan:3500/eaton')).toEqual({
      host: 'nas.lan',
      port: 3500,
      ups: 'eaton',
      username: 'monuser',
      password: 's3cret',
    })
    expect(parseNutTarget('eaton@192.168.1.5')).toEqual({
      host: '192.168.1.5',
      port: 3493,
      ups: 'eaton',
      username: null,
      password: null,
    })
    expect(parseNutTarget('localhost:3493')).toMatchObject({ host: 'localhost', ups: null })
    expect(() => parseNutTarget('nut://a:b@host/bad name')).toThrow(/not a UPS name/)
    expect(() => parseNutTarget('what is this')).toThrow(/expected nut:\/\//)
    expect(() => parseNutTarget('host:99999')).toThrow(/outside 1–65535/)
  })

  it("turns a UPS's variables into a reading", () => {
    const base = { v: 1 as const, ts: 5, host: 'pi', source: 'sys-collector' as const }
    const vars = new Map([
      ['ups.status', 'OB DISCHRG LB'],
      ['battery.charge', '18'],
      ['battery.runtime', '240'],
      ['ups.load', '41'],
      ['input.voltage', '0.0'],
      ['ups.mfr', 'Eaton'],
      ['ups.model', '5E 850i'],
      ['battery.voltage', 'n/a'],
    ])
    expect(upsFromVars(base, 'eaton', 'nas:3493', 'Rack UPS', vars, 3)).toMatchObject({
      ups: { name: 'eaton', server: 'nas:3493', description: 'Rack UPS', model: 'Eaton 5E 850i' },
      reachable: true,
      status: 'OB DISCHRG LB',
      flags: ['OB', 'DISCHRG', 'LB'],
      online: false,
      onBattery: true,
      lowBattery: true,
      chargePercent: 18,
      runtimeSec: 240,
      loadPercent: 41,
      inputVoltage: 0,
      batteryVoltage: null,
      since: 3,
    })
  })
})
