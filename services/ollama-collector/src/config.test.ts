import { ConfigError, haSettings, loadConfig } from '@homelab/service-kit'
import { describe, expect, it } from 'vitest'
import { displayUrl, normalizeOllamaHost, OllamaCollectorConfig } from './config.js'

describe('OLLAMA_HOST', () => {
  it('accepts the forms Ollama accepts', () => {
    expect(normalizeOllamaHost('')).toBe('http://127.0.0.1:11434')
    expect(normalizeOllamaHost('http://127.0.0.1:11434')).toBe('http://127.0.0.1:11434')
    expect(normalizeOllamaHost('192.168.1.5')).toBe('http://192.168.1.5:11434')
    expect(normalizeOllamaHost('gpu-box:8080')).toBe('http://gpu-box:8080')
    expect(normalizeOllamaHost('0.0.0.0')).toBe('http://0.0.0.0:11434')
    expect(normalizeOllamaHost('https://llm.example.com')).toBe('https://llm.example.com')
    expect(normalizeOllamaHost('http://host:80/ollama/')).toBe('http://host:80/ollama')
    expect(normalizeOllamaHost('[::1]:11434')).toBe('http://[::1]:11434')
  })

  it('rejects what is not an address, naming the variable', () => {
    expect(() => normalizeOllamaHost('ftp://x')).toThrow(/scheme "ftp"/)
    const r = OllamaCollectorConfig.safeParse({ OLLAMA_HOST: 'ftp://x' })
    expect(r.success).toBe(false)
    expect(r.error?.issues[0]?.path).toEqual(['OLLAMA_HOST'])
    expect(OllamaCollectorConfig.safeParse({ HOMELAB_OLLAMA_PROXY_PORT: '70000' }).success).toBe(false)
  })

  it('never shows credentials', () => {
    expect(displayUrl(normalizeOllamaHost('https://me:secret@llm.example.com'))).toBe(
      'https://llm.example.com',
    )
  })
})

describe('Home Assistant settings in a collector’s configuration', () => {
  it('defaults to every group, and names the variable and the bad group', () => {
    const c = loadConfig(OllamaCollectorConfig, {})
    expect(haSettings(c)).toEqual({
      HOMELAB_HA_DISCOVERY: 'on',
      HOMELAB_HA_DISCOVERY_PREFIX: 'homeassistant',
      HOMELAB_HA_ENTITIES: ['host', 'containers', 'units', 'ollama', 'probes', 'ups'],
      HOMELAB_HA_UNITS: ['*'],
      HOMELAB_HA_GONE_TTL_MS: 3_600_000,
      HOMELAB_HA_BIRTH_DELAY_MS: 5000,
    })
    expect(() => loadConfig(OllamaCollectorConfig, { HOMELAB_HA_ENTITIES: 'host,dockers' })).toThrow(
      ConfigError,
    )
    expect(() => loadConfig(OllamaCollectorConfig, { HOMELAB_HA_ENTITIES: 'host,dockers' })).toThrow(
      /HOMELAB_HA_ENTITIES: unknown group "dockers"/,
    )
    expect(() => loadConfig(OllamaCollectorConfig, { HOMELAB_HA_DISCOVERY_PREFIX: 'a/b' })).toThrow(
      /HOMELAB_HA_DISCOVERY_PREFIX/,
    )
  })
})
