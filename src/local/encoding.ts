/**
 * The `encoding` option of `Log.open`: how values become record bytes and back. The log itself
 * stores bytes; an encoded log is the same log with its append and read methods wrapped once, at
 * open, so the default `'bytes'` log runs exactly the code it ran before encodings existed.
 */
import type { Readable } from 'node:stream'
import { SeglogError, invalidArgument } from '../errors.js'
import { describeType } from '../record-input.js'
import type { LogRecord } from './segment.js'

/**
 * How a log encodes records: `'bytes'` (default) stores what `append` is given (a `Uint8Array`, or
 * a string as UTF-8) and reads give `Buffer`s; `'utf8'` takes and gives strings; `'json'` takes any
 * JSON-serialisable value and gives back the parsed value.
 */
export type LogEncoding = 'bytes' | 'utf8' | 'json'

/** A record of an encoded log: `data` is the decoded value. */
export interface DecodedRecord<V> {
  /** Its offset in the log. */
  offset: number
  /** Milliseconds since the epoch when its batch was formed. */
  timestamp: number
  /** The value: a string for `'utf8'`, the parsed JSON value for `'json'`. */
  data: V
}

/** One encoding's two directions. `encode` throws `ERR_INVALID_ARGUMENT` for a value it cannot store. */
export interface RecordCodec<V> {
  readonly name: Exclude<LogEncoding, 'bytes'>
  encode(value: V, what: string): string
  decode(record: LogRecord, dir: string): V
}

const utf8Codec: RecordCodec<string> = {
  name: 'utf8',
  encode(value, what) {
    if (typeof value !== 'string') throw invalidArgument(`${what} must be a string (the log was opened with encoding 'utf8'); got ${describeType(value)}. Nothing was written`)
    return value
  },
  decode(record) {
    return record.data.toString('utf8')
  },
}

const jsonCodec: RecordCodec<unknown> = {
  name: 'json',
  encode(value, what) {
    let text: string | undefined
    try {
      text = JSON.stringify(value)
    } catch (err) {
      // BigInt, a cycle, or a toJSON that throws.
      throw new SeglogError('ERR_INVALID_ARGUMENT', `${what} cannot be encoded as JSON (${(err as Error).message}); nothing was written. ` +
        'Convert BigInts and break cycles first, or open the log with encoding \'bytes\' and encode it yourself', { cause: err })
    }
    if (text === undefined) {
      throw invalidArgument(`${what} cannot be encoded as JSON (${describeType(value)} has no JSON form); nothing was written`)
    }
    return text
  },
  decode(record, dir) {
    const text = record.data.toString('utf8')
    try {
      return JSON.parse(text) as unknown
    } catch (err) {
      throw new SeglogError('ERR_INVALID_ARGUMENT', `record ${record.offset} of the log in ${dir} is not JSON, so it cannot be read with encoding 'json'; ` +
        'it was written with another encoding: open the log with encoding \'bytes\' (or the one it was written with) to read it', { cause: err, details: { offset: record.offset } })
    }
  },
}

/** The codec for `encoding`, or undefined for `'bytes'`; anything else is ERR_INVALID_ARGUMENT. */
export function codecFor(encoding: unknown): RecordCodec<unknown> | undefined {
  if (encoding === undefined || encoding === 'bytes') return undefined
  if (encoding === 'utf8') return utf8Codec as RecordCodec<unknown>
  if (encoding === 'json') return jsonCodec
  throw invalidArgument(`encoding must be 'bytes', 'utf8' or 'json'; got ${describeType(encoding)}`)
}

/** The byte-level methods an encoded log wraps. */
export interface ByteMethods<O> {
  append(data: Uint8Array | string): Promise<number>
  appendNoWait(data: Uint8Array | string): number
  appendBatch(records: readonly (Uint8Array | string)[]): Promise<unknown>
  read(offset: number): Promise<LogRecord | undefined>
  readSync(offset: number): LogRecord | undefined
  iterate(options?: O): AsyncIterableIterator<LogRecord>
  iterateBatches(options?: O): AsyncIterableIterator<LogRecord[]>
  createReadStream(options?: O): Readable
}

function mapIterator<A, B>(source: AsyncIterableIterator<A>, map: (a: A) => B): AsyncIterableIterator<B> {
  return {
    async next() {
      const r = await source.next()
      if (r.done === true) return { done: true, value: undefined }
      try {
        return { done: false, value: map(r.value) }
      } catch (err) {
        // A for-await loop does not call return() after next() throws: release the cursor here.
        await source.return?.()
        throw err
      }
    },
    async return() {
      await source.return?.()
      return { done: true, value: undefined }
    },
    [Symbol.asyncIterator]() {
      return this
    },
  }
}

/**
 * Gives `log` (one instance) methods that encode on the way in and decode on the way out, each
 * calling the class's byte-level method; `bytes` are those methods. Values are all encoded before
 * anything is appended, so a value that cannot be encoded writes nothing.
 */
export function installCodec<O>(log: ByteMethods<O>, bytes: ByteMethods<O>, codec: RecordCodec<unknown>, dir: string): void {
  const decode = (r: LogRecord): DecodedRecord<unknown> => ({ offset: r.offset, timestamp: r.timestamp, data: codec.decode(r, dir) })
  const own: Record<string, unknown> = {
    append(value: unknown): Promise<number> {
      let data: string
      try {
        data = codec.encode(value, 'the record passed to append')
      } catch (err) {
        return Promise.reject(err)
      }
      return bytes.append.call(log, data)
    },
    appendNoWait(value: unknown): number {
      return bytes.appendNoWait.call(log, codec.encode(value, 'the record passed to appendNoWait'))
    },
    appendBatch(values: readonly unknown[]): Promise<unknown> {
      // Not an array: the byte-level method rejects it with its usual message.
      if (!Array.isArray(values)) return bytes.appendBatch.call(log, values as unknown as readonly string[])
      const data: string[] = []
      try {
        for (let i = 0; i < values.length; i++) data.push(codec.encode(values[i], `record ${i} passed to appendBatch`))
      } catch (err) {
        return Promise.reject(err)
      }
      return bytes.appendBatch.call(log, data)
    },
    async read(offset: number): Promise<DecodedRecord<unknown> | undefined> {
      const r = await bytes.read.call(log, offset)
      return r === undefined ? undefined : decode(r)
    },
    readSync(offset: number): DecodedRecord<unknown> | undefined {
      const r = bytes.readSync.call(log, offset)
      return r === undefined ? undefined : decode(r)
    },
    iterate(options?: O): AsyncIterableIterator<DecodedRecord<unknown>> {
      return mapIterator(bytes.iterate.call(log, options), decode)
    },
    iterateBatches(options?: O): AsyncIterableIterator<DecodedRecord<unknown>[]> {
      return mapIterator(bytes.iterateBatches.call(log, options), (batch) => batch.map(decode))
    },
  }
  // Own properties shadow the prototype's methods on this instance only.
  for (const [name, fn] of Object.entries(own)) Object.defineProperty(log, name, { value: fn, writable: true, configurable: true, enumerable: false })
}
