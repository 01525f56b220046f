import { describe, expect, it } from 'vitest'
import { DEFAULT_RULES, Duration, parseRules, RulesError, summarize } from './rules.js'

function errorsOf(input: unknown): string[] {
  try {
    parseRules(input)
  } catch (e) {
    expect(e).toBeInstanceOf(RulesError)
    return (e as RulesError).errors
  }
  throw new Error('expected the rules to be rejected')
}

describe('rules file', () => {
  it('runs a log rule as an event rule on log.match and asks the collectors to watch the named logs', () => {
    const { set } = parseRules({
      rules: [
        {
          id: 'web-errors',
          type: 'log',
          of: 'containers',
          targets: 'web-*',
          pattern: 'ERROR [0-9]+',
          regex: true,
          count: 5,
          within: '5m',
          quiet: '2m',
        },
        { id: 'off', type: 'log', of: 'units', pattern: 'x', enabled: false },
      ],
    })
    expect(set.rules[0]).toMatchObject({
      id: 'web-errors',
      type: 'event',
      match: { event: 'log.match', subject: 'web-*', where: { rule: { eq: 'web-errors' } } },
      count: 5,
      within: 300_000,
      resolve: { after: 120_000 },
    })
    expect(set.logWatches).toStrictEqual([
      {
        rule: 'web-errors',
        service: 'docker-collector',
        hosts: '*',
        targets: 'web-*',
        search: { q: 'ERROR [0-9]+', regex: true },
      },
    ])
    expect(
      errorsOf({ rules: [{ id: 'evil', type: 'log', of: 'units', pattern: '(a+)+$', regex: true }] })[0],
    ).toMatch(/^rule "evil" \(rules\[0\]\): pattern: .*exponential/)
    expect(errorsOf({ rules: [{ id: 'n', type: 'log', of: 'units', pattern: 'x', count: 3 }] })[0]).toMatch(
      /within: a count of 3 needs a window/,
    )
    expect(errorsOf({ rules: [{ id: 'n', type: 'log', of: 'pods', pattern: 'x' }] })[0]).toMatch(
      /^rule "n" \(rules\[0\]\): of:/,
    )
  })

  it('refuses a percentage threshold outside 0–100, and lets a container CPU % (100 = one core) pass it', () => {
    const rule = (metric: string, value: number, resolve?: number) => ({
      rules: [
        {
          id: 'r',
          type: 'threshold',
          metric,
          op: '>',
          value,
          ...(resolve === undefined ? {} : { resolve: { value: resolve } }),
        },
      ],
    })
    expect(errorsOf(rule('cpu.usage', 150))).toStrictEqual([
      'rule "r" (rules[0]): value: cpu.usage is a percentage: 150 is outside 0–100',
    ])
    expect(errorsOf(rule('fs.percent', 90, -5))[0]).toMatch(
      /resolve\.value: fs\.percent is a percentage: -5 is outside 0–100/,
    )
    expect(parseRules(rule('container.cpu', 250)).set.rules).toHaveLength(1)
  })

  it('the defaults are valid and cover every domain', () => {
    const { set } = parseRules(DEFAULT_RULES)
    const ids = set.rules.map((r) => r.id)
    expect(ids).toEqual(
      expect.arrayContaining([
        'cpu-high',
        'cpu-temperature',
        'disk-full',
        'memory-high',
        'container-memory-limit',
        'container-crashed',
        'container-oom',
        'container-restart-loop',
        'unit-failed',
        'unit-flapping',
        'ollama-down',
        'service-offline',
        'host-silent',
      ]),
    )
    expect(set.routes.get('cpu-high')).toEqual(['mqtt'])
    const cpu = set.rules.find((r) => r.id === 'cpu-high')!
    expect(summarize(cpu)).toBe('cpu.usage > 90% for 5m; resolves below 80% for 1m')
  })

  it('durations: strings and milliseconds, never negative', () => {
    expect(Duration.parse('1h30m')).toBe(5_400_000)
    expect(Duration.parse(250)).toBe(250)
    for (const bad of ['-5m', -1, '5 minutes', '', 1.5]) expect(Duration.safeParse(bad).success).toBe(false)
  })

  it('an unknown metric names the rule and the field', () => {
    const errors = errorsOf({
      rules: [
        { id: 'ok', type: 'threshold', metric: 'cpu.usage', op: '>', value: 1 },
        { id: 'typo', type: 'threshold', metric: 'cpu.usgae', op: '>', value: 1 },
      ],
    })
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/^rule "typo" \(rules\[1\]\): metric: unknown metric "cpu\.usgae"/)
  })

  it('a negative duration names the rule and the field', () => {
    const errors = errorsOf({
      rules: [{ id: 'cpu', type: 'threshold', metric: 'cpu.usage', op: '>', value: 90, for: '-5m' }],
    })
    expect(errors[0]).toMatch(/^rule "cpu" \(rules\[0\]\): for: must be a duration of at least 0/)
    const nested = errorsOf({
      rules: [{ id: 'x', type: 'threshold', metric: 'cpu.usage', op: '>', value: 90, resolve: { for: -1 } }],
    })
    expect(nested[0]).toMatch(/^rule "x" \(rules\[0\]\): resolve\.for: must be a duration/)
  })

  it('a malformed file is rejected as a whole', () => {
    expect(errorsOf('{ "rules": [ { "id": "a", }')[0]).toMatch(/^the file is not valid JSON/)
    expect(errorsOf({ rulez: [] })[0]).toMatch(/rules/)
  })

  it('other mistakes: unknown event type, label, channel, wrong-side resolve value, duplicate id', () => {
    const errors = errorsOf({
      channels: { hook: { type: 'webhook', url: 'ftp://x' } },
      rules: [
        { id: 'e', type: 'event', match: { event: 'container.exploded' } },
        { id: 'l', type: 'threshold', metric: 'fs.percent', labels: { disk: '*' }, op: '>', value: 1 },
        { id: 'h', type: 'threshold', metric: 'cpu.usage', op: '>', value: 90, resolve: { value: 95 } },
        { id: 'c', type: 'event', match: { event: 'unit.restart' }, count: 3 },
      ],
    })
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^channels\.hook\.url: must be an http/),
        expect.stringMatching(
          /^rule "e" \(rules\[0\]\): match\.event: unknown event type "container\.exploded"/,
        ),
        expect.stringMatching(/^rule "l" \(rules\[1\]\): labels\.disk: fs\.percent has no label "disk"/),
        expect.stringMatching(/^rule "h" \(rules\[2\]\): resolve\.value: must be at most value \(90\)/),
        expect.stringMatching(/^rule "c" \(rules\[3\]\): within: a count of 3 needs a window/),
      ]),
    )
    expect(
      errorsOf({
        rules: [
          { id: 'a', type: 'availability', notify: ['nowhere'] },
          { id: 'a', type: 'availability' },
        ],
      }),
    ).toEqual([
      'rule "a" (rules[0]): notify: no channel named "nowhere"',
      'rule "a" (rules[1]): id: used by an earlier rule too',
    ])
  })
})
