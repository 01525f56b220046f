// The entry point of @homelab/probe-collector for the parts that may use it (the all-in-one; tests and benches): its
// configuration and the service it runs. Everything else in src/ is internal (scripts/import-map.json).
export * from './config.js'
export * from './module.js'
export * from './service.js'
