import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AlerterSettings, Endpoints } from '@homelab/alerter'
import { AlerterService } from '@homelab/alerter'
import {
  type Credentials,
  enrolHost,
  ensureCredentials,
  type RunningBroker,
  readUsers,
  startBroker,
  usersFilePath,
} from '@homelab/broker'
import { createTopics, type Role } from '@homelab/contracts'
import { Gateway, GatewayConfig } from '@homelab/gateway'
import { databasePath, Recorder, RecorderConfig } from '@homelab/recorder'
import { Counters, createLogger, type Logger, shareDecoding } from '@homelab/service-kit'
import { SysCollectorService } from '@homelab/sys-collector'
import mqtt, { type MqttClient } from 'mqtt'

// Services started here share one process, as in the all-in-one (npm start): decode each message once for all.
shareDecoding(2048)

export const HOST = 'testhost'

/** A quiet logger for tests (DEBUG=homelab:* shows everything). */
export function testLog(name: string): Logger {
  return createLogger(name, process.env.DEBUG ? undefined : () => undefined)
}

export function tempDir(prefix = 'hl-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

/** Polls `check` until it returns a truthy value (or throws the last error after `timeoutMs`). */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const start = Date.now()
  let last: unknown = null
  for (;;) {
    try {
      const v = await check()
      if (v) return v as NonNullable<T>
    } catch (e) {
      last = e
    }
    if (Date.now() - start > timeoutMs)
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/**
 * A client id the broker accepts for `username` (ids are bound to users): `<service>-<host>.<suffix>` for a service,
 * anything else for Home Assistant; unique, so several test clients of one user do not take each other over.
 */
export function testClientId(username: string): string {
  const suffix = Math.random().toString(36).slice(2, 10)
  const [service, host] = username.split('@')
  if (username === 'homeassistant' || !service) return `ha-test-${suffix}`
  return `${service}-${host ?? HOST}.t${suffix}`
}

export async function connectClient(
  url: string,
  username: string,
  password: string | undefined,
  opts: mqtt.IClientOptions = {},
): Promise<MqttClient> {
  const c = mqtt.connect(url, {
    protocolVersion: 5,
    clientId: testClientId(username),
    username,
    password,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...opts,
  })
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve())
    c.once('error', reject)
  })
  return c
}

export async function startTestBroker(
  dataDir: string,
  port = 0,
): Promise<{ broker: RunningBroker; url: string; credentials: Credentials }> {
  const credentials = ensureCredentials(dataDir, 'ha-password-123')
  const broker = await startBroker({
    host: HOST,
    port,
    bind: '127.0.0.1',
    persistenceDir: join(dataDir, 'broker'),
    credentials,
    baseTopic: 'homelab',
    log: testLog('broker'),
    counters: new Counters(),
  })
  return { broker, url: `mqtt://127.0.0.1:${broker.port}`, credentials }
}

/**
 * A collector's client for another machine, as an enrolled agent connects: enrols `host` in the test broker's data
 * folder (users `<collector>@<host>`), lets the running broker take the new users, and logs in as
 * `<service>@<host>` with the client id `<service>-<host>`.
 */
export async function agentClient(
  b: { broker: RunningBroker; url: string },
  dataDir: string,
  host: string,
  service: 'sys-collector' | 'docker-collector' | 'systemd-collector' | 'ollama-collector' = 'sys-collector',
): Promise<MqttClient> {
  if (!readUsers(usersFilePath(dataDir))[`${service}@${host}`]) enrolHost(dataDir, host)
  const users = readUsers(usersFilePath(dataDir))
  b.broker.setCredentials(users)
  return connectClient(b.url, `${service}@${host}`, users[`${service}@${host}`], {
    clientId: `${service}-${host}`,
  })
}

/** A sys-collector of another machine (`host`), enrolled in the test broker's data folder as an agent is. */
export async function startAgentSysCollector(
  b: { broker: RunningBroker; url: string },
  dataDir: string,
  host: string,
  intervalMs = 1000,
) {
  if (!readUsers(usersFilePath(dataDir))[`sys-collector@${host}`]) enrolHost(dataDir, host)
  const users = readUsers(usersFilePath(dataDir))
  b.broker.setCredentials(users)
  return startSysCollector(b.url, `sys-collector@${host}`, users[`sys-collector@${host}`], intervalMs, host)
}

export function recorderConfig(dataDir: string, url: string) {
  return RecorderConfig.parse({
    HOMELAB_DATA_DIR: dataDir,
    HOMELAB_MQTT_URL: url,
    HOMELAB_MAX_PAYLOAD_BYTES: '65536',
  })
}

export function startRecorder(
  dataDir: string,
  url: string,
  user: string,
  password: string | undefined,
  counters = new Counters(),
): Recorder {
  const r = new Recorder({
    config: recorderConfig(dataDir, url),
    topics: createTopics('homelab'),
    host: HOST,
    username: user,
    password,
    log: testLog('recorder'),
    counters,
  })
  r.start()
  return r
}

/** The password of the accounts the suites log in with. */
export const TEST_PASSWORD = 'a password for the test suites'

/** An account for a suite (password TEST_PASSWORD), and an API token of its own for the suite's scripts. */
export async function accountWithToken(gw: Gateway, name: string, role: Role): Promise<string> {
  await gw.auth.accounts.add(name, role, TEST_PASSWORD)
  return gw.auth.accounts.createToken(name, `${name}'s script`, role).token
}

export async function startGateway(
  dataDir: string,
  url: string,
  user: string,
  password: string | undefined,
  adminToken: string,
  webDir?: string,
  commandTimeoutMs = 1500,
  /** More gateway settings (base path, trusted proxies, OIDC …), as environment variables. */
  extra: Record<string, string> = {},
): Promise<Gateway> {
  const g = new Gateway({
    config: GatewayConfig.parse({
      HOMELAB_DATA_DIR: dataDir,
      HOMELAB_MQTT_URL: url,
      HOMELAB_PORT: '0',
      HOMELAB_BIND: '127.0.0.1',
      HOMELAB_ADMIN_TOKEN: adminToken,
      HOMELAB_COMMAND_TIMEOUT_MS: String(commandTimeoutMs),
      ...(webDir ? { HOMELAB_WEB_DIR: webDir } : {}),
      ...extra,
    }),
    topics: createTopics('homelab'),
    host: HOST,
    username: user,
    password,
    databasePath: databasePath(dataDir),
    log: testLog('gateway'),
    counters: new Counters(),
  })
  return g
}

export async function startSysCollector(
  url: string,
  user: string,
  password: string | undefined,
  intervalMs = 1000,
  host = HOST,
) {
  const service = new SysCollectorService({
    url,
    username: user,
    password,
    host,
    topics: createTopics('homelab'),
    intervalMs,
    paths: { proc: '/proc', sys: '/sys', rootfs: '' },
    log: testLog('sys-collector'),
  })
  await service.start()
  return service
}

/**
 * An alerter with fast ticks and retries for tests; its rules file is `<dataDir>/alert-rules.json` (the defaults
 * unless the test wrote one).
 */
export function startAlerter(
  dataDir: string,
  url: string,
  password: string | undefined,
  settings: Partial<AlerterSettings> = {},
  /** Where the hosted notification providers answer (the stand-ins of test/helpers/fake-providers.ts). */
  endpoints?: Endpoints,
): AlerterService {
  const a = new AlerterService({
    url,
    username: 'alerter',
    password,
    host: HOST,
    topics: createTopics('homelab'),
    settings: {
      dataDir,
      rulesFile: join(dataDir, 'alert-rules.json'),
      extraChannels: {},
      publicUrl: null,
      tickMs: 100,
      retryBaseMs: 100,
      retryMaxMs: 1000,
      maxAttempts: 5,
      httpTimeoutMs: 2000,
      noDataMs: 60_000,
      ...settings,
    },
    log: testLog('alerter'),
    ...(endpoints ? { endpoints } : {}),
  })
  a.start()
  return a
}
