import { type FSWatcher, statSync, watch } from 'node:fs'
import { basename, dirname } from 'node:path'

export interface FileWatchOptions {
  /** Events closer together than this are one change (an editor writes a file in several steps). */
  settleMs?: number
  /** The backstop stat, for file systems that report no changes (NFS, some FUSE mounts). */
  pollMs?: number
  /** While the file is absent and its folder busy with other files, how often it is looked for instead. */
  absentPollMs?: number
  /** Called for every notification the watcher is woken by (tests count them). */
  onWake?: () => void
}

/** What tells one version of a file from another: its inode, size and modification time ('missing' when absent). */
export function fileSignature(file: string): string {
  try {
    const s = statSync(file)
    return `${s.ino}:${s.size}:${s.mtimeMs}`
  } catch {
    return 'missing'
  }
}

/** Notifications about other files of the folder within a minute that make it a busy folder (a database beside). */
const BUSY_FOLDER_EVENTS = 20

/**
 * Calls `onChange` when `file` is written, replaced (an editor's or our own write-and-rename), created or removed.
 *
 * While the file exists, through inotify on the file alone: a write in place (also when the file alone is
 * bind-mounted into a container) and a replacement or removal (the old inode's link count drops) both reach it,
 * and the other files of its folder never wake it — the data folder also holds the recorder's database, whose
 * every commit would. While it is absent, its folder is watched to see it arrive; where that folder turns out busy
 * (more than 20 notifications a minute about other files), a stat every `absentPollMs` (2 s) looks for it instead.
 * A stat every `pollMs` (30 s) stays as a backstop where inotify sees nothing (every second where nothing can be
 * watched at all). Only a change of the file's identity, size or modification time calls `onChange`, once per
 * settled burst of events. Returns the function that stops it.
 */
export function watchForChanges(file: string, onChange: () => void, o: FileWatchOptions = {}): () => void {
  const settleMs = o.settleMs ?? 100
  const name = basename(file)
  let seen = fileSignature(file)
  let settle: NodeJS.Timeout | null = null
  let fileWatch: FSWatcher | null = null
  let dirWatch: FSWatcher | null = null
  let absentPoll = false
  let backstopMs = 0
  let backstopTimer: NodeJS.Timeout | null = null
  let stopped = false
  /** Notifications about other files of the folder, in the current minute. */
  let foreign = { since: Date.now(), count: 0 }

  const close = (w: FSWatcher | null) => {
    w?.close()
    return null
  }
  const watching = (path: string, listener: (event: string, changed: string | null) => void) => {
    try {
      const w = watch(path, { persistent: false }, listener)
      w.on('error', () => {
        w.close()
        if (w === fileWatch || w === dirWatch) rearm()
      })
      return w
    } catch {
      return null
    }
  }
  /** A stat on the event loop (a few microseconds; fs.watchFile's went through the thread pool: two wakes). */
  const backstop = (ms: number) => {
    if (ms === backstopMs) return
    if (backstopTimer) clearInterval(backstopTimer)
    backstopMs = ms
    backstopTimer = setInterval(() => {
      if (fileSignature(file) !== seen) poke()
    }, ms)
    backstopTimer.unref()
  }
  /** Watches what suits the file's state now: the file itself, or, while it is absent, its folder or a stat. */
  function rearm() {
    fileWatch = close(fileWatch)
    dirWatch = close(dirWatch)
    if (stopped) return
    if (seen !== 'missing') fileWatch = watching(file, poke)
    if (!fileWatch && !absentPoll) {
      foreign = { since: Date.now(), count: 0 }
      dirWatch = watching(dirname(file), (_event, changed) => {
        if (changed === null || changed === name) return poke()
        o.onWake?.()
        const now = Date.now()
        if (now - foreign.since > 60_000) foreign = { since: now, count: 0 }
        if (++foreign.count > BUSY_FOLDER_EVENTS) {
          absentPoll = true
          rearm()
        }
      })
    }
    backstop(fileWatch || dirWatch ? (o.pollMs ?? 30_000) : absentPoll ? (o.absentPollMs ?? 2000) : 1000)
  }
  const check = () => {
    settle = null
    if (stopped) return
    const before = seen
    seen = fileSignature(file)
    if (seen === before) return
    // Replaced, created or removed: the watch on the old inode sees no more of it.
    if (seen !== 'missing') absentPoll = false
    rearm()
    onChange()
  }
  function poke() {
    o.onWake?.()
    if (!stopped && settle === null) settle = setTimeout(check, settleMs)
  }

  rearm()
  return () => {
    stopped = true
    if (settle) clearTimeout(settle)
    fileWatch = close(fileWatch)
    dirWatch = close(dirWatch)
    if (backstopTimer) clearInterval(backstopTimer)
  }
}
