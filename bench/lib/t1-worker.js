// T1 worker: connects a LogWriter to the log's handle and appends records [from, to).
// A pipelining caller's loop: appendNoWait() per record and `await flush()` every 1,000th, the
// same rhythm as W1s's `append()` loop that awaits every 1,000th promise. Builds without
// appendNoWait (before issue 13's third session) run that W1s loop with append() instead.
import { parentPort, workerData } from 'node:worker_threads'
import { pathToFileURL } from 'node:url'
import { Payloads } from './payload.js'

const { handle, from, to, count, recordBytes, seed, entry } = workerData
const { LogWriter } = await import(pathToFileURL(entry).href)
const payloads = new Payloads(count, recordBytes, seed)
const recs = payloads.array(from, to)
const w = await LogWriter.connect(handle)
const api = typeof w.appendNoWait === 'function' && typeof w.flush === 'function' ? 'appendNoWait' : 'append'
parentPort.postMessage({ ready: true, api })
parentPort.once('message', async () => {
  try {
    if (api === 'appendNoWait') {
      for (let i = 0; i < recs.length; i++) {
        w.appendNoWait(recs[i])
        if ((i + 1) % 1000 === 0) await w.flush()
      }
      await w.flush()
    } else {
      let p
      for (let i = 0; i < recs.length; i++) {
        p = w.append(recs[i])
        if ((i + 1) % 1000 === 0) await p
      }
      await p
    }
    await w.close?.()
    parentPort.postMessage({ done: true })
  } catch (e) {
    parentPort.postMessage({ error: String(e?.stack ?? e) })
  }
})
