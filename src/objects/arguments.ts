import { SeglogError } from '../errors.js'
import type { ListOptions, PutOptions } from './types.js'

function invalid(message: string): SeglogError {
  return new SeglogError('ERR_INVALID_ARGUMENT', message)
}

/** Throws `ERR_INVALID_ARGUMENT` unless `data` is a Uint8Array and the put mode is one we know. */
export function validatePut(data: Uint8Array, options: PutOptions | undefined): void {
  if (!(data instanceof Uint8Array)) throw invalid('object data must be a Uint8Array (a Buffer is one)')
  const mode = options?.mode
  if (mode === undefined || mode === 'overwrite' || mode === 'create') return
  if (typeof mode === 'object' && mode !== null && typeof mode.ifMatch === 'string' && mode.ifMatch !== '') return
  throw invalid(`invalid put mode ${JSON.stringify(mode)}: use 'overwrite', 'create' or { ifMatch: "<version>" }`)
}

/** Throws `ERR_INVALID_ARGUMENT` for a `pageSize` that is not a positive whole number or a non-string `startAfter`. */
export function validateListOptions(options: ListOptions | undefined): void {
  if (options?.pageSize !== undefined && !(Number.isSafeInteger(options.pageSize) && options.pageSize > 0)) {
    throw invalid(`invalid list pageSize ${String(options.pageSize)}: it must be a positive whole number`)
  }
  if (options?.startAfter !== undefined && typeof options.startAfter !== 'string') {
    throw invalid(`invalid list startAfter ${String(options.startAfter)}: it must be a key (a string)`)
  }
}
