// Runs the real `seglog` binary (the compiled dist/src/cli/main.js) in a child process.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** The compiled entry point the package's `bin` points at. */
export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url))

/** What a finished run printed and how it exited. */
export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stdoutBytes: Buffer
  stderr: string
}

/** Options of {@link runCli}. */
export interface RunOptions {
  /** Written to stdin, which is then closed (stdin is closed at once when absent). */
  input?: string | Buffer
  env?: NodeJS.ProcessEnv
  cwd?: string
}

function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra }
  // The test runner's own flags must not leak into the CLI.
  delete env.NODE_TEST_CONTEXT
  return env
}

/** Runs `seglog ...args` to completion. */
export function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: childEnv(options.env), cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (d: Buffer) => out.push(d))
    child.stderr.on('data', (d: Buffer) => err.push(d))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      const stdoutBytes = Buffer.concat(out)
      resolve({ code, signal, stdout: stdoutBytes.toString('utf8'), stdoutBytes, stderr: Buffer.concat(err).toString('utf8') })
    })
    child.stdin.on('error', () => undefined)
    child.stdin.end(options.input ?? '')
  })
}

/** A long-running CLI (tail -f) whose output lines can be awaited. */
export interface LiveCli {
  child: ChildProcess
  /** Every complete stdout line so far. */
  lines: string[]
  /** Resolves once at least `n` stdout lines have arrived. */
  waitForLines(n: number, timeoutMs?: number): Promise<string[]>
  /** Resolves with the exit code once the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>
}

/** Starts `seglog ...args` and keeps it running. */
export function startCli(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): LiveCli {
  const child = spawn(process.execPath, [CLI, ...args], { env: childEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  let partial = ''
  let stderr = ''
  const waiters: (() => void)[] = []
  child.stdout.on('data', (d: Buffer) => {
    partial += d.toString('utf8')
    const parts = partial.split('\n')
    partial = parts.pop() ?? ''
    lines.push(...parts)
    for (const w of waiters.splice(0)) w()
  })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8') })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.on('close', (code, signal) => {
      for (const w of waiters.splice(0)) w()
      resolve({ code, signal, stderr })
    })
  })
  const waitForLines = (n: number, timeoutMs = 15_000): Promise<string[]> => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`expected ${n} lines within ${timeoutMs} ms, got ${lines.length}: ${JSON.stringify(lines)}; stderr: ${stderr}`)), timeoutMs)
    const check = (): void => {
      if (lines.length >= n) { clearTimeout(timer); resolve(lines.slice()); return }
      if (child.exitCode !== null || child.signalCode !== null) {
        clearTimeout(timer)
        reject(new Error(`seglog exited (${child.exitCode ?? child.signalCode}) after ${lines.length} of ${n} lines; stderr: ${stderr}`))
        return
      }
      waiters.push(check)
    }
    check()
  })
  return { child, lines, waitForLines, exited }
}

/** Parses NDJSON output. */
export function ndjson(text: string): Record<string, unknown>[] {
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
}
