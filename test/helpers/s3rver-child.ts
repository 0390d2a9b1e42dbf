// Runs s3rver in its own process (started by test/helpers/servers.ts with
// NODE_OPTIONS=--openssl-legacy-provider, which s3rver 3.7 needs for listings past 1,000 keys).
// argv: <directory> <port> <bucket...>. Prints {"port": n} on stdout once listening.
import { createRequire } from 'node:module'

interface S3rverLike { run(): Promise<{ port: number }>; close(): Promise<void> }
const require = createRequire(import.meta.url)
const S3rver = require('s3rver') as new (opts: Record<string, unknown>) => S3rverLike

// `node --test dist/test/` also loads this file: do nothing unless started by servers.ts.
if (process.env.SEGLOG_TEST_CHILD !== 's3rver') process.exit(0)
const [directory, port, ...buckets] = process.argv.slice(2)
const server = new S3rver({
  address: '127.0.0.1', port: Number(port), silent: true, directory,
  configureBuckets: buckets.map((name) => ({ name })),
  allowMismatchedSignatures: true,
})
const addr = await server.run()
process.stdout.write(`${JSON.stringify({ port: addr.port })}\n`)
const stop = (): void => { server.close().finally(() => process.exit(0)) }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
// The parent holds our stdin open: when it goes away (even killed), stop too.
process.stdin.on('end', stop)
process.stdin.on('error', stop)
process.stdin.resume()
