/**
 * The errors a read of segment bytes reports: damage (ERR_CORRUPT naming file and byte, with what
 * to do about it), a batch from a newer format (ERR_FORMAT_VERSION), and an index that contradicts
 * its segment. One builder each, so every reader words them the same way.
 */
import { SeglogError } from '../errors.js'

/** Damage at `position` of `file`: what it is, and how to get a report or repair it. */
export function corruptError(file: string, position: number, what: string, extra?: string): SeglogError {
  return new SeglogError('ERR_CORRUPT',
    `${file} byte ${position}: ${what}${extra ? `; ${extra}` : ''}. Run Log.verify() (or \`seglog verify\`) for a full report; Log.repair() (\`seglog repair\`, or reopening with { repair: true }) cuts out the damaged bytes and keeps every intact batch at its offset`,
    { details: { file, position, kind: what } })
}

/** A batch with a valid checksum whose format version this release does not read. */
export function newerVersionError(file: string, position: number, version: number): SeglogError {
  return new SeglogError('ERR_FORMAT_VERSION',
    `${file} byte ${position}: batch format version ${version} is newer than this seglog reads; upgrade seglog to read this log`,
    { details: { file, position, version } })
}

/**
 * An index (derived data) that contradicts the verified batches it points at. Callers rebuild the
 * index and retry; if it escapes, it is an ERR_CORRUPT naming the index file.
 */
export class InconsistentIndexError extends SeglogError {
  constructor(file: string, what: string) {
    super('ERR_CORRUPT', `${file}: ${what}; the index is derived data: delete the .index file to have it rebuilt`,
      { details: { file, position: 0, kind: 'index' } })
  }
}
