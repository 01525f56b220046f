import { mkdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import Database from 'better-sqlite3'

export type Db = Database.Database

/**
 * Versioned migrations. Each runs once, in order, in a transaction; `PRAGMA user_version` records the last one.
 * Never edit a released migration: add the next one.
 */
export const MIGRATIONS: readonly string[] = [
  /* 1: the event log, the raw tier (staged rows + sealed chunks), rollups, latest documents, projections. */ `
  CREATE TABLE series (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (host, name)
  );
  -- Raw samples not yet sealed into a chunk (committed before the message is acknowledged).
  CREATE TABLE raw_staging (
    series_id INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (series_id, ts)
  ) WITHOUT ROWID;
  -- Sealed, compactly encoded runs of raw samples (see codec.ts).
  CREATE TABLE raw_chunks (
    series_id INTEGER NOT NULL,
    start_ts INTEGER NOT NULL,
    end_ts INTEGER NOT NULL,
    count INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (series_id, start_ts)
  ) WITHOUT ROWID;
  CREATE TABLE rollup_1m (
    series_id INTEGER NOT NULL, bucket INTEGER NOT NULL,
    min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (series_id, bucket)
  ) WITHOUT ROWID;
  CREATE TABLE rollup_1h (
    series_id INTEGER NOT NULL, bucket INTEGER NOT NULL,
    min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (series_id, bucket)
  ) WITHOUT ROWID;
  -- The append-only event log: state changes, commands and their results, alerts.
  CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    ts INTEGER NOT NULL,
    host TEXT NOT NULL,
    source TEXT NOT NULL,
    type TEXT NOT NULL,
    subject TEXT NOT NULL,
    severity TEXT NOT NULL,
    payload TEXT NOT NULL
  );
  CREATE INDEX events_by_ts ON events (ts);
  CREATE INDEX events_by_subject ON events (host, subject, ts);
  -- Latest document per topic (readings, service status): a cache refreshed within one interval.
  CREATE TABLE latest (
    topic TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    service TEXT NOT NULL,
    kind TEXT NOT NULL,
    ts INTEGER NOT NULL,
    payload TEXT NOT NULL
  );
  -- Projection of service.availability events (rebuildable from the log).
  CREATE TABLE service_state (
    host TEXT NOT NULL,
    service TEXT NOT NULL,
    availability TEXT NOT NULL,
    since INTEGER NOT NULL,
    PRIMARY KEY (host, service)
  );
  -- Payloads that failed validation, kept for inspection (truncated).
  CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY,
    received_at INTEGER NOT NULL,
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    size INTEGER NOT NULL,
    payload BLOB NOT NULL
  );
  CREATE INDEX quarantine_by_time ON quarantine (received_at);
  `,
  /* 2: projection of container events: the current state of each container per host (rebuildable from the log). */ `
  CREATE TABLE containers (
    host TEXT NOT NULL,
    name TEXT NOT NULL,
    id TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    info TEXT NOT NULL,
    PRIMARY KEY (host, name)
  );
  `,
  /* 3: projection of unit events: the current state of each monitored systemd unit per host (rebuildable). */ `
  CREATE TABLE units (
    host TEXT NOT NULL,
    name TEXT NOT NULL,
    active_state TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    info TEXT NOT NULL,
    PRIMARY KEY (host, name)
  );
  `,
  /* 4: projection of Ollama events: per host, the server's state and its installed and loaded models (rebuildable). */ `
  CREATE TABLE ollama (
    host TEXT PRIMARY KEY,
    up INTEGER NOT NULL,
    version TEXT,
    reason TEXT,
    installed TEXT NOT NULL,
    loaded TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  );
  `,
]

export const SCHEMA_VERSION = MIGRATIONS.length

/** The recorder's database in a data folder: written by the recorder, read by the gateway. */
export function databasePath(dataDir: string): string {
  return join(dataDir, 'homelab.db')
}

/**
 * Opens a service's own SQLite file for writing (the recorder's database, the alerter's, the gateway's): WAL, the
 * file's versioned `migrations` applied (a file newer than this build is refused, never touched), the folder made.
 */
export function openDb(path: string, migrations: readonly string[]): Db {
  mkdirSync(dirname(path), { recursive: true })
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  // NORMAL in WAL mode: a committed transaction survives a crash of the process (SIGKILL); only a power cut may
  // lose the last few. Far fewer fsyncs on an SD card than FULL.
  db.pragma('synchronous = NORMAL')
  db.pragma('busy_timeout = 5000')
  // Checkpoint every 1,000 pages (4 MB) and truncate the WAL back to 4 MB after each: the log can never fill a small
  // disk by itself (with 4,000 pages and no limit it had grown to 14 MB on a 20 MB disk).
  db.pragma('wal_autocheckpoint = 1000')
  db.pragma(`journal_size_limit = ${4 * 1024 * 1024}`)
  try {
    migrate(db, migrations)
  } catch (e) {
    db.close()
    throw e
  }
  return db
}

/** Opens the recorder's database for its one writer. */
export function openWriter(path: string): Db {
  return openDb(path, MIGRATIONS)
}

/** Opens the database read-only (the gateway). Waits for the recorder to have created it. */
export function openReader(path: string): Db {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  db.pragma('busy_timeout = 5000')
  const v = db.pragma('user_version', { simple: true }) as number
  if (v > SCHEMA_VERSION)
    throw new Error(`database schema ${v} is newer than this build knows (${SCHEMA_VERSION}); upgrade`)
  return db
}

/** Applies the migrations a file has not had yet, each in its own transaction; returns how many ran. */
export function migrate(db: Db, migrations: readonly string[] = MIGRATIONS): number {
  const current = db.pragma('user_version', { simple: true }) as number
  if (current > migrations.length) {
    throw new Error(
      `${db.name}: schema ${current} is newer than this build knows (${migrations.length}); upgrade this service`,
    )
  }
  for (let v = current; v < migrations.length; v++) {
    db.transaction(() => {
      db.exec(migrations[v]!)
      db.pragma(`user_version = ${v + 1}`)
    })()
  }
  return migrations.length - current
}
