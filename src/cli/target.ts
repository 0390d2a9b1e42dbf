/**
 * What a TARGET argument names: a local log directory, or a journal in an object store given as
 * a URL (`s3://bucket/prefix`, `az://container/prefix`, `file:///folder`).
 */
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { AzureBlobStore } from '../azure.js'
import { FsStore, type ObjectStore } from '../index.js'
import { S3Store } from '../s3.js'
import { usage } from './errors.js'

/** Object-store options shared by every command that takes a TARGET. */
export interface StoreOptions {
  /** S3: a custom endpoint (MinIO, R2, s3rver …). */
  endpoint?: string
  /** S3: the region (default AWS_REGION, else us-east-1). */
  region?: string
  /** S3: path-style addressing (`endpoint/bucket/key`). */
  pathStyle?: boolean
  /** S3: the endpoint ignores `If-None-Match` (writes then need --single-writer). */
  conditionalWrites?: boolean
  /** Azure: a storage connection string (default AZURE_STORAGE_CONNECTION_STRING). */
  connectionString?: string
}

/** A local log directory. */
export interface LocalTarget {
  kind: 'local'
  /** As the user typed it (for messages). */
  display: string
  dir: string
}

/** A journal in an object store. */
export interface JournalTarget {
  kind: 'journal'
  display: string
  scheme: 's3' | 'az' | 'file'
  store: ObjectStore
  /** The journal's prefix within the store ('' for the store's root). */
  prefix: string
}

/** A parsed TARGET argument. */
export type Target = LocalTarget | JournalTarget

/**
 * A tiered log, for the reading commands: a local directory given with `--tier URL`, or a store
 * URL whose prefix holds a tiered log's `segments/` (then `dir` is absent).
 */
export interface TieredTarget {
  kind: 'tiered'
  display: string
  /** The store and prefix the log ships to (a store URL, parsed like a journal's). */
  store: JournalTarget
  dir?: LocalTarget
}

/** What `info`, `cat`, `tail` and `verify` read. */
export type ReadTarget = Target | TieredTarget

const SCHEMES = 's3://bucket/prefix, az://container/prefix or file:///folder'

function splitBucketPath(url: URL, what: string, raw: string): { container: string; prefix: string } {
  const container = decodeURIComponent(url.hostname)
  if (container === '') throw usage(`${raw} names no ${what}`, `write it as ${url.protocol}//${what}/prefix`)
  const prefix = decodeURIComponent(url.pathname).replace(/^\/+/, '').replace(/\/+$/, '')
  return { container, prefix }
}

/** Parses TARGET; throws a usage error naming the accepted forms when it is neither. */
export function parseTarget(raw: string, options: StoreOptions = {}): Target {
  if (raw === '') throw usage('TARGET is empty', `give a log directory or a journal URL (${SCHEMES})`)
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(raw)?.[1]?.toLowerCase()
  if (scheme === undefined) return { kind: 'local', display: raw, dir: path.resolve(raw) }
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw usage(`${raw} is not a valid URL`, `journal URLs look like ${SCHEMES}`)
  }
  switch (scheme) {
    case 's3': {
      const { container: bucket, prefix } = splitBucketPath(url, 'bucket', raw)
      const store = new S3Store({
        bucket,
        ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
        ...(options.region === undefined ? {} : { region: options.region }),
        ...(options.pathStyle === undefined ? {} : { forcePathStyle: options.pathStyle }),
        ...(options.conditionalWrites === undefined ? {} : { conditionalWrites: options.conditionalWrites }),
      })
      return { kind: 'journal', display: raw, scheme: 's3', store, prefix }
    }
    case 'az':
    case 'azure': {
      const { container, prefix } = splitBucketPath(url, 'container', raw)
      const connectionString = options.connectionString ?? process.env.AZURE_STORAGE_CONNECTION_STRING
      if (connectionString === undefined || connectionString === '') {
        throw usage(`${raw} needs an Azure storage connection string`, 'pass --connection-string, or set AZURE_STORAGE_CONNECTION_STRING')
      }
      return { kind: 'journal', display: raw, scheme: 'az', store: new AzureBlobStore({ container, connectionString }), prefix }
    }
    case 'file': {
      if (url.hostname !== '' && url.hostname !== 'localhost') {
        throw usage(`${raw} names host ${url.hostname}`, 'file URLs need three slashes: file:///absolute/folder')
      }
      const root = fileURLToPath(url)
      return { kind: 'journal', display: raw, scheme: 'file', store: new FsStore({ root }), prefix: '' }
    }
    default:
      throw usage(`unsupported URL scheme ${scheme}:// in ${raw}`, `give a log directory or a journal URL (${SCHEMES})`)
  }
}

const SEGMENT_NAME = /^\d{20}\.log$/

/**
 * For commands that read: the directory must exist and look like a log, so that a typo fails
 * with a clear message instead of reading an empty log.
 */
export function checkLocalLogExists(target: LocalTarget): void {
  let names: string[]
  try {
    const st = fs.statSync(target.dir)
    if (!st.isDirectory()) throw usage(`${target.display} is not a directory`, 'give the directory that holds the log\'s NNNN.log segment files')
    names = fs.readdirSync(target.dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw usage(`${target.display} does not exist`, 'check the path; `seglog append` creates a new log')
    }
    throw err
  }
  if (!names.some((n) => SEGMENT_NAME.test(n))) {
    throw usage(`${target.display} holds no seglog segments (NNNNNNNNNNNNNNNNNNNN.log files)`, 'check the path; `seglog append` creates a new log')
  }
}

/** The journal-only commands refuse local logs with this. */
export function journalOnly(target: Target, command: string, hint: string): JournalTarget {
  if (target.kind !== 'journal') throw usage(`\`seglog ${command}\` works on journals (s3://, az://, file:// URLs), not on a local log directory`, hint)
  return target
}

/** Releases the store's connections (HTTP agents) so the process can exit. */
export async function closeTarget(target: ReadTarget | undefined): Promise<void> {
  if (target?.kind === 'journal') await target.store.close?.().catch(() => undefined)
  if (target?.kind === 'tiered') await closeTarget(target.store)
}
