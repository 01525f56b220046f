import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { ConfigError, commonShape, duration, loadConfig, port } from './config.js'

const Schema = z.object({
  ...commonShape,
  HOMELAB_PORT: port('HOMELAB_PORT').default(8080),
  HOMELAB_SYS_INTERVAL_MS: duration(1000, 3_600_000).default(5000),
})

describe('config', () => {
  it('applies the documented defaults', () => {
    const c = loadConfig(Schema, {})
    expect(c.HOMELAB_PORT).toBe(8080)
    expect(c.HOMELAB_MQTT_URL).toBe('mqtt://127.0.0.1:1883')
    expect(c.HOMELAB_BASE_TOPIC).toBe('homelab')
    expect(c.HOMELAB_DATA_DIR).toBe('./data')
  })

  it('names the variable and what it allows when a value is bad', () => {
    expect(() => loadConfig(Schema, { HOMELAB_PORT: 'abc' })).toThrow(ConfigError)
    expect(() => loadConfig(Schema, { HOMELAB_PORT: 'abc' })).toThrow(
      /^HOMELAB_PORT: .*port number 0–65535 \(0 = any free port\) \(got "abc"\)$/,
    )
    expect(() => loadConfig(Schema, { HOMELAB_SYS_INTERVAL_MS: '10' })).toThrow(
      /HOMELAB_SYS_INTERVAL_MS: must be at least 1000 ms/,
    )
    expect(() => loadConfig(Schema, { HOMELAB_HOST_ID: 'Not Valid' })).toThrow(
      /HOMELAB_HOST_ID: a host id is/,
    )
    expect(() => loadConfig(Schema, { HOMELAB_MQTT_URL: 'http://x' })).toThrow(
      /HOMELAB_MQTT_URL: must be a broker URL/,
    )
  })

  it('reads a JSON file named by HOMELAB_CONFIG_FILE, with the environment taking precedence', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'))
    const file = join(dir, 'c.json')
    writeFileSync(file, JSON.stringify({ HOMELAB_PORT: 9000, HOMELAB_BASE_TOPIC: 'lab' }))
    expect(loadConfig(Schema, { HOMELAB_CONFIG_FILE: file }).HOMELAB_PORT).toBe(9000)
    expect(loadConfig(Schema, { HOMELAB_CONFIG_FILE: file, HOMELAB_PORT: '9100' }).HOMELAB_PORT).toBe(9100)
    writeFileSync(file, '{nope')
    expect(() => loadConfig(Schema, { HOMELAB_CONFIG_FILE: file })).toThrow(
      /HOMELAB_CONFIG_FILE: cannot read/,
    )
  })
})
