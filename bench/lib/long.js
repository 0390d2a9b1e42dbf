// Long-run mode: append far more than the page cache holds (1 KiB records, batches of 1,000,
// a sync every 256 MB), report MB/s per interval, then read everything back (checked) and
// report the read rate too. One child process per peer, one peer after the other.
import fs from 'node:fs'
import path from 'node:path'
import { spawn } from 'node:child_process'

export async function runLong({ peers, infos, gb, baseDir, bench }) {
  const recordBytes = 1024
  const batch = 1000
  const syncEveryMB = 256
  const out = { gb, recordBytes, batch, syncEveryMB, peers: {} }
  for (const p of peers) {
    if (infos[p]?.unavailable) {
      out.peers[p] = { ok: false, error: infos[p].unavailable }
      continue
    }
    if (infos[p]?.writeOnly || infos[p]?.only) {
      out.peers[p] = { ok: false, error: 'not supported in long mode' }
      continue
    }
    const st = fs.statfsSync(baseDir)
    const freeBytes = st.bavail * st.bsize
    let bytes = gb * 1e9
    if (bytes > freeBytes - 4e9) {
      bytes = Math.max(0, freeBytes - 4e9)
      console.log(`bench long: only ${(freeBytes / 1e9).toFixed(1)} GB free: ${p} appends ${(bytes / 1e9).toFixed(1)} GB`)
    }
    const count = Math.floor(bytes / recordBytes / batch) * batch
    const dir = path.join(baseDir, `long-${p}`)
    console.log(`bench long: ${p}: appending ${(count * recordBytes / 1e9).toFixed(2)} GB in ${recordBytes} B records ...`)
    const spec = { peer: p, phase: 'long', workload: 'long', dir, count, recordBytes, batch, syncEveryBytes: syncEveryMB * 1e6 }
    out.peers[p] = await new Promise((resolve) => {
      const child = spawn(process.execPath, [path.join(bench, 'lib', 'phase.js'), JSON.stringify(spec)], { cwd: bench, stdio: ['ignore', 'pipe', 'inherit'] })
      let buf = ''
      let result = null
      child.stdout.on('data', (d) => {
        buf += d
        let i
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i)
          buf = buf.slice(i + 1)
          if (line.startsWith('@@PROGRESS ')) {
            const x = JSON.parse(line.slice(11))
            console.log(`  ${p.padEnd(8)} ${x.GB.toFixed(2).padStart(7)} GB  ${x.MBps.toFixed(0).padStart(6)} MB/s  (${x.seconds.toFixed(1)} s)`)
          } else if (line.startsWith('@@RESULT ')) result = JSON.parse(line.slice(9))
        }
      })
      child.on('close', (code) => resolve(result ?? { ok: false, error: `exit ${code}` }))
    })
    const r = out.peers[p]
    console.log(`bench long: ${p}: ${r.ok ? `${r.MBps?.toFixed(0)} MB/s overall, read back ${r.readMBps?.toFixed(0)} MB/s, checked ok` : `FAILED ${r.error}`}`)
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return out
}
