import { describe, expect, it } from 'vitest'
import { compileGlobs, globToRegExp } from './glob.js'

describe('glob allowlists', () => {
  it('matches whole names with * and ?, and treats every other character literally', () => {
    const g = compileGlobs(['web-*', 'db?', 'a.b', 'x+(y)'])
    expect(g.match('web-1')).toBe('web-*')
    expect(g.match('web-')).toBe('web-*')
    expect(g.match('myweb-1')).toBeNull()
    expect(g.match('db1')).toBe('db?')
    expect(g.match('db12')).toBeNull()
    expect(g.match('a.b')).toBe('a.b')
    expect(g.match('axb')).toBeNull()
    expect(g.match('x+(y)')).toBe('x+(y)')
    expect(g.match('xx(y)')).toBeNull()
  })

  it('matches nothing when empty, and everything with *', () => {
    expect(compileGlobs([]).match('anything')).toBeNull()
    expect(compileGlobs(['*']).match('nginx.service')).toBe('*')
    expect(globToRegExp('*.service').test('a\nb.service')).toBe(true)
  })
})
