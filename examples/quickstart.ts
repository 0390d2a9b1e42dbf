// `npm start`: appends to a log in a temporary directory, closes it, reopens it (recovery),
// and reads everything back — printing what it did at each step.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Log } from '../src/index.js'

const dir = process.argv[2] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'seglog-quickstart-'))
console.log(`log directory: ${dir}`)

const log = await Log.open(dir, { sync: 'always' })
console.log(log.nextOffset === log.firstOffset ? 'opened: the log is empty' : `opened: records ${log.firstOffset} to ${log.nextOffset - 1}`)

const started = performance.now()
const offsets = await Promise.all(Array.from({ length: 1000 }, (_, i) =>
  log.append(JSON.stringify({ event: 'order-placed', id: i, at: new Date().toISOString() }))))
const ms = performance.now() - started
console.log(`appended 1000 records durably (offsets ${offsets[0]}..${offsets.at(-1)}) in ${ms.toFixed(1)} ms with group commit`)

const batch = await log.appendBatch(['batch-a', 'batch-b', 'batch-c'])
console.log(`appended an atomic batch at offsets ${batch.first}..${batch.last}; every offset below ${log.durableOffset} is durable`)
await log.close()
console.log('closed cleanly')

const again = await Log.open(dir)
const r = again.recovery
console.log(`reopened in ${r.durationMs.toFixed(2)} ms: clean=${r.clean}, scanned ${r.scannedBytes} bytes, next offset ${again.nextOffset}`)

const third = await again.read(offsets[2])
console.log(`read(${offsets[2]}) -> ${third?.data.toString()}`)
let count = 0
let last = ''
for await (const rec of again.iterate({ from: again.firstOffset })) {
  count++
  last = rec.data.toString()
}
console.log(`iterated ${count} records in order; the last is "${last}"`)
const report = await Log.verify(dir)
console.log(`verify: ok=${report.ok}, ${report.segments} segment(s), ${report.batches} batches, ${report.records} records, ${report.bytes} bytes`)
await again.close()
if (process.argv[2] === undefined) fs.rmSync(dir, { recursive: true, force: true })
