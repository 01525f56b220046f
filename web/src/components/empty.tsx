import type { ComponentChildren } from 'preact'

/**
 * What a list shows instead of a bare table header when it has nothing: what
 * would appear there and why there is nothing yet.
 */
export function Empty({ testId, children }: { testId?: string; children: ComponentChildren }) {
  return (
    <p class="muted small empty" data-testid={testId ?? 'empty'}>
      {children}
    </p>
  )
}
