#!/usr/bin/env node
/**
 * Entry point of the `seglog` command (package `bin`). Parses the command line, runs one command
 * and exits with a code from {@link ExitCode}; see `seglog --help`.
 */
import { CommanderError } from 'commander'
import { SeglogError } from '../index.js'
import type { CommandContext } from './context.js'
import { describeFailure, ExitCode, type ExitCodeValue } from './errors.js'
import { buildProgram } from './program.js'
import { messages, Output, StdoutClosed } from './ui.js'

/** Runs the CLI with `argv` (without node and script) and resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const interrupt = new AbortController()
  let signals = 0
  const onSignal = (signal: NodeJS.Signals): void => {
    // The first Ctrl-C ends the command cleanly (logs closed, output flushed); a second one forces.
    if (++signals > 1) process.exit(signal === 'SIGINT' ? ExitCode.Interrupted : 143)
    interrupt.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  const out = new Output()
  const ctx: CommandContext = { signal: interrupt.signal, out }
  let exitCode: number = ExitCode.Ok
  const run = async (work: (ctx: CommandContext) => Promise<ExitCodeValue>, target?: string): Promise<void> => {
    try {
      exitCode = await work(ctx)
      await out.flush()
    } catch (err) {
      if (err instanceof StdoutClosed || out.isClosed) {
        // `seglog cat | head`: the reader has what it wanted.
        exitCode = ExitCode.Ok
        return
      }
      if (interrupt.signal.aborted && !(err instanceof SeglogError)) {
        // Ctrl-C tore down something mid-flight (stdin, a request): that is the interruption itself.
        exitCode = ExitCode.Interrupted
        return
      }
      const failure = describeFailure(err, target)
      messages.error(failure.message, failure.hint)
      if (process.env.SEGLOG_DEBUG && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`)
      exitCode = failure.exitCode
    }
  }
  const program = buildProgram(run)
  try {
    await program.parseAsync([...argv], { from: 'user' })
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end through here with exit code 0; every parse error is a usage error.
      return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage
    }
    throw err
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  return exitCode
}

const code = await main(process.argv.slice(2))
// Exit explicitly: store clients and file watchers may hold the event loop open. stdout writes to
// pipes and files are synchronous on Linux, and the callback waits for a terminal's.
process.stdout.write('', () => process.exit(code))
