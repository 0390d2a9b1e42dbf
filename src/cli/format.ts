/**
 * How `cat` and `tail` print records. Payloads are bytes, so every format must be safe for any
 * input: JSON formats carry text only when it is plain UTF-8, base64 otherwise.
 */
import { isUtf8 } from 'node:buffer'

/** Output formats of `cat` and `tail`. */
export const FORMATS = ['ndjson', 'json', 'raw', 'hex'] as const
/** One of {@link FORMATS}. */
export type Format = (typeof FORMATS)[number]

/** Framing of `raw` output and of `append` input. */
export const FRAMINGS = ['lines', 'length'] as const
/** One of {@link FRAMINGS}. */
export type Framing = (typeof FRAMINGS)[number]

/**
 * One record to print: a local-log record (`offset`) or a journal event (`cursor`). A journal
 * event of a JSON journal also has its decoded `value`.
 */
export interface PrintedRecord {
  offset?: number
  cursor?: string
  timestamp: number
  /** The payload bytes (for a JSON journal event: its JSON text). */
  data: Buffer
  /** A JSON journal event's value. */
  value?: { json: unknown }
}

// C0 controls other than tab, LF and CR; DEL; C1 controls. Terminals act on these.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/

/**
 * The `data` field of JSON output: the payload as a string when it is valid UTF-8 with no control
 * character other than tab, LF and CR; otherwise (or always, with `base64`) `{ "base64": "…" }`.
 */
export function dataField(data: Buffer, base64: boolean): string | { base64: string } {
  if (!base64 && isUtf8(data)) {
    const text = data.toString('utf8')
    if (!CONTROL.test(text)) return text
  }
  return { base64: data.toString('base64') }
}

function jsonObject(r: PrintedRecord, base64: boolean): Record<string, unknown> {
  const o: Record<string, unknown> = r.cursor !== undefined ? { cursor: r.cursor } : { offset: r.offset }
  o.timestamp = r.timestamp
  if (r.value !== undefined) o.value = r.value.json
  else o.data = dataField(r.data, base64)
  return o
}

const HEX = '0123456789abcdef'

/** A classic 16-bytes-per-line hex dump, indented, with printable ASCII on the right. */
export function hexDump(data: Buffer, indent = '  '): string {
  let out = ''
  for (let p = 0; p < data.length; p += 16) {
    const row = data.subarray(p, Math.min(p + 16, data.length))
    let hex = ''
    let ascii = ''
    for (let i = 0; i < 16; i++) {
      if (i === 8) hex += ' '
      if (i < row.length) {
        const b = row[i]
        hex += `${HEX[b >> 4]}${HEX[b & 15]} `
        ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.'
      } else {
        hex += '   '
      }
    }
    out += `${indent}${p.toString(16).padStart(8, '0')}  ${hex} |${ascii}|\n`
  }
  return out
}

/** Turns records into output chunks for one format. */
export interface Formatter {
  begin(): string
  record(r: PrintedRecord): string | Buffer
  end(): string
}

/** The formatter for `format`. */
export function formatter(format: Format, options: { base64: boolean; framing: Framing }): Formatter {
  const { base64, framing } = options
  switch (format) {
    case 'ndjson':
      return { begin: () => '', record: (r) => `${JSON.stringify(jsonObject(r, base64))}\n`, end: () => '' }
    case 'json': {
      let first = true
      return {
        begin: () => '[',
        record: (r) => {
          const s = `${first ? '\n' : ',\n'}  ${JSON.stringify(jsonObject(r, base64))}`
          first = false
          return s
        },
        end: () => (first ? ']\n' : '\n]\n'),
      }
    }
    case 'raw':
      return {
        begin: () => '',
        record: (r) => {
          if (framing === 'length') {
            const out = Buffer.allocUnsafe(4 + r.data.length)
            out.writeUInt32LE(r.data.length, 0)
            r.data.copy(out, 4)
            return out
          }
          return Buffer.concat([r.data, NEWLINE])
        },
        end: () => '',
      }
    case 'hex':
      return {
        begin: () => '',
        record: (r) => {
          const where = r.cursor !== undefined ? `cursor ${r.cursor}` : `offset ${r.offset}`
          return `${where}  ${new Date(r.timestamp).toISOString()}  ${r.data.length} bytes\n${hexDump(r.data)}`
        },
        end: () => '',
      }
  }
}

const NEWLINE = Buffer.from('\n')
