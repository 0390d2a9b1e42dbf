/**
 * Key layout of a journal under its prefix P (see docs/journal.md):
 *   P/b/<seq:20>              one flushed batch (write-once, create-only)
 *   P/c/<first:20>-<last:20>  a compacted object holding the batches first..last, in order
 *   P/r/<seq:20>              retention marker: batches below seq are deleted
 *   P/p/<random>              create-only probe (short-lived)
 * Twenty digits hold any safe integer, so key order is sequence order.
 */
import { joinKey } from '../objects/keys.js'

/** Digits of a sequence number in a key. */
export const SEQ_DIGITS = 20

/** Zero-pads a sequence number. */
export function pad(seq: number): string {
  return String(seq).padStart(SEQ_DIGITS, '0')
}

/** A parsed journal object key. */
export type ParsedKey =
  | { kind: 'b'; first: number; last: number }
  | { kind: 'c'; first: number; last: number }
  | { kind: 'r'; first: number; last: number }

const RE_B = /^b\/(\d{20})$/
const RE_C = /^c\/(\d{20})-(\d{20})$/
const RE_R = /^r\/(\d{20})$/

function num(s: string): number {
  const n = Number(s)
  return Number.isSafeInteger(n) ? n : -1
}

/** Parses the part of a key after `P/`; `undefined` for anything that is not a journal object. */
export function parseKey(rel: string): ParsedKey | undefined {
  let m = RE_B.exec(rel)
  if (m !== null) { const s = num(m[1]); return s < 0 ? undefined : { kind: 'b', first: s, last: s } }
  m = RE_C.exec(rel)
  if (m !== null) {
    const f = num(m[1]); const l = num(m[2])
    return f < 0 || l < f ? undefined : { kind: 'c', first: f, last: l }
  }
  m = RE_R.exec(rel)
  if (m !== null) { const s = num(m[1]); return s < 0 ? undefined : { kind: 'r', first: s, last: s } }
  return undefined
}

/** Builds the keys of one journal. */
export class JournalKeys {
  /** `prefix` is a validated prefix without trailing `/` (`''` for the store root). */
  constructor(readonly prefix: string) {}
  /** The listing prefix of one kind of object, e.g. `P/b/`. */
  dir(kind: 'b' | 'c' | 'r' | 'p'): string { return joinKey(this.prefix, `${kind}/`) }
  /** `P/b/<seq>`. */
  batch(seq: number): string { return joinKey(this.prefix, `b/${pad(seq)}`) }
  /** `P/c/<first>-<last>`. */
  compacted(first: number, last: number): string { return joinKey(this.prefix, `c/${pad(first)}-${pad(last)}`) }
  /** `P/r/<seq>`. */
  marker(seq: number): string { return joinKey(this.prefix, `r/${pad(seq)}`) }
  /** `P/p/<id>`. */
  probe(id: string): string { return joinKey(this.prefix, `p/${id}`) }
  /** The part after `P/`. */
  rel(key: string): string { return this.prefix === '' ? key : key.slice(this.prefix.length + 1) }
}
