/**
 * An HTTP fault proxy to chain in front of an object store (s3rver's enforcing proxy, Azurite).
 * Each request draws, with a seeded PRNG, one of: forward untouched; answer 500 or 503 without
 * forwarding; throttle (503 with Retry-After); reset the connection before forwarding; forward and
 * cut the response mid-body; forward slowly; or forward and drop the response after the store has
 * acted on it (a PUT that succeeded but whose reply never arrived).
 */
import * as http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export type FaultKind = 'error500' | 'error503' | 'throttle' | 'reset' | 'resetMidBody' | 'slow' | 'lostResponse'

export interface FaultProxyOptions {
  /** Upstream base URL, e.g. `http://127.0.0.1:4567`. */
  upstream: string
  /** Chance of each fault per request (the rest are forwarded untouched). */
  rates: Partial<Record<FaultKind, number>>
  /** Only requests with these methods are faulted (default: all). */
  methods?: string[]
  /** Seeded random source. */
  rng: () => number
  /** Delay of a slow response, in ms (default 20–200). */
  slowMs?: [number, number]
}

export interface FaultProxy {
  endpoint: string
  port: number
  /** Faults applied so far, by kind. */
  counts: Record<FaultKind | 'forwarded', number>
  /** Turns fault injection on or off (off: a transparent proxy). */
  enabled: boolean
  stop(): Promise<void>
}

const ERROR_BODY = (code: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>injected by the fault proxy</Message></Error>`

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(options.upstream)
  const counts: FaultProxy['counts'] = { error500: 0, error503: 0, throttle: 0, reset: 0, resetMidBody: 0, slow: 0, lostResponse: 0, forwarded: 0 }
  const sockets = new Set<Socket>()
  const state = { enabled: true }
  const [slowLo, slowHi] = options.slowMs ?? [20, 200]

  const pick = (method: string): FaultKind | undefined => {
    if (!state.enabled || (options.methods && !options.methods.includes(method))) return undefined
    let r = options.rng()
    for (const [kind, rate] of Object.entries(options.rates) as [FaultKind, number][]) {
      if (r < rate) return kind
      r -= rate
    }
    return undefined
  }

  const forward = (req: http.IncomingMessage, body: Buffer, onResponse: (res: http.IncomingMessage, resBody: Buffer) => void, onError: (err: Error) => void): void => {
    const out = http.request({
      host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers,
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => onResponse(res, Buffer.concat(chunks)))
      res.on('error', onError)
    })
    out.on('error', onError)
    out.end(body)
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const fault = pick(req.method ?? 'GET')
      if (fault) counts[fault]++
      else counts.forwarded++
      const fail = (): void => { req.socket.destroy() }
      switch (fault) {
        case 'error500':
        case 'error503':
        case 'throttle': {
          const status = fault === 'error500' ? 500 : 503
          const code = fault === 'error500' ? 'InternalError' : fault === 'throttle' ? 'SlowDown' : 'ServiceUnavailable'
          res.writeHead(status, { 'content-type': 'application/xml', ...(fault === 'throttle' ? { 'retry-after': '0' } : {}), 'x-ms-error-code': code === 'SlowDown' ? 'ServerBusy' : code })
          res.end(req.method === 'HEAD' ? undefined : ERROR_BODY(code))
          return
        }
        case 'reset':
          fail()
          return
        default:
          break
      }
      const deliver = (up: http.IncomingMessage, upBody: Buffer): void => {
        if (fault === 'lostResponse') return fail()
        const headers = { ...up.headers }
        if (fault === 'resetMidBody' && upBody.length > 1) {
          res.writeHead(up.statusCode ?? 502, headers)
          res.write(upBody.subarray(0, Math.floor(upBody.length / 2)))
          setImmediate(fail)
          return
        }
        res.writeHead(up.statusCode ?? 502, headers)
        res.end(upBody)
      }
      const go = (): void => forward(req, body, deliver, fail)
      if (fault === 'slow') setTimeout(go, slowLo + Math.floor(options.rng() * (slowHi - slowLo)))
      else go()
    })
  })
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    counts,
    get enabled() { return state.enabled },
    set enabled(v: boolean) { state.enabled = v },
    stop: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    }),
  }
}
