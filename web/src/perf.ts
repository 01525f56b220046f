/**
 * User-timing marks for `npm run bench -- ui` (off unless localStorage `homelab.perf` is "1"): when an answer
 * arrived and when what it feeds was on screen, so the bench measures rendering in a real browser.
 */
const on = (() => {
  try {
    return localStorage.getItem('homelab.perf') === '1'
  } catch {
    return false
  }
})()

export function perfMark(name: string): void {
  if (on) performance.mark(name)
}
