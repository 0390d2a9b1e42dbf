// Starts real storage servers for tests on 127.0.0.1 (random free ports) and stops them after:
// s3rver (in a child process with --openssl-legacy-provider), an enforcing conditional-write proxy
// in front of it, and Azurite's blob service. Reused by the CLI and fault tests.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import * as net from 'node:net'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startS3Proxy, type S3Proxy } from './s3proxy.js'

export type { S3Proxy, ProxyFault } from './s3proxy.js'

// Tests run on Node 20; the AWS SDK warns that releases after January 2027 need Node 22.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

const here = path.dirname(fileURLToPath(import.meta.url))
/** The repository root (dist/test/helpers → ../../..). */
export const repoRoot = path.resolve(here, '..', '..', '..')

/** Fixed credentials s3rver accepts. */
export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }

/** A running S3 endpoint. */
export interface S3Server {
  /** Endpoint of the enforcing proxy (conditional writes honoured); use this one by default. */
  endpoint: string
  /** Endpoint of s3rver itself (ignores If-None-Match / If-Match). */
  rawEndpoint: string
  bucket: string
  region: string
  credentials: { accessKeyId: string; secretAccessKey: string }
  /** The proxy: recorded requests, fault injection. */
  proxy: S3Proxy
  /** Options to spread into `new S3Store({...})`. */
  storeOptions: { bucket: string; endpoint: string; region: string; forcePathStyle: true; credentials: { accessKeyId: string; secretAccessKey: string } }
  /** Stops s3rver (the proxy keeps its port and answers 502 meanwhile). */
  kill(): Promise<void>
  /** Starts s3rver again on the same data directory. */
  restart(): Promise<void>
  /** Stops everything and removes the data. */
  stop(): Promise<void>
}

/** A free TCP port on 127.0.0.1 (closed again before returning). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port
      srv.close(() => resolve(port))
    })
  })
}

function waitForLine(child: ChildProcess, test: (line: string) => RegExpExecArray | null, what: string, timeoutMs = 30_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let buf = ''
    let err = ''
    const timer = setTimeout(() => { cleanup(); reject(new Error(`${what} did not start within ${timeoutMs} ms: ${err}`)) }, timeoutMs)
    const onData = (d: Buffer): void => {
      buf += d.toString()
      for (const line of buf.split('\n')) {
        const m = test(line)
        if (m !== null) { cleanup(); resolve(m); return }
      }
    }
    const onErr = (d: Buffer): void => { err += d.toString() }
    const onExit = (code: number | null): void => { cleanup(); reject(new Error(`${what} exited with ${code}: ${err}`)) }
    const cleanup = (): void => {
      clearTimeout(timer)
      child.stdout?.off('data', onData)
      child.stderr?.off('data', onErr)
      child.off('exit', onExit)
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onErr)
    child.once('exit', onExit)
  })
}

// Servers still running when the test process exits (a failed test, a forgotten stop()) are
// killed with it rather than left behind.
const live = new Set<ChildProcess>()
let exitHook = false
function track(child: ChildProcess): void {
  if (!exitHook) { exitHook = true; process.once('exit', () => { for (const c of live) c.kill('SIGKILL') }) }
  live.add(child)
  child.once('exit', () => live.delete(child))
}

async function killChild(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => { child.kill('SIGKILL') }, 5000)
    child.once('exit', () => { clearTimeout(t); resolve() })
    child.kill('SIGTERM')
  })
}

/** Starts s3rver (with `bucket`, default `seglog-test`) and the enforcing proxy in front of it. */
export async function startS3(options: { bucket?: string } = {}): Promise<S3Server> {
  const bucket = options.bucket ?? 'seglog-test'
  const dir = await mkdtemp(path.join(tmpdir(), 'seglog-s3rver-'))
  let port = 0
  let child: ChildProcess | undefined
  const launch = async (): Promise<void> => {
    child = spawn(process.execPath, [path.join(here, 's3rver-child.js'), dir, String(port), bucket], {
      env: { ...process.env, SEGLOG_TEST_CHILD: 's3rver', NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --openssl-legacy-provider`.trim() },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    track(child)
    const m = await waitForLine(child, (l) => /^\{"port":(\d+)\}/.exec(l), 's3rver')
    port = Number(m[1])
    child.stdout?.resume()
    child.stderr?.resume()
  }
  await launch()
  const proxy = await startS3Proxy(port)
  const region = 'us-east-1'
  return {
    endpoint: proxy.endpoint,
    rawEndpoint: `http://127.0.0.1:${port}`,
    bucket,
    region,
    credentials: S3_CREDENTIALS,
    proxy,
    storeOptions: { bucket, endpoint: proxy.endpoint, region, forcePathStyle: true, credentials: S3_CREDENTIALS },
    kill: () => killChild(child),
    restart: async () => { await killChild(child); await launch(); proxy.setUpstream(port) },
    stop: async () => {
      await proxy.stop()
      await killChild(child)
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** Azurite's well-known development account key. */
export const AZURITE_ACCOUNT = 'devstoreaccount1'
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

/** A running Azurite blob service. */
export interface AzuriteServer {
  connectionString: string
  /** A container created for the caller. */
  container: string
  port: number
  /** Stops the process (data on disk is kept). */
  kill(): Promise<void>
  /** Starts it again on the same port and data. */
  restart(): Promise<void>
  /** Stops it and removes the data. */
  stop(): Promise<void>
}

/**
 * Starts Azurite's blob service on a free loopback port with a temporary --location (so it can
 * be restarted with its data), and creates `container` (default `seglog-test`).
 */
export async function startAzurite(options: { container?: string } = {}): Promise<AzuriteServer> {
  const container = options.container ?? 'seglog-test'
  const dir = await mkdtemp(path.join(tmpdir(), 'seglog-azurite-'))
  let child: ChildProcess | undefined
  let port = 0
  const bin = path.join(repoRoot, 'node_modules', 'azurite', 'dist', 'src', 'blob', 'main.js')
  const launch = async (): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      child = spawn(process.execPath, [bin, '--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', dir,
        '--silent', '--skipApiVersionCheck', '--disableTelemetry', '--loose'], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir })
      track(child)
      try {
        const m = await waitForLine(child, (l) => /successfully list\w+ (?:at|on) http:\/\/127\.0\.0\.1:(\d+)/.exec(l), 'azurite')
        port = Number(m[1])
        child.stdout?.resume()
        child.stderr?.resume()
        return
      } catch (err) {
        await killChild(child)
        if (attempt >= 3) throw err
      }
    }
  }
  await launch()
  const connectionString = `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=http://127.0.0.1:${port}/${AZURITE_ACCOUNT};`
  const { BlobServiceClient } = await import('@azure/storage-blob')
  await BlobServiceClient.fromConnectionString(connectionString).getContainerClient(container).createIfNotExists()
  return {
    connectionString,
    container,
    port,
    kill: () => killChild(child),
    restart: async () => { await killChild(child); await launch() },
    stop: async () => { await killChild(child); await rm(dir, { recursive: true, force: true }) },
  }
}
