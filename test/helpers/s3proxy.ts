// An HTTP proxy in front of s3rver that enforces S3 conditional writes (If-None-Match: *, If-Match)
// for PUT, which s3rver ignores, and answers them as AWS S3 does (412 PreconditionFailed when the
// object exists or changed, 404 NoSuchKey for If-Match on a missing key), records the headers it
// sees, and injects faults on demand.
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'

/** A fault the proxy applies to the next matching request. */
export interface ProxyFault {
  /** Which requests: method and/or a substring of the path. */
  method?: string
  pathIncludes?: string
  /** 'status': answer with `status` without forwarding; 'reset': destroy the socket without
   *  forwarding; 'drop-response': forward, then destroy the socket (the write landed);
   *  'ignore-range': forward without the Range header (a server that answers 200 with the whole
   *  object, as HTTP allows); 'shift-range': answer a ranged GET with the bytes one further on
   *  and a Content-Range that says so (a server that returns a range other than the one asked). */
  kind: 'status' | 'reset' | 'drop-response' | 'ignore-range' | 'shift-range'
  status?: number
  /** How many requests to hit (default 1). */
  times?: number
}

/** A running proxy. */
export interface S3Proxy {
  endpoint: string
  port: number
  /** Every request seen: method, path (with query), and lower-cased headers. */
  requests: { method: string; path: string; headers: http.IncomingHttpHeaders }[]
  /** Queue a fault. */
  inject(fault: ProxyFault): void
  /** Point at another upstream port (after a restart). */
  setUpstream(port: number): void
  stop(): Promise<void>
}

function xmlError(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`
}

/** Starts the enforcing proxy on 127.0.0.1 (random port) in front of `upstreamPort`. */
export async function startS3Proxy(upstreamPort: number, port = 0): Promise<S3Proxy> {
  let upstream = upstreamPort
  const faults: (ProxyFault & { left: number })[] = []
  const requests: S3Proxy['requests'] = []
  const locks = new Map<string, Promise<void>>()
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 })

  const forward = (req: http.IncomingMessage, body: Buffer, method = req.method ?? 'GET', urlPath = req.url, dropRange = false, rangeOverride?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const headers = { ...req.headers }
      delete headers['if-none-match']
      delete headers['if-match']
      if (method === 'HEAD' || method === 'GET') delete headers['content-length']
      if (dropRange) delete headers.range
      if (rangeOverride !== undefined) headers.range = rangeOverride
      const sent = method === req.method ? { ...headers, 'content-length': String(body.length) } : { host: headers.host ?? '' }
      const r = http.request({ host: '127.0.0.1', port: upstream, method, path: urlPath, headers: sent, agent }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode ?? 500, headers: res.headers, body: Buffer.concat(chunks) }))
        res.on('error', reject)
      })
      r.on('error', reject)
      r.end(method === 'HEAD' ? undefined : body)
    })

  const withLock = async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const prev = locks.get(key) ?? Promise.resolve()
    let release!: () => void
    const mine = new Promise<void>((r) => { release = r })
    const tail = prev.then(() => mine)
    locks.set(key, tail)
    await prev
    try { return await fn() } finally { release(); if (locks.get(key) === tail) locks.delete(key) }
  }

  // s3rver answers a PUT before its file write finishes (it ends the write stream and resolves at
  // once), so a read right after the answer can see an empty or partial body under the new ETag
  // (seen on Node 22: an if-match counter read "" as 0 and reset itself). S3 is read-after-write
  // consistent: hold the answer until a read returns the bytes written (bounded; s3rver's write is
  // already under way, there is no event to wait for).
  const putSettled = async (req: http.IncomingMessage, body: Buffer, objectPath: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> => {
    const out = await forward(req, body)
    if (out.status !== 200) return out
    for (let i = 0; i < 200; i++) {
      // A failed read-back says nothing about the write, which s3rver already answered: read again.
      const back = await forward(req, Buffer.alloc(0), 'GET', objectPath).catch(() => undefined)
      if (back?.status === 200 && back.body.equals(body)) break
      await new Promise((resolve) => setTimeout(resolve, 1))
    }
    return out
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const method = req.method ?? 'GET'
      const path = req.url ?? '/'
      requests.push({ method, path, headers: req.headers })
      const fault = faults.find((f) => f.left > 0 && (f.method === undefined || f.method === method) && (f.pathIncludes === undefined || path.includes(f.pathIncludes)))
      if (fault !== undefined) fault.left--
      if (fault?.kind === 'reset') { req.socket.destroy(); return }
      if (fault?.kind === 'status') {
        const st = fault.status ?? 503
        res.writeHead(st, { 'content-type': 'application/xml' })
        res.end(xmlError(st === 503 ? 'SlowDown' : st === 409 ? 'ConditionalRequestConflict' : st === 412 ? 'PreconditionFailed' : 'InternalError', 'injected by the test proxy'))
        return
      }
      const run = async (): Promise<void> => {
        const noneMatch = req.headers['if-none-match']
        const ifMatch = req.headers['if-match']
        const objectPath = path.split('?')[0]
        let out
        if (method === 'PUT' && (noneMatch !== undefined || ifMatch !== undefined) && !/[?&](uploadId|partNumber)=/.test(path)) {
          out = await withLock(objectPath, async () => {
            const head = await forward(req, Buffer.alloc(0), 'HEAD', objectPath)
            const exists = head.status === 200
            if (noneMatch === '*' && exists) return { status: 412, headers: { 'content-type': 'application/xml' }, body: Buffer.from(xmlError('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold')) }
            if (ifMatch !== undefined && !exists) {
              return { status: 404, headers: { 'content-type': 'application/xml' }, body: Buffer.from(xmlError('NoSuchKey', 'The specified key does not exist.')) }
            }
            if (ifMatch !== undefined && head.headers.etag !== ifMatch) {
              return { status: 412, headers: { 'content-type': 'application/xml' }, body: Buffer.from(xmlError('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold')) }
            }
            return putSettled(req, body, objectPath)
          })
        } else if ((method === 'GET' || method === 'HEAD') && fault === undefined && objectPath.indexOf('/', 1) > 0) {
          // s3rver reads an object's metadata (ETag) and body apart, so a read racing a write can
          // pair the new ETag with the old body (seen on Node 24: an if-match counter lost updates).
          // S3 reads are atomic: reads of a key wait for the conditional writes on it.
          out = await withLock(objectPath, () => forward(req, body))
        } else if (method === 'PUT' && fault === undefined && !/[?&](uploadId|partNumber)=/.test(path) && objectPath.indexOf('/', 1) > 0) {
          out = await withLock(objectPath, () => putSettled(req, body, objectPath))
        } else if (fault?.kind === 'ignore-range') {
          out = await forward(req, body, method, req.url, true)
        } else if (fault?.kind === 'shift-range' && typeof req.headers.range === 'string') {
          const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range)
          const shifted = m === null ? req.headers.range : `bytes=${Number(m[1]) + 1}-${m[2] === '' ? '' : Number(m[2]) + 1}`
          out = await forward(req, body, method, req.url, false, shifted)
        } else {
          out = await forward(req, body)
        }
        if (fault?.kind === 'drop-response') { req.socket.destroy(); return }
        const headers = { ...out.headers }
        delete headers['transfer-encoding']
        delete headers.connection
        if (method !== 'HEAD') headers['content-length'] = String(out.body.length)
        res.writeHead(out.status, headers)
        res.end(method === 'HEAD' ? undefined : out.body)
      }
      run().catch(() => {
        if (!res.headersSent) { res.writeHead(502, { 'content-type': 'application/xml' }); res.end(xmlError('InternalError', 'upstream unavailable')) } else res.destroy()
      })
    })
  })
  // Node closes an idle keep-alive connection after 5 s; a client that reuses it at that moment
  // gets ECONNRESET on a request the proxy never saw. Keep idle connections for as long as a test
  // runs (stop() closes them all).
  server.keepAliveTimeout = 10 * 60_000
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve) })
  const p = (server.address() as AddressInfo).port
  return {
    endpoint: `http://127.0.0.1:${p}`,
    port: p,
    requests,
    inject: (f) => { faults.push({ ...f, left: f.times ?? 1 }) },
    setUpstream: (n) => { upstream = n },
    stop: () => new Promise<void>((resolve) => { agent.destroy(); server.closeAllConnections(); server.close(() => resolve()) }),
  }
}
