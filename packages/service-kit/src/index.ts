export * from './config.js'
export * from './lifecycle.js'
export * from './log.js'
export * from './mqtt-connection.js'
