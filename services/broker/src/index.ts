// The entry point of @homelab/broker for the parts that may use it (the all-in-one; tests and benches): its
// configuration and the service it runs. Everything else in src/ is internal (scripts/import-map.json).

export * from './acl.js'
export * from './broker.js'
export * from './config.js'
export * from './credentials.js'
export * from './from-config.js'
