/**
 * Journal prefixes: what `Journal.open` accepts. A prefix that the stores accept as a key can still
 * be one under which the journal could never flush (the store rejects every key the journal
 * builds under it), so open checks the journal's own keys up front instead of failing at the first
 * flush with buffered events that can then never become durable.
 */
import { SeglogError } from '../errors.js'
import { FS_TMP_DIR } from '../objects/fs.js'
import { MAX_KEY_BYTES, validatePrefix } from '../objects/keys.js'
import { SEQ_DIGITS } from './keys.js'

/** Longest key the journal writes, after `P/`: `c/<first:20>-<last:20>`. */
export const LONGEST_RELATIVE_KEY_BYTES = 2 + SEQ_DIGITS + 1 + SEQ_DIGITS

/**
 * Longest path component a file system accepts (NAME_MAX on Linux, macOS and Windows). `FsStore`
 * maps key segments to file names, and a journal is meant to move between stores.
 */
export const MAX_SEGMENT_BYTES = 255

function reject(prefix: string, why: string): never {
  throw new SeglogError('ERR_INVALID_ARGUMENT', `invalid journal prefix ${JSON.stringify(prefix)}: ${why}`)
}

/**
 * Validates a journal prefix and returns it without a trailing `/`. `storePrefix` is the prefix
 * the store itself adds to every key (S3Store/AzureBlobStore/PrefixStore `prefix`), which counts
 * towards the key length limit too.
 */
export function validateJournalPrefix(prefix: string, storePrefix = ''): string {
  const p = validatePrefix(prefix)
  if (p === '') return p
  const segments = p.split('/')
  if (segments[0] === FS_TMP_DIR) {
    reject(prefix, `"${FS_TMP_DIR}" is where FsStore keeps unfinished writes, so no journal object can be stored under it; choose another name`)
  }
  const long = segments.find((s) => Buffer.byteLength(s) > MAX_SEGMENT_BYTES)
  if (long !== undefined) {
    reject(prefix, `the segment ${JSON.stringify(`${long.slice(0, 24)}…`)} is ${Buffer.byteLength(long)} bytes; file systems allow ${MAX_SEGMENT_BYTES} per path segment, use a shorter name`)
  }
  const outer = storePrefix === '' ? 0 : Buffer.byteLength(storePrefix) + 1
  const longest = outer + Buffer.byteLength(p) + 1 + LONGEST_RELATIVE_KEY_BYTES
  if (longest > MAX_KEY_BYTES) {
    const room = MAX_KEY_BYTES - outer - 1 - LONGEST_RELATIVE_KEY_BYTES
    reject(prefix, `the journal's longest key (P/c/<first>-<last>, ${LONGEST_RELATIVE_KEY_BYTES} bytes after "P/"${outer > 0 ? `, inside the store's prefix ${JSON.stringify(storePrefix)}` : ''}) would be ${longest} bytes, over the stores' limit of ${MAX_KEY_BYTES}; use a prefix of at most ${Math.max(0, room)} bytes`)
  }
  return p
}
