import { type FSWatcher, statSync, unwatchFile, watch, watchFile } from 'node:fs'
import { basename, dirname } from 'node:path'

export interface FileWatchOptions {
  /** Events closer together than this are one change (an editor writes a file in several steps). */
  settleMs?: number
  /** The backstop stat, for file systems that report no changes (NFS, some FUSE mounts). */
  pollMs?: number
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

/**
 * Calls `onChange` when `file` is written, replaced (an editor's or our own write-and-rename), created or removed.
 *
 * Through inotify on the file (writes in place, also when the file alone is bind-mounted into a container) and on
 * its folder (created, renamed over, removed), so a file that does not change costs nothing: `fs.watchFile` at 1 s,
 * as before, woke the event loop and made a trip through libuv's thread pool every second for each file watched.
 * A stat every `pollMs` (30 s) stays as a backstop where inotify sees nothing (every second where the folder cannot
 * be watched at all). Only a change of the file's identity, size or modification time calls `onChange`, once per
 * settled burst of events. Returns the function that stops it.
 */
export function watchForChanges(file: string, onChange: () => void, o: FileWatchOptions = {}): () => void {
  const settleMs = o.settleMs ?? 100
  const name = basename(file)
  const signature = () => fileSignature(file)
  let seen = signature()
  let settle: NodeJS.Timeout | null = null
  let fileWatch: FSWatcher | null = null
  let stopped = false

  const watchTheFile = () => {
    fileWatch?.close()
    fileWatch = null
    try {
      fileWatch = watch(file, { persistent: false }, poke)
      fileWatch.on('error', () => {
        fileWatch?.close()
        fileWatch = null
      })
    } catch {
      // Not there (yet): the folder's watch sees it arrive.
    }
  }
  const check = () => {
    settle = null
    if (stopped) return
    const now = seen
    seen = signature()
    if (seen === now) return
    // Replaced or created: the watch on the old inode, if any, sees no more of it.
    watchTheFile()
    onChange()
  }
  function poke() {
    if (!stopped && settle === null) settle = setTimeout(check, settleMs)
  }

  let dirWatch: FSWatcher | null = null
  try {
    dirWatch = watch(dirname(file), { persistent: false }, (_event, changed) => {
      if (changed === null || changed === name) poke()
    })
    dirWatch.on('error', () => {
      dirWatch?.close()
      dirWatch = null
    })
  } catch {
    // No folder to watch (or no inotify): the file's watch and the backstop stat remain.
  }
  watchTheFile()
  // Where the folder cannot be watched (no inotify here, or its watch limit reached), the stat is all there is: it
  // runs every second, as fs.watchFile did before.
  watchFile(file, { interval: dirWatch ? (o.pollMs ?? 30_000) : 1000, persistent: false }, poke)

  return () => {
    stopped = true
    if (settle) clearTimeout(settle)
    fileWatch?.close()
    dirWatch?.close()
    unwatchFile(file, poke)
  }
}
