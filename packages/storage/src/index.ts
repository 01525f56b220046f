export * from './codec.js'
export * from './history-reader.js'
export * from './rollups.js'
export * from './schema.js'
