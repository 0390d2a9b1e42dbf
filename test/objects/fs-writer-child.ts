// A writer process for the FsStore temp-file tests: starts a put of `size` bytes into the store at
// `root` and stops halfway through writing the temporary file (FileHandle.writeFile writes half,
// tells the parent "mid-write", and never returns), so the parent can watch a live writer and then
// SIGKILL it mid-write. argv: <root> <key> <size>.
import { promises as fsp } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { FsStore } from '../../src/objects/fs.js'

// `node --test dist/test/` also loads this file: do nothing unless forked by the test.
if (process.env.SEGLOG_TEST_CHILD !== 'fs-writer') process.exit(0)
const [root, key, size] = process.argv.slice(2)

const probe = await fsp.open(path.join(tmpdir(), `seglog-probe-${process.pid}`), 'w')
const proto = Object.getPrototypeOf(probe) as { writeFile: (this: fsp.FileHandle, data: Uint8Array) => Promise<void> }
await probe.close()
await fsp.rm(path.join(tmpdir(), `seglog-probe-${process.pid}`), { force: true })
proto.writeFile = async function (this: fsp.FileHandle, data: Uint8Array): Promise<void> {
  await this.write(data.subarray(0, data.length >> 1))
  process.send?.('mid-write')
  // Stay alive, stuck mid-write, until killed: a pending promise alone does not keep Node running.
  setInterval(() => undefined, 1 << 30)
  await new Promise<never>(() => undefined)
}
await new FsStore({ root }).put(key, Buffer.alloc(Number(size), 7))
