/**
 * Exit codes and the mapping from failures to them. Scripts branch on these, so each class of
 * failure keeps its own number across releases.
 */
import { SeglogError } from '../index.js'

/** The exit codes of every `seglog` command. */
export const ExitCode = {
  /** Success (for `verify`: no fault found). */
  Ok: 0,
  /** A data fault: `verify` found faults, a log or journal object is corrupt, or a newer format. */
  DataFault: 1,
  /** A usage error: bad arguments, a target that is not a log, malformed input on stdin. */
  Usage: 2,
  /** An I/O or object-store error (disk full, permission denied, store unreachable). */
  Io: 3,
  /** The log is locked by a running writer (for commands that write). */
  Locked: 4,
  /** Interrupted by Ctrl-C (SIGINT) before finishing (except `tail -f`, which exits 0). */
  Interrupted: 130,
} as const

/** One of {@link ExitCode}'s values. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

/**
 * A failure the CLI itself detects (bad argument, wrong kind of target …). `hint` tells the user
 * what to do next and is printed on its own line.
 */
export class CliError extends Error {
  constructor(readonly exitCode: ExitCodeValue, message: string, readonly hint?: string) {
    super(message)
    this.name = 'CliError'
  }
}

/** Shorthand for a usage error. */
export function usage(message: string, hint?: string): CliError {
  return new CliError(ExitCode.Usage, message, hint)
}

const IO_ERRNOS = new Set(['EACCES', 'EPERM', 'ENOSPC', 'EIO', 'EROFS', 'EMFILE', 'ENFILE', 'EDQUOT', 'EBUSY', 'ENOENT', 'ENOTDIR', 'EISDIR', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN'])

/** The exit code and the message lines (message, then hints) to show for `err`. */
export function describeFailure(err: unknown, target?: string): { exitCode: ExitCodeValue; message: string; hint?: string } {
  if (err instanceof CliError) return { exitCode: err.exitCode, message: err.message, ...(err.hint === undefined ? {} : { hint: err.hint }) }
  const t = target ?? 'TARGET'
  if (err instanceof SeglogError) {
    switch (err.code) {
      case 'ERR_CORRUPT':
        return { exitCode: ExitCode.DataFault, message: err.message,
          hint: `run \`seglog verify ${t}\` for every fault, then \`seglog repair ${t} --dry-run\` to see what a repair would cut` }
      case 'ERR_FORMAT_VERSION':
        return { exitCode: ExitCode.DataFault, message: err.message, hint: 'this data was written by a newer seglog: upgrade seglog to read it (do not repair it)' }
      case 'ERR_LOCKED': {
        const pid = err.details.pid
        const host = err.details.host
        const who = typeof pid === 'number' ? `process ${pid}${typeof host === 'string' ? ` on ${host}` : ''}` : 'another process'
        return { exitCode: ExitCode.Locked, message: `${t} is locked by a running writer (${who})`,
          hint: `stop that writer first; \`seglog info\`, \`cat\`, \`tail\` and \`verify\` work while it runs` }
      }
      case 'ERR_INVALID_ARGUMENT':
      case 'ERR_RECORD_TOO_LARGE':
      case 'ERR_OFFSET_OUT_OF_RANGE':
      case 'ERR_READ_ONLY':
      case 'ERR_NOT_FOUND':
        return { exitCode: ExitCode.Usage, message: err.message }
      case 'ERR_STORE':
        return { exitCode: ExitCode.Io, message: err.message,
          hint: 'check the URL, --endpoint, credentials (the AWS SDK chain, or --connection-string / AZURE_STORAGE_CONNECTION_STRING) and that the store is reachable, then retry' }
      case 'ERR_CONFLICT':
        return { exitCode: ExitCode.Io, message: err.message, hint: 'another writer changed the store at the same time; retry' }
      case 'ERR_IO':
        return { exitCode: ExitCode.Io, message: err.message, hint: 'check free space and permissions, then retry: reopening recovers everything acknowledged' }
      default:
        return { exitCode: ExitCode.Io, message: err.message }
    }
  }
  const errno = (err as NodeJS.ErrnoException | undefined)?.code
  if (typeof errno === 'string' && IO_ERRNOS.has(errno)) {
    return { exitCode: ExitCode.Io, message: (err as Error).message, hint: 'check the path, permissions and free space, then retry' }
  }
  const message = err instanceof Error ? err.message : String(err)
  // Anything else is a bug in seglog: say so rather than blame the user's disk.
  return { exitCode: ExitCode.Io, message: `unexpected error: ${message}`,
    hint: 'this may be a bug in seglog: run again with SEGLOG_DEBUG=1 for the stack trace and report it' }
}
