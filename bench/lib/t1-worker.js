// T1 worker: connects a LogWriter to the log's handle and appends records [from, to).
import { parentPort, workerData } from 'node:worker_threads'
import { pathToFileURL } from 'node:url'
import { Payloads } from './payload.js'

const { handle, from, to, count, recordBytes, seed, entry } = workerData
const { LogWriter } = await import(pathToFileURL(entry).href)
const payloads = new Payloads(count, recordBytes, seed)
const recs = payloads.array(from, to)
const w = await LogWriter.connect(handle)
parentPort.postMessage({ ready: true })
parentPort.once('message', async () => {
  try {
    let p
    for (let i = 0; i < recs.length; i++) {
      p = w.append(recs[i])
      if ((i + 1) % 1000 === 0) await p
    }
    await p
    await w.close?.()
    parentPort.postMessage({ done: true })
  } catch (e) {
    parentPort.postMessage({ error: String(e?.stack ?? e) })
  }
})
