import { describe, expect, it } from 'vitest'
import { ControlPolicyMatcher } from './control.js'

describe('container control policy', () => {
  const m = new ControlPolicyMatcher(['web-*', 'jellyfin'])

  it('allows names matching HOMELAB_DOCKER_CONTROL or labelled homelab.control=true, nothing else', () => {
    expect(m.policy('web-1', {})).toMatchObject({ allowed: true })
    expect(m.policy('jellyfin', null).reason).toContain('"jellyfin"')
    expect(m.policy('plex', { 'homelab.control': 'true' })).toMatchObject({ allowed: true })
    const no = m.policy('postgres', {})
    expect(no.allowed).toBe(false)
    expect(no.reason).toContain('HOMELAB_DOCKER_CONTROL')
  })

  it('lets the label homelab.control=false protect a container a pattern would allow', () => {
    expect(m.policy('web-db', { 'homelab.control': 'false' })).toMatchObject({ allowed: false })
    expect(new ControlPolicyMatcher(['*']).policy('db', { 'homelab.control': ' FALSE ' }).allowed).toBe(false)
  })

  it('is read-only when nothing is configured', () => {
    expect(new ControlPolicyMatcher([]).policy('web-1', {}).allowed).toBe(false)
  })
})
