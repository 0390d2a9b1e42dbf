// Finds the keys under a prefix in FsStore's folder tree: the files below the root whose path,
// read as a key, starts with the prefix. Links are not objects and are never followed, so a
// folder reached through one lists nothing; the temporary-file folder at the root is skipped.
import type { Dirent } from 'node:fs'
import fsp from 'node:fs/promises'
import * as path from 'node:path'

function missing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOENT' || code === 'ENOTDIR'
}

/**
 * The keys starting with `prefix` in the tree under `root`, walking from the folder `baseKey` (the
 * prefix up to its last `/`), unsorted. Descends only into folders where keys below could still
 * match. A folder that vanishes while walked lists nothing; other errors are thrown as they are.
 */
export async function keysUnder(root: string, baseKey: string, prefix: string, skipAtRoot: string): Promise<string[]> {
  const keys: string[] = []
  const walk = async (dirKey: string): Promise<void> => {
    const dir = dirKey === '' ? root : path.join(root, ...dirKey.split('/'))
    let entries: Dirent[]
    try {
      if (dirKey !== '' && (await fsp.lstat(dir)).isSymbolicLink()) return
      entries = await fsp.readdir(dir, { withFileTypes: true })
    } catch (err) {
      if (missing(err)) return
      throw err
    }
    for (const e of entries) {
      if (dirKey === '' && e.name === skipAtRoot) continue
      const k = dirKey === '' ? e.name : `${dirKey}/${e.name}`
      if (e.isDirectory()) {
        if (prefix.startsWith(`${k}/`) || `${k}/`.startsWith(prefix)) await walk(k)
      } else if (e.isFile() && k.startsWith(prefix)) {
        keys.push(k)
      }
    }
  }
  await walk(baseKey)
  return keys
}
