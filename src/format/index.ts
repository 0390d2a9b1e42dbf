export * from './batch.js'
export { crc32c } from './crc32c.js'
export { decodeBatch, type DecodedBatch } from './decode.js'
export * from './envelope.js'
