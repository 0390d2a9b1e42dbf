import { SeglogError } from '../errors.js'

/** Longest key accepted, in UTF-8 bytes (S3 and Azure both allow 1,024). */
export const MAX_KEY_BYTES = 1024

// Control characters and the backslash (a path separator on Windows) are never valid.
// eslint-disable-next-line no-control-regex
const BAD_CHARS = /[\u0000-\u001f\u007f\\]/

function why(key: string, allowEmpty: boolean): string | undefined {
  if (typeof key !== 'string') return 'it is not a string'
  if (key === '') return allowEmpty ? undefined : 'it is empty'
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return `it is longer than ${MAX_KEY_BYTES} bytes`
  if (BAD_CHARS.test(key)) return 'it contains a control character or a backslash'
  if (key.startsWith('/')) return 'it is absolute (starts with "/")'
  if (/^[A-Za-z]:/.test(key)) return 'it looks like a drive path'
  const parts = key.split('/')
  for (const p of parts) {
    if (p === '') return 'it has an empty segment ("//" or a trailing "/")'
    if (p === '.' || p === '..') return `it has a "${p}" segment`
  }
  return undefined
}

/**
 * Throws `ERR_INVALID_ARGUMENT` unless `key` is a safe relative object key: non-empty, at most
 * 1,024 bytes, no leading `/`, no empty, `.` or `..` segment, no backslash or control character.
 * Such a key can never name anything outside the store's root or prefix.
 */
export function validateKey(key: string): string {
  const reason = why(key, false)
  if (reason !== undefined) {
    throw new SeglogError('ERR_INVALID_ARGUMENT', `invalid object key ${JSON.stringify(key)}: ${reason}; use a relative path like "logs/a/b"`)
  }
  return key
}

/**
 * Validates a prefix given to a store or journal: `''` or a valid key, optionally ending in `/`.
 * Returns it without the trailing `/`.
 */
export function validatePrefix(prefix: string): string {
  const p = typeof prefix === 'string' && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix
  const reason = why(p, true)
  if (reason !== undefined) {
    throw new SeglogError('ERR_INVALID_ARGUMENT', `invalid prefix ${JSON.stringify(prefix)}: ${reason}; use a relative path like "journals/errors"`)
  }
  return p
}

/**
 * Validates the prefix argument of `list`: any string that {@link validateKey} would accept once
 * completed, so `''`, `'a/'` and `'a/b/00'` are fine, `'../'` and `'/a'` are not.
 */
export function validateListPrefix(prefix: string): string {
  if (prefix === '') return prefix
  const reason = why(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix, false)
  if (reason !== undefined) {
    throw new SeglogError('ERR_INVALID_ARGUMENT', `invalid list prefix ${JSON.stringify(prefix)}: ${reason}`)
  }
  return prefix
}

/** Joins a validated prefix and key (`''` prefix means none). */
export function joinKey(prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}/${key}`
}

// UTF-16 code units order surrogates (U+D800–DFFF) before U+E000–FFFF, code points and UTF-8
// bytes order them after: shift both so that a code-unit comparison gives code-point order.
function codePointRank(unit: number): number {
  return unit >= 0xe000 ? unit - 0x800 : unit >= 0xd800 ? unit + 0x2000 : unit
}

/**
 * Orders keys as S3 and Azure do: by code point, which is the order of their UTF-8 bytes. A plain
 * `<` on strings compares UTF-16 code units and puts `'😀'` (a surrogate pair) before `'～'`.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return codePointRank(x) - codePointRank(y)
  }
  return a.length - b.length
}

/**
 * The longest prefix of `after` that every server orders the same way, whether it compares UTF-8
 * bytes (code points) or UTF-16 code units: the two agree below U+D800. A listing that starts
 * after this bound and filters with {@link compareKeys} returns exactly the keys after `after`,
 * also from servers whose start-after comparison differs from their listing order (s3rver).
 */
export function portableStartAfter(after: string): string {
  for (let i = 0; i < after.length; i++) if (after.charCodeAt(i) >= 0xd800) return after.slice(0, i)
  return after
}
