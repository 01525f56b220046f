// The entry point of @homelab/alerter for the parts that may use it (the all-in-one; tests and benches): its
// configuration and the service it runs. Everything else in src/ is internal (scripts/import-map.json).

export type { Endpoints } from './channels/providers.js'
export * from './config.js'
export * from './module.js'
export * from './service.js'
