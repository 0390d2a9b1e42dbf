import { SeglogError } from '../errors.js'
import { BatchHeader, BatchStatus, describeStatus, forEachRecord, parseBatch } from './batch.js'

/** A fully decoded, standalone batch (records are views into the input buffer). */
export interface DecodedBatch {
  baseOffset: number
  timestamp: number
  records: Buffer[]
  /** Bytes the batch occupied. */
  length: number
}

/**
 * Decodes the single batch at `buf[pos]`. Throws `ERR_CORRUPT` (naming `source` and the byte) or
 * `ERR_FORMAT_VERSION`; never returns a partially valid batch.
 */
export function decodeBatch(buf: Buffer, pos = 0, source = '<buffer>'): DecodedBatch {
  const header = new BatchHeader()
  const status = parseBatch(buf, pos, buf.length, header)
  if (status === BatchStatus.NewerVersion) {
    throw new SeglogError('ERR_FORMAT_VERSION',
      `${source} byte ${pos}: batch format version ${header.version} is newer than this seglog reads (1); upgrade seglog`,
      { details: { file: source, position: pos } })
  }
  if (status !== BatchStatus.Ok) {
    throw new SeglogError('ERR_CORRUPT', `${source} byte ${pos}: ${describeStatus(status)}`,
      { details: { file: source, position: pos, kind: describeStatus(status) } })
  }
  const records: Buffer[] = new Array(header.count)
  let i = 0
  forEachRecord(buf, pos, header, (data) => { records[i++] = data })
  return { baseOffset: header.baseOffset, timestamp: header.timestamp, records, length: header.length }
}
