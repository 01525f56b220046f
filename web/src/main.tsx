import './zod-config'
import type { HostSummary, Me, SessionInfo } from '@homelab/contracts'
import { render } from 'preact'
import { useCallback, useEffect, useState } from 'preact/hooks'
import { api, HttpError } from './api'
import { appPath, url } from './base'
import { Account, Users } from './pages/account'
import { Ai } from './pages/ai'
import { Alerts } from './pages/alerts'
import { Containers } from './pages/containers'
import { Fleet } from './pages/fleet'
import { Health } from './pages/health'
import { Help } from './pages/help'
import { History } from './pages/history'
import { Login, Setup } from './pages/login'
import { Overview } from './pages/overview'
import { Probes } from './pages/probes'
import { Services } from './pages/services'
import './styles.css'

type Page =
  | 'overview'
  | 'health'
  | 'fleet'
  | 'history'
  | 'containers'
  | 'services'
  | 'ai'
  | 'alerts'
  | 'probes'
  | 'account'
  | 'users'
  | 'help'
  | 'notfound'

function pageFromPath(): Page {
  const p = appPath()
  const top = `/${p.split('/')[1] ?? ''}`
  if (p === '/') return 'overview'
  const found = (Object.keys(PATHS) as Page[]).find((k) => k !== 'overview' && PATHS[k] === top)
  return found ?? 'notfound'
}

/** `/containers/<name>` opens a container's detail. */
function containerFromPath(): string | null {
  const m = /^\/containers\/([^/]+)$/.exec(appPath())
  return m?.[1] ? decodeURIComponent(m[1]) : null
}

const PATHS: Record<Page, string> = {
  overview: '/',
  health: '/health',
  fleet: '/fleet',
  history: '/history',
  containers: '/containers',
  services: '/services',
  ai: '/ai',
  alerts: '/alerts',
  probes: '/probes',
  account: '/account',
  users: '/users',
  help: '/help',
  notfound: '/',
}

function applyTheme(t: string) {
  document.documentElement.dataset.theme = t
}

function App() {
  const [me, setMe] = useState<Me | null | 'unknown'>('unknown')
  const [session, setSession] = useState<SessionInfo | null>(null)
  const [page, setPage] = useState<Page>(pageFromPath())
  const [container, setContainer] = useState<string | null>(containerFromPath())
  const [hosts, setHosts] = useState<HostSummary[]>([])
  const [host, setHost] = useState<string | null>(new URLSearchParams(location.search).get('host'))
  const [theme, setTheme] = useState(localStorage.getItem('theme') ?? 'auto')
  const [firing, setFiring] = useState<number | null>(null)
  const [menu, setMenu] = useState(false)

  useEffect(() => applyTheme(theme), [theme])
  const check = useCallback(() => {
    api.session().then(
      (s) => {
        setSession(s)
        setMe(s.user)
      },
      () => setMe(null),
    )
  }, [])
  useEffect(check, [check])
  useEffect(() => {
    const onPop = () => {
      setPage(pageFromPath())
      setContainer(containerFromPath())
    }
    addEventListener('popstate', onPop)
    return () => removeEventListener('popstate', onPop)
  }, [])
  useEffect(() => {
    if (!me || me === 'unknown') return
    const load = () =>
      api.hosts().then(
        (r) => {
          setHosts(r.hosts)
          setHost((h) => h ?? r.self)
        },
        (e) => e instanceof HttpError && e.status === 401 && setMe(null),
      )
    load()
    const t = setInterval(load, 15_000)
    return () => clearInterval(t)
  }, [me])
  useEffect(() => {
    if (!me || me === 'unknown') return
    // The badge: how many alerts fire now (null while the alerter has never been seen).
    const load = () =>
      api.alertCount().then(
        (r) => setFiring(r.alerter === 'unknown' ? null : r.firing),
        () => setFiring(null),
      )
    load()
    const t = setInterval(load, 10_000)
    return () => clearInterval(t)
  }, [me])

  if (me === 'unknown') return null
  if (me === null && appPath() === '/setup') return <Setup onDone={check} />
  if (me === null) return <Login session={session} onLogin={check} />

  const go = (p: Page) => {
    // The Overview is of a host: its address names it (the bare / is the fleet when there are several).
    const q = p === 'overview' && host ? `?host=${encodeURIComponent(host)}` : ''
    history.pushState(null, '', url(`${PATHS[p]}${q}`))
    setMenu(false)
    setPage(p)
    setContainer(null)
  }
  const openContainer = (name: string | null) => {
    history.pushState(null, '', url(name ? `/containers/${encodeURIComponent(name)}` : '/containers'))
    setContainer(name)
  }
  const cycleTheme = () => {
    const next = theme === 'auto' ? 'dark' : theme === 'dark' ? 'light' : 'auto'
    localStorage.setItem('theme', next)
    setTheme(next)
  }
  // With more than one host, the home page is the fleet (a host's Overview is one click away).
  const home =
    page === 'overview' &&
    appPath() === '/' &&
    !new URLSearchParams(location.search).get('host') &&
    hosts.length > 1
  const openHost = (h: string) => {
    history.pushState(null, '', url(`/?host=${encodeURIComponent(h)}`))
    setHost(h)
    setPage('overview')
    setContainer(null)
  }
  const stale = (h: HostSummary) => h.lastSeen === null || Date.now() - h.lastSeen > 60_000
  return (
    <>
      <header>
        <strong>Homelab</strong>
        <button
          type="button"
          class="ghost menu-toggle"
          aria-expanded={menu}
          aria-controls="nav"
          data-testid="menu"
          onClick={() => setMenu(!menu)}
        >
          ☰ Menu
        </button>
        <nav id="nav" class={menu ? 'open' : ''}>
          <a
            href={url('/')}
            aria-current={page === 'overview' && !home ? 'page' : undefined}
            onClick={(e) => {
              e.preventDefault()
              go('overview')
            }}
          >
            Overview
          </a>
          <a
            href={url('/fleet')}
            aria-current={page === 'fleet' || home ? 'page' : undefined}
            onClick={(e) => {
              e.preventDefault()
              go('fleet')
            }}
          >
            Fleet
          </a>
          <a
            href={url('/history')}
            aria-current={page === 'history' ? 'page' : undefined}
            onClick={(e) => {
              e.preventDefault()
              go('history')
            }}
          >
            History
          </a>
          <a
            href={url('/containers')}
            aria-current={page === 'containers' ? 'page' : undefined}
            onClick={(e) => {
              e.preventDefault()
              go('containers')
            }}
          >
            Containers
          </a>
          <a
            href={url('/services')}
            aria-current={page === 'services' ? 'page' : undefined}
            onClick={(e) => {
              e.preventDefault()
              go('services')
            }}
          >
            Services
          </a>
          <a
            href={url('/ai')}
            aria-current={page === 'ai' ? 'page' : undefined}
            onClick={(e) => {
              e.preventDefault()
              go('ai')
            }}
          >
            AI
          </a>
          <a
            href={url('/probes')}
            aria-current={page === 'probes' ? 'page' : undefined}
            onClick={(e) => {
              e.preventDefault()
              go('probes')
            }}
          >
            Probes
          </a>
          <a
            href={url('/alerts')}
            aria-current={page === 'alerts' ? 'page' : undefined}
            onClick={(e) => {
              e.preventDefault()
              go('alerts')
            }}
          >
            Alerts
            {firing !== null && firing > 0 && (
              <span class="badge bad nav-badge" data-testid="alert-badge" title={`${firing} firing`}>
                {firing}
              </span>
            )}
          </a>
        </nav>
        <select
          aria-label="host"
          value={host ?? ''}
          onChange={(e) => setHost((e.target as HTMLSelectElement).value)}
        >
          {hosts.map((h) => (
            <option key={h.host} value={h.host}>
              {h.host}
              {stale(h) ? ' (offline)' : ''}
            </option>
          ))}
        </select>
        <span class="spacer" />
        <button
          type="button"
          class="ghost"
          onClick={cycleTheme}
          aria-label={`Theme: ${theme} (change)`}
          title={`Theme: ${theme === 'auto' ? 'as the system' : theme}. Click to change.`}
          data-testid="theme"
        >
          {theme === 'auto' ? '◐ Auto' : theme === 'dark' ? '☾ Dark' : '☀ Light'}
        </button>
        {me.role === 'admin' && (
          <a
            href={url('/users')}
            class="small"
            aria-current={page === 'users' ? 'page' : undefined}
            onClick={(e) => {
              e.preventDefault()
              go('users')
            }}
          >
            Users
          </a>
        )}
        <a
          href={url('/help')}
          class="small"
          data-testid="help-link"
          aria-current={page === 'help' ? 'page' : undefined}
          onClick={(e) => {
            e.preventDefault()
            go('help')
          }}
        >
          Help
        </a>
        <a
          href={url('/account')}
          class="muted small"
          data-testid="account-link"
          aria-current={page === 'account' ? 'page' : undefined}
          onClick={(e) => {
            e.preventDefault()
            go('account')
          }}
        >
          {me.name} ({me.role})
        </a>
        <button type="button" class="ghost" onClick={() => api.logout().finally(() => setMe(null))}>
          Log out
        </button>
      </header>
      {(page === 'fleet' || home) && <Fleet onOpen={openHost} />}
      {page === 'health' && <Health hosts={hosts} />}
      {host && page === 'overview' && !home && (
        <Overview host={host} summary={hosts.find((h) => h.host === host)} />
      )}
      {host && page === 'history' && <History host={host} />}
      {host && page === 'services' && <Services host={host} role={me.role} />}
      {host && page === 'ai' && <Ai host={host} />}
      {page === 'alerts' && <Alerts role={me.role} onCount={setFiring} />}
      {page === 'probes' && <Probes role={me.role} host={host} />}
      {page === 'account' && <Account me={me} onLoggedOut={() => setMe(null)} />}
      {page === 'users' && me.role === 'admin' && <Users me={me} />}
      {page === 'help' && <Help />}
      {page === 'notfound' && (
        <main>
          <div class="card" data-testid="not-found">
            <h3>No page here</h3>
            <p class="muted">
              There is nothing at <code>{appPath()}</code>.{' '}
              <a
                href={url('/')}
                onClick={(e) => {
                  e.preventDefault()
                  go('overview')
                }}
              >
                Go to the Overview
              </a>
              .
            </p>
          </div>
        </main>
      )}
      {host && page === 'containers' && (
        <Containers host={host} role={me.role} name={container} open={openContainer} />
      )}
    </>
  )
}

render(<App />, document.getElementById('app')!)
