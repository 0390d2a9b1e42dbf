// The public surface: re-exports only.
export { SeglogError, isSeglogError, type SeglogErrorCode, type SeglogErrorDetails } from './errors.js'
