/**
 * Command-line flags that carry values, checked by the library's one option checker
 * (src/option-schema.ts) as commander parses them: a bad value is a usage error (exit 2) naming the
 * flag, before the command touches any file or store.
 *
 * Flags that become `Log.open` options use the same limits as `Log.open` (test/cli/flags.test.ts
 * checks that the two agree at every boundary), so the CLI refuses exactly what the library would.
 */
import { InvalidArgumentError } from 'commander'
import type { SyncMode } from '../index.js'
import { opt, type Rule } from '../option-schema.js'

const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

/** A non-negative integer (offsets, counts, milliseconds that may be 0). */
export const countRule: Rule<number> = opt.custom('a non-negative integer', isCount)
/** A positive integer. */
export const positiveRule: Rule<number> = opt.custom('a positive integer', (v) => isCount(v) && (v as number) >= 1)
/** `--segment-bytes`: Log.open's `segmentBytes`. */
export const segmentBytesRule: Rule<number> = opt.integer(1024, 1 << 30)
/** `--sync`: Log.open's `sync`, with a number standing for `{ intervalMs }`. */
export const syncRule: Rule<'always' | 'never' | number> = opt.anyOf(opt.oneOf('always', 'never'), opt.integer(1, 3_600_000))

/** Flag text as a value for a rule: digits become a number, anything else stays text (and is refused by numeric rules). */
function fromText(raw: string): unknown {
  return /^\d+$/.test(raw) ? Number(raw) : raw
}

/**
 * A commander argument parser for `flag`: converts the text and checks it with `rule`, throwing
 * commander's InvalidArgumentError (a usage error, exit 2) that names the flag and what it takes.
 */
export function flagValue<T>(flag: string, rule: Rule<T>): (raw: string) => T {
  return (raw) => {
    try {
      return rule.check(fromText(raw), flag, 'seglog')
    } catch {
      throw new InvalidArgumentError(`${flag} must be ${rule.expects}; got "${raw}"`)
    }
  }
}

/** The `sync` option of Log.open for a checked `--sync` value. */
export function syncMode(value: 'always' | 'never' | number): SyncMode {
  return typeof value === 'number' ? { intervalMs: value } : value
}
