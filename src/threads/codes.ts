/**
 * The error codes that cross shared memory: the drainer stores a number (in the control block's
 * CLOSED word and in negated result slots) and the worker turns it back into a `SeglogError` code.
 *
 * The table is checked against `SeglogErrorCode` at compile time: `satisfies Record<…>` fails the
 * build when a code is added to src/errors.ts and not here (and when a code here no longer exists),
 * so a new code cannot silently travel as ERR_IO. Numbers are part of the ring layout: append new
 * codes with the next number, never renumber.
 *
 * @internal
 */
import { SeglogError, type SeglogErrorCode } from '../errors.js'
import { invariantViolated } from '../invariant.js'

/** Wire number of every code; 0 means "no error". */
export const CODE_NUMBERS = {
  ERR_CLOSED: 1,
  ERR_LOCKED: 2,
  ERR_RECORD_TOO_LARGE: 3,
  ERR_CORRUPT: 4,
  ERR_FORMAT_VERSION: 5,
  ERR_OFFSET_OUT_OF_RANGE: 6,
  ERR_IO: 7,
  ERR_CONFLICT: 8,
  ERR_STORE: 9,
  ERR_INVALID_ARGUMENT: 10,
  ERR_READ_ONLY: 11,
  ERR_OFFSET_LOST: 12,
  ERR_TRUNCATED: 13,
  ERR_NOT_FOUND: 14,
  ERR_BUSY: 15,
} as const satisfies Record<SeglogErrorCode, number>

const CODES_BY_NUMBER: readonly (SeglogErrorCode | undefined)[] = (() => {
  const byNumber: (SeglogErrorCode | undefined)[] = []
  for (const [code, n] of Object.entries(CODE_NUMBERS) as [SeglogErrorCode, number][]) {
    if (!Number.isInteger(n) || n <= 0 || byNumber[n] !== undefined) throw invariantViolated('ring error numbers are distinct positive integers', { code, number: n })
    byNumber[n] = code
  }
  return byNumber
})()

/** The wire number of `code` (never 0). A code unknown at run time (a newer caller) travels as ERR_IO. */
export function codeNumber(code: SeglogErrorCode): number {
  return (CODE_NUMBERS as Partial<Record<string, number>>)[code] ?? CODE_NUMBERS.ERR_IO
}

/** The code behind a wire number; numbers this release does not know read as ERR_IO. */
export function codeFromNumber(n: number): SeglogErrorCode {
  return CODES_BY_NUMBER[n] ?? 'ERR_IO'
}

/** The error a producer gets once the ring is closed; `n` is the close reason's number. */
export function ringClosedError(n: number): SeglogError {
  const c = codeFromNumber(n)
  return c === 'ERR_CLOSED'
    ? new SeglogError('ERR_CLOSED', 'the log is closed; worker appends are no longer accepted (reopen the log and send a new handle)')
    : new SeglogError(c, `the log failed (${c}); worker appends are no longer accepted (reopen the log and send a new handle)`)
}

/** The error of one append the log refused; `n` is the number the drainer put in its result slot. */
export function appendRejectedError(n: number): SeglogError {
  const c = codeFromNumber(n)
  if (c === 'ERR_CLOSED') return ringClosedError(n)
  return new SeglogError(c, `the log rejected this worker append (${c}); see the log's thread for details`)
}
