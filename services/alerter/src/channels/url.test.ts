import { describe, expect, it } from 'vitest'
import { hideSecrets, NotifyUrlError, parseNotifyUrl } from './url.js'

const parse = (u: string) => parseNotifyUrl(u)

describe('notification URLs', () => {
  it('reads every provider in the form Shoutrrr documents it', () => {
    expect(
      parse('telegram://123456:ABCdefGHIjkl_mno-pq@telegram?chats=@homelab,-100123:7&notification=no').target,
    ).toEqual({
      kind: 'telegram',
      token: '123456:ABCdefGHIjkl_mno-pq',
      chats: [
        { chat: '@homelab', thread: null },
        { chat: '-100123', thread: 7 },
      ],
      silent: true,
    })
    expect(parse('discord://tokentokentokentokentoken_-@1234567890123?username=pi').target).toMatchObject({
      kind: 'discord',
      webhookId: '1234567890123',
      token: 'tokentokentokentokentoken_-',
      username: 'pi',
    })
    expect(parse('slack://hook:T000-B000-XXXXXXXX@webhook').target).toMatchObject({
      mode: 'webhook',
      path: '/services/T000/B000/XXXXXXXX',
    })
    // The older form, still in many configurations.
    expect(parse('slack://T000/B000/XXXXXXXX').target).toMatchObject({ path: '/services/T000/B000/XXXXXXXX' })
    expect(parse('slack://xoxb:123-456-abc@C0123456').target).toMatchObject({
      mode: 'bot',
      token: 'xoxb-123-456-abc',
      channel: 'C0123456',
    })
    expect(parse('gotify://gotify.example.com:8443/sub/path/AzyoeNS.D4iJLVa/?priority=7').target).toEqual({
      kind: 'gotify',
      base: 'https://gotify.example.com:8443/sub/path',
      token: 'AzyoeNS.D4iJLVa',
      priority: 7,
    })
    expect(parse('gotify://10.0.0.5/AzyoeNS.D4iJLVa?disableTLS=yes').target).toMatchObject({
      base: 'http://10.0.0.5',
    })
    expect(
      parse(
        'pushover://shoutrrr:azGDORePK8gMaC0QOYAMyEEuzJnyUi@uQiRzpo4DXghDmr9QzzfQu27cmVRsG/?devices=phone,tab',
      ).target,
    ).toEqual({
      kind: 'pushover',
      token: 'azGDORePK8gMaC0QOYAMyEEuzJnyUi',
      user: 'uQiRzpo4DXghDmr9QzzfQu27cmVRsG',
      devices: ['phone', 'tab'],
      priority: null,
    })
    expect(
      parse('matrix://bot:p%40ss@matrix.example.org/?rooms=!abc:example.org,homelab:example.org').target,
    ).toEqual({
      kind: 'matrix',
      base: 'https://matrix.example.org',
      user: 'bot',
      password: 'p@ss',
      rooms: ['!abc:example.org', '#homelab:example.org'],
    })
    expect(parse('matrix://:syt_token@localhost:8008?disableTLS=yes').target).toMatchObject({
      base: 'http://localhost:8008',
      user: null,
      password: 'syt_token',
    })
    expect(parse('ntfy://:tk_abc@ntfy.example.org/homelab-alerts?priority=4').target).toEqual({
      kind: 'ntfy',
      base: 'https://ntfy.example.org',
      topic: 'homelab-alerts',
      user: '',
      password: 'tk_abc',
      priority: 4,
    })
    expect(
      parse(
        'smtp://me%40example.org:s3cret@mail.example.org:587/?from=pi@example.org&to=a@example.org,b@example.org',
      ).target,
    ).toEqual({
      kind: 'email',
      host: 'mail.example.org',
      port: 587,
      user: 'me@example.org',
      password: 's3cret',
      from: 'pi@example.org',
      fromName: null,
      to: ['a@example.org', 'b@example.org'],
      security: 'auto',
      verify: true,
      authMethod: null,
    })
    expect(parse('smtp://mail.example.org/?from=a@b.org&to=c@d.org').target).toMatchObject({
      port: 25,
      user: null,
    })
    expect(parse('smtps://mail.example.org/?from=a@b.org&to=c@d.org').target).toMatchObject({
      port: 465,
      security: 'tls',
    })
    expect(parse('smtp://mail.example.org:465/?from=a@b.org&to=c@d.org').target).toMatchObject({
      security: 'tls',
    })
    expect(parse('smtp://h/?from=a@b.org&to=c@d.org&encryption=ExplicitTLS').target).toMatchObject({
      security: 'starttls',
    })
    expect(parse('smtp://h/?from=a@b.org&to=c@d.org&useStartTLS=no').target).toMatchObject({
      security: 'none',
    })
    expect(parse('generic://hooks.example.org/api/alert').target).toEqual({
      kind: 'webhook',
      url: 'https://hooks.example.org/api/alert',
    })
    expect(parse('generic+http://10.0.0.2:8000/hook').target).toEqual({
      kind: 'webhook',
      url: 'http://10.0.0.2:8000/hook',
    })
    expect(parse('https://hooks.example.org/x?key=abc').target).toEqual({
      kind: 'webhook',
      url: 'https://hooks.example.org/x?key=abc',
    })
  })

  it("reads Apprise's forms of the same providers", () => {
    expect(parse('tgram://123456:ABCdefGHIjkl_mno-pq/12345/-100999').target).toMatchObject({
      kind: 'telegram',
      token: '123456:ABCdefGHIjkl_mno-pq',
      chats: [
        { chat: '12345', thread: null },
        { chat: '-100999', thread: null },
      ],
    })
    expect(parse('discord://1234567890123/tokentokentokentokentoken_-').target).toMatchObject({
      kind: 'discord',
      webhookId: '1234567890123',
      token: 'tokentokentokentokentoken_-',
    })
    expect(
      parse('pover://uQiRzpo4DXghDmr9QzzfQu27cmVRsG@azGDORePK8gMaC0QOYAMyEEuzJnyUi/phone').target,
    ).toEqual({
      kind: 'pushover',
      token: 'azGDORePK8gMaC0QOYAMyEEuzJnyUi',
      user: 'uQiRzpo4DXghDmr9QzzfQu27cmVRsG',
      devices: ['phone'],
      priority: null,
    })
    expect(parse('ntfys://ntfy.example.org/alerts').target).toMatchObject({
      base: 'https://ntfy.example.org',
    })
    expect(parse('gotifys://g.example.org/AzyoeNS.D4iJLVa').target).toMatchObject({
      base: 'https://g.example.org',
    })
    expect(parse('json://10.0.0.2:8000/hook').target).toEqual({
      kind: 'webhook',
      url: 'http://10.0.0.2:8000/hook',
    })
    expect(parse('jsons://hooks.example.org/x').target).toEqual({
      kind: 'webhook',
      url: 'https://hooks.example.org/x',
    })
  })

  it('shows where a channel sends without any of its secrets', () => {
    const cases = [
      ['telegram://123456:ABCdefGHIjkl_mno-pq@telegram?chats=@homelab', ['ABCdefGHIjkl_mno-pq']],
      ['discord://tokentokentokentokentoken_-@1234567890123', ['tokentokentokentokentoken_-']],
      ['slack://hook:T000-B000-XXXXXXXXsecret@webhook', ['XXXXXXXXsecret']],
      ['slack://xoxb:123-456-abcsecret@C0123456', ['abcsecret']],
      ['gotify://gotify.example.com/AzyoeNS.D4iJLVa', ['AzyoeNS.D4iJLVa']],
      [
        'pushover://shoutrrr:azGDORePK8gMaC0QOYAMyEEuzJnyUi@uQiRzpo4DXghDmr9QzzfQu27cmVRsG',
        ['azGDORe', 'uQiRzpo'],
      ],
      ['matrix://bot:hunter22@matrix.example.org/?rooms=!abc:example.org', ['hunter22']],
      ['ntfy://phil:hunter22@ntfy.example.org/my-secret-topic', ['hunter22', 'my-secret-topic']],
      ['smtp://me:hunter22@mail.example.org:587/?from=a@b.org&to=c@d.org', ['hunter22']],
      [
        'https://hooks.example.org/T1234567890abcdefgh/xyz?token=hunter22',
        ['hunter22', 'T1234567890abcdefgh'],
      ],
    ] as const
    for (const [url, secrets] of cases) {
      const p = parse(url)
      for (const s of secrets) {
        expect(p.shown, url).not.toContain(s)
        expect(hideSecrets(`the provider said ${url}`, p.secrets), url).not.toContain(s)
      }
    }
    expect(parse('matrix://bot:hunter22@matrix.example.org/?rooms=!abc:example.org').shown).toBe(
      'matrix://bot:…@matrix.example.org?rooms=!abc:example.org',
    )
  })

  it('names what is wrong and the form expected', () => {
    const error = (u: string): string => {
      try {
        parse(u)
      } catch (e) {
        expect(e).toBeInstanceOf(NotifyUrlError)
        return (e as Error).message
      }
      throw new Error(`${u} parsed`)
    }
    expect(error('telegram://123456:ABCdefGHIjkl@telegram')).toMatch(
      /chats= is missing; expected telegram:\/\/<bot token>@telegram\?chats=/,
    )
    expect(error('telegram://nonsense@telegram?chats=1')).toMatch(/bot token .* malformed/)
    expect(error('telegram://123456:ABCdefGHIjkl@telegram?chats=hello world')).toMatch(
      /"hello world" is not a chat id/,
    )
    expect(error('discord://short@123')).toMatch(/webhook id/)
    expect(error('slack://nope@webhook')).toMatch(/neither hook:… nor xoxb:…; expected slack:\/\/hook:/)
    expect(error('gotify://gotify.example.com/')).toMatch(/application token/)
    expect(error('pushover://shoutrrr:short@user')).toMatch(/API token/)
    expect(error('matrix://bot@matrix.example.org')).toMatch(/password or access token/)
    expect(error('ntfy://ntfy.sh/')).toMatch(/topic/)
    expect(error('ntfy://ntfy.sh/topic?priority=9')).toMatch(/priority must be a whole number 1…5/)
    expect(error('smtp://mail.example.org/?to=a@b.org')).toMatch(/from= is missing/)
    expect(error('smtp://mail.example.org/?from=a@b.org&to=not-an-address')).toMatch(
      /"not-an-address" in to=/,
    )
    expect(error('smtp://h/?from=a@b.org&to=c@d.org&encryption=rot13')).toMatch(/encryption=rot13/)
    expect(error('irc://irc.libera.chat/homelab')).toMatch(
      /"irc:\/\/" is not a channel this alerter knows; use one of telegram/,
    )
    expect(error('hello')).toMatch(/not a URL/)
  })
})
