import { config } from 'zod'

// The gateway's Content-Security-Policy forbids eval: without this, zod probes `new Function` at its first object
// parse (to compile faster validators) and the browser reports the refusal as a CSP violation. Imported first by
// main.tsx, before any module that could parse.
config({ jitless: true })
