import { describe, expect, it } from 'vitest'
import { verdict } from './rules.js'

describe('docker-proxy rules', () => {
  it('lets through exactly what the docker-collector reads', () => {
    for (const [m, u] of [
      ['GET', '/_ping'],
      ['GET', '/v1.41/version'],
      ['GET', '/v1.41/containers/json?all=true'],
      ['GET', '/v1.41/containers/abc123/json'],
      ['GET', '/v1.41/containers/web-1/stats?stream=false&one-shot=true'],
      ['GET', '/v1.41/containers/web-1/logs?stdout=1&stderr=1&timestamps=1&tail=200'],
      ['GET', '/v1.41/events?filters=%7B%7D'],
    ])
      expect(verdict(m!, u!, false), `${m} ${u}`).toEqual({ allowed: true })
  })

  it('lets start/stop/restart through only with control on', () => {
    expect(verdict('POST', '/v1.41/containers/web/restart?t=10', false).allowed).toBe(false)
    expect(verdict('POST', '/v1.41/containers/web/restart?t=10', true).allowed).toBe(true)
    expect(verdict('POST', '/containers/web/stop', true).allowed).toBe(true)
  })

  it('refuses the rest of the API, whatever the control setting', () => {
    for (const [m, u] of [
      ['POST', '/v1.41/containers/create'],
      ['POST', '/v1.41/containers/web/exec'],
      ['DELETE', '/v1.41/containers/web'],
      ['POST', '/v1.41/containers/web/kill'],
      ['GET', '/v1.41/images/json'],
      ['POST', '/v1.41/build'],
      ['GET', '/v1.41/containers/web/archive?path=/etc'],
      ['GET', '/v1.41/containers/../images/json'],
      ['PUT', '/v1.41/containers/web/archive'],
    ])
      expect(verdict(m!, u!, true).allowed, `${m} ${u}`).toBe(false)
  })
})
