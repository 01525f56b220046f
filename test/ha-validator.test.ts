import { describe, expect, it } from 'vitest'
import { renderTemplate, validateDeviceConfig } from './helpers/ha-validator.js'

const valid = () => ({
  dev: { ids: ['homelab_pi'], name: 'pi', mf: 'x' },
  o: { name: 'homelab-observability', sw: '0.1.0' },
  avty: [{ t: 'homelab/pi/sys-collector/availability' }],
  cmps: {
    cpu: {
      p: 'sensor',
      uniq_id: 'homelab_pi_cpu',
      def_ent_id: 'sensor.homelab_pi_cpu',
      stat_t: 'homelab/pi/sys-collector/reading/system',
      val_tpl: '{{ value_json.cpu.usage }}',
      unit_of_meas: '%',
      stat_cla: 'measurement',
    },
    mem: {
      p: 'sensor',
      uniq_id: 'homelab_pi_mem',
      stat_t: 't',
      dev_cla: 'data_size',
      unit_of_meas: 'MiB',
      stat_cla: 'total_increasing',
    },
  },
})

/** The checker itself must catch what Home Assistant rejects. */
describe('the Home Assistant discovery validator', () => {
  it('accepts a valid abbreviated payload and expands the abbreviations', () => {
    const r = validateDeviceConfig(valid(), 'ok')
    expect(r.errors).toEqual([])
    expect(r.config?.device).toEqual({ identifiers: ['homelab_pi'], name: 'pi', manufacturer: 'x' })
    expect(r.config?.components.cpu).toMatchObject({
      platform: 'sensor',
      unique_id: 'homelab_pi_cpu',
      default_entity_id: 'sensor.homelab_pi_cpu',
      state_topic: 'homelab/pi/sys-collector/reading/system',
      unit_of_measurement: '%',
    })
    expect(r.config?.shared.availability).toEqual([{ topic: 'homelab/pi/sys-collector/availability' }])
  })

  it.each([
    ['object_id', (c: ReturnType<typeof valid>) => Object.assign(c.cmps.cpu, { obj_id: 'x' }), /object_id/],
    [
      'a unit HA does not allow for the class',
      (c) => Object.assign(c.cmps.mem, { unit_of_meas: 'Mb' }),
      /unit "Mb" is not allowed/,
    ],
    [
      'a state class the class does not allow',
      (c) =>
        Object.assign(c.cmps.mem, {
          dev_cla: 'temperature',
          unit_of_meas: '°C',
          stat_cla: 'total_increasing',
        }),
      /state_class "total_increasing" is not allowed/,
    ],
    [
      'an unknown device class',
      (c) => Object.assign(c.cmps.mem, { dev_cla: 'memory' }),
      /unknown sensor device_class/,
    ],
    ['no unique_id', (c) => Object.assign(c.cmps.cpu, { uniq_id: undefined }), /unique_id/],
    ['an unknown key', (c) => Object.assign(c.cmps.cpu, { colour: 'red' }), /unknown key "colour"/],
    [
      'a bad default_entity_id',
      (c) => Object.assign(c.cmps.cpu, { def_ent_id: 'homelab_pi_cpu' }),
      /default_entity_id/,
    ],
    ['no origin', (c) => Object.assign(c, { o: undefined }), /origin/],
    ['no identifiers', (c) => Object.assign(c.dev, { ids: [] }), /identifiers/],
    [
      'a switch without command topic',
      (c) => Object.assign(c.cmps, { sw: { p: 'switch', uniq_id: 'u' } }),
      /command_topic/,
    ],
    [
      'a timestamp with a state class',
      (c) => Object.assign(c.cmps.mem, { dev_cla: 'timestamp', unit_of_meas: undefined }),
      /state_class "total_increasing"/,
    ],
    [
      'a diagnostic sensor marked config',
      (c) => Object.assign(c.cmps.cpu, { ent_cat: 'config' }),
      /cannot have entity_category "config"/,
    ],
  ] as Array<[string, (c: ReturnType<typeof valid>) => unknown, RegExp]>)(
    'rejects %s',
    (_what, mutate, message) => {
      const c = valid()
      mutate(c)
      const json = JSON.parse(JSON.stringify(c))
      const r = validateDeviceConfig(json, 'bad')
      expect(r.errors.join('\n')).toMatch(message)
    },
  )

  it('renders templates as Home Assistant would, from value_json', () => {
    const p = JSON.stringify({
      a: { b: 2.345 },
      l: [
        { m: '/', v: 1 },
        { m: '/boot', v: 7 },
      ],
      n: null,
    })
    expect(renderTemplate('{{ value_json.a.b | round(1) }}', p)).toBe('2.3')
    expect(
      renderTemplate("{% for x in value_json.l %}{% if x.m == '/boot' %}{{ x.v }}{% endif %}{% endfor %}", p),
    ).toBe('7')
    expect(renderTemplate("{{ 'ON' if value_json.n else 'OFF' }}", p)).toBe('OFF')
    expect(renderTemplate("{{ value_json.l | sum('v') }}", p)).toBe('8')
  })
})
