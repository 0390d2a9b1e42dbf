/**
 * The three ways records enter the append buffer — one record, one checked batch, one run copied
 * from a worker ring's memory — each framed and handed to the group commit. The public calls'
 * argument checks for a single record and their encodings stay in the facade (local-log.ts); what
 * is here works on bytes.
 */
import { invalidArgument, SeglogError } from '../errors.js'
import { BATCH_HEADER_BYTES, RECORD_HEADER_BYTES } from '../format/index.js'
import { invariantViolated } from '../invariant.js'
import { checkBatchInput, tooLargeError } from '../record-input.js'
import { CHECKED_PATH, NO_ROOM, TOO_LARGE } from './append-buffer.js'
import type { LogCore } from './log-core.js'
import type { AppendBatchResult } from './log-types.js'

/** Frames one checked record into the append buffer (writing the buffer out first when full): its offset, or the error to report. */
export function addRecord(core: LogCore, data: Uint8Array | string): number | SeglogError {
  if (!core.state.open || !core.segs.writer) return core.state.unusable()
  let offset = core.buffer.add(data, core.segs.active.size)
  if (offset < 0) {
    const len = core.buffer.lastLength
    const max = core.options.maxRecordBytes
    if (offset === TOO_LARGE) return tooLargeError(`record of ${len} bytes`, max, 'maxRecordBytes', { bytes: len }, '. Split it, or raise maxRecordBytes')
    if (!core.writeOutSafe()) return core.state.unusable()
    core.buffer.reserve(BATCH_HEADER_BYTES + RECORD_HEADER_BYTES + len)
    offset = core.buffer.add(data, core.segs.active.size)
    if (offset === NO_ROOM) throw invariantViolated('an emptied buffer reserved for a record holds it', { bytes: len })
  }
  return offset
}

/**
 * Checks `records` and appends them as one batch: bytes that fit go through in one pass
 * (`AppendBuffer.tryAddBatch`); anything else (strings, a bad record, no room, a gate or
 * a log that cannot append) through the checked path.
 */
export function appendBatchBytes(core: LogCore, records: readonly (Uint8Array | string)[]): Promise<AppendBatchResult> {
  if (Array.isArray(records) && records.length !== 0 && core.gate.current === undefined && core.state.open && core.segs.writer) {
    const buffer = core.buffer
    const before = buffer.used
    const first = buffer.tryAddBatch(records, core.segs.active.size, core.options.maxBatchBytes)
    // Written out now when another batch this size would not fit: that one then goes the one-pass
    // way too, instead of framing into too little room, giving up and taking the checked path.
    if (first !== CHECKED_PATH) return core.acknowledge<AppendBatchResult>({ first, last: buffer.next - 1 }, buffer.used - before)
  }
  const checked = checkBatchInput(records, core.options.maxRecordBytes, core.options.maxBatchBytes)
  if (checked instanceof SeglogError) return Promise.reject(checked)
  return appendChecked(core, checked.items, checked.total)
}

function appendChecked(core: LogCore, items: Uint8Array[], total: number): Promise<AppendBatchResult> {
  // Checked again after the wait: the caller may have transferred a buffer meanwhile.
  if (core.gate.current) return core.gate.current.then(() => appendBatchBytes(core, items))
  if (!core.state.open || !core.segs.writer) return Promise.reject(core.state.unusable())
  core.buffer.seal()
  if (!core.buffer.fits(total)) {
    if (!core.writeOutSafe()) return Promise.reject(core.state.unusable())
    core.buffer.reserve(total)
  }
  const first = core.buffer.addBatch(items, total, core.segs.active.size)
  return core.acknowledge<AppendBatchResult>({ first, last: core.buffer.next - 1 })
}

/**
 * Appends `count` records as one batch, record k being `source[at[k], at[k] + lengths[k])`: when
 * they lie in order with room to compact, the whole region is copied once and compacted in place
 * (no object per record); otherwise they go the batch path as views.
 */
export function appendRun(core: LogCore, source: Uint8Array, at: Int32Array, lengths: Int32Array, count: number): Promise<AppendBatchResult> {
  if (core.gate.current) {
    // `at` and `lengths` are the caller's until we return; `source` until the promise settles.
    const a = at.slice(0, count)
    const l = lengths.slice(0, count)
    return core.gate.current.then(() => appendRun(core, source, a, l, count))
  }
  if (!core.state.open || !core.segs.writer) return Promise.reject(core.state.unusable())
  const { maxRecordBytes, maxBatchBytes } = core.options
  if (!(count > 0 && count <= at.length && count <= lengths.length)) return Promise.reject(invalidArgument(`appendRun needs 1 to ${Math.min(at.length, lengths.length)} records; got ${count}`))
  const base = at[0]
  let total = BATCH_HEADER_BYTES
  let compactable = base >= 0
  for (let k = 0; k < count; k++) {
    const len = lengths[k]
    if (!(len > 0 && at[k] + len <= source.length)) return Promise.reject(invalidArgument(`appendRun record ${k} (at ${at[k]}, ${len} bytes) is not inside the source`))
    if (len > maxRecordBytes) return Promise.reject(tooLargeError(`record ${k} of ${len} bytes`, maxRecordBytes, 'maxRecordBytes', { index: k, bytes: len }, ''))
    total += RECORD_HEADER_BYTES + len
    // In place, records must lie in order, and record k+1 start past where record k's framing ends.
    if (k + 1 < count && (at[k + 1] < at[k] + len || at[k + 1] - base < total - BATCH_HEADER_BYTES)) compactable = false
  }
  if (total > maxBatchBytes) return Promise.reject(tooLargeError(`batch of ${total} bytes`, maxBatchBytes, 'maxBatchBytes', { bytes: total }, '. Split it into smaller batches'))
  if (!compactable) {
    const items: Uint8Array[] = []
    for (let k = 0; k < count; k++) items.push(source.subarray(at[k], at[k] + lengths[k]))
    return appendChecked(core, items, total)
  }
  const room = Math.max(total, BATCH_HEADER_BYTES + RECORD_HEADER_BYTES + at[count - 1] + lengths[count - 1] - base)
  core.buffer.seal()
  if (!core.buffer.fits(room)) {
    if (!core.writeOutSafe()) return Promise.reject(core.state.unusable())
    core.buffer.reserve(room)
  }
  const first = core.buffer.addRun(source, at, lengths, count, total, core.segs.active.size)
  return core.acknowledge<AppendBatchResult>({ first, last: core.buffer.next - 1 })
}
