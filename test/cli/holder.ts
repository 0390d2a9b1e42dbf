// Child process: holds a log open for writing (the lock) and appends a record for each line read
// on stdin, printing "appended N" after each durable append; exits when stdin closes.
import { createInterface } from 'node:readline'
import { Log } from '../../src/index.js'

const log = await Log.open(process.argv[2])
process.stdout.write(`ready ${process.pid}\n`)
for await (const line of createInterface({ input: process.stdin })) {
  const off = await log.append(line)
  process.stdout.write(`appended ${off}\n`)
}
await log.close()
