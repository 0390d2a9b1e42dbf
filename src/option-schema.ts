/**
 * The one declarative option checker used by `Log.open`, `Journal.open`, the worker ring and the
 * CLI. A schema names every option and what it accepts; anything else fails with
 * `ERR_INVALID_ARGUMENT` naming the option, so `readOnly: 'false'` or a misspelt `segmentByte` can no
 * longer be silently taken for something else.
 */
import { SeglogError } from './errors.js'

/** Checks one option value. `path` is the option's dotted name, for messages. */
export interface Rule<T> {
  /** What the rule accepts, in words, for error messages ("an integer from 1 to 10"). */
  readonly expects: string
  check(value: unknown, path: string, where: string): T
  /** Set by {@link opt.object}: the nested shape. */
  readonly shape?: Shape
  /** Set by {@link opt.required}: the key must be present in its object. */
  readonly required?: boolean
}

/** A schema: every option name with its rule. Every option is optional (`undefined` passes). */
export type Shape = Record<string, Rule<unknown>>

/** The checked options object of a shape: each key optional, typed by its rule. */
type RequiredKeys<S extends Shape> = { [K in keyof S]: S[K] extends { required: true } ? K : never }[keyof S]
type Value<R> = R extends Rule<infer T> ? T : never
export type Checked<S extends Shape> =
  { [K in Exclude<keyof S, RequiredKeys<S>>]?: Value<S[K]> } & { [K in RequiredKeys<S>]: Value<S[K]> }

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  switch (typeof value) {
    case 'string': return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`
    case 'number': return Number.isNaN(value) ? 'NaN' : `the number ${value}`
    case 'boolean': return `the boolean ${value}`
    case 'function': return 'a function'
    case 'bigint': return `the bigint ${value}n`
    case 'object': return 'an object'
    default: return String(typeof value)
  }
}

/** The error for a value a rule refuses; `details.option` is the option's dotted name. */
export function badOption(where: string, path: string, expects: string, value: unknown): SeglogError<'ERR_INVALID_ARGUMENT'> {
  return new SeglogError('ERR_INVALID_ARGUMENT', `${where}: option ${path} must be ${expects}; got ${describe(value)}`, {
    details: { option: path },
  })
}

function rule<T>(expects: string, test: (value: unknown) => boolean): Rule<T> {
  return {
    expects,
    check(value, path, where) {
      if (!test(value)) throw badOption(where, path, expects, value)
      return value as T
    },
  }
}

/** Edit distance, to suggest the option a misspelt key probably meant. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1))
      diagonal = above
    }
  }
  return row[b.length]!
}

function unknownOption(where: string, path: string, key: string, known: string[]): SeglogError<'ERR_INVALID_ARGUMENT'> {
  const best = known.map((k) => ({ k, d: distance(key, k) })).sort((x, y) => x.d - y.d)[0]
  const hint = best && best.d <= Math.max(2, Math.floor(key.length / 3)) ? ` Did you mean '${best.k}'?` : ''
  const full = path ? `${path}.${key}` : key
  return new SeglogError('ERR_INVALID_ARGUMENT', `${where}: unknown option '${full}'.${hint} Known options${path ? ` of ${path}` : ''}: ${known.join(', ')}.`, {
    details: { option: full },
  })
}

function invalidOptions(where: string, value: unknown): never {
  throw new SeglogError('ERR_INVALID_ARGUMENT', `${where}: options must be an object (or omitted); got ${describe(value)}`)
}

function checkShape<S extends Shape>(value: unknown, shape: S, path: string, where: string): Checked<S> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    if (!path) return invalidOptions(where, value)
    throw badOption(where, path, `an object { ${Object.keys(shape).join(', ')} }`, value)
  }
  const known = Object.keys(shape)
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value)) {
    const sub = shape[key]
    if (!Object.hasOwn(shape, key) || sub === undefined) throw unknownOption(where, path, key, known)
    const v = (value as Record<string, unknown>)[key]
    if (v !== undefined) out[key] = sub.check(v, path ? `${path}.${key}` : key, where)
  }
  for (const key of known) {
    const sub = shape[key]!
    if (sub.required && out[key] === undefined) throw badOption(where, path ? `${path}.${key}` : key, sub.expects, undefined)
  }
  return out as Checked<S>
}

/** Rule builders. */
export const opt = {
  boolean: (): Rule<boolean> => rule('true or false', (v) => typeof v === 'boolean'),
  /** An integer in `[min, max]`. */
  integer: (min: number, max: number): Rule<number> =>
    rule(`an integer from ${min} to ${max}`, (v) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max),
  /** A finite number in `[min, max]`. */
  number: (min: number, max: number): Rule<number> =>
    rule(`a number from ${min} to ${max}`, (v) => typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max),
  /** A string; `nonEmpty` refuses `''`. */
  string: (nonEmpty = false): Rule<string> =>
    rule(nonEmpty ? 'a non-empty string' : 'a string', (v) => typeof v === 'string' && (!nonEmpty || v.length > 0)),
  /** One of the given strings. */
  oneOf: <T extends string>(...values: T[]): Rule<T> =>
    rule(values.map((v) => `'${v}'`).join(' or '), (v) => typeof v === 'string' && (values as string[]).includes(v)),
  /** A function. */
  func: <F>(): Rule<F> => rule('a function', (v) => typeof v === 'function'),
  /** An object with these methods (a seam such as a clock, a file system or a store). */
  implementing: <T>(what: string, methods: readonly string[]): Rule<T> =>
    rule(`${what} (an object with ${methods.map((m) => `${m}()`).join(', ')})`, (v) =>
      typeof v === 'object' && v !== null && methods.every((m) => typeof (v as Record<string, unknown>)[m] === 'function')),
  /** The same rule, but the key must be present (inside a nested object). */
  required: <T>(r: Rule<T>): Rule<T> & { required: true } => ({ ...r, required: true }),
  /** A nested options object, checked against its own shape (unknown keys refused). */
  object: <S extends Shape>(shape: S): Rule<Checked<S>> => ({
    expects: `an object { ${Object.keys(shape).join(', ')} }`,
    shape,
    check: (value, path, where) => checkShape(value, shape, path, where),
  }),
  /** The first rule that accepts the value. */
  anyOf: <A, B>(a: Rule<A>, b: Rule<B>): Rule<A | B> => ({
    expects: `${a.expects}, or ${b.expects}`,
    check(value, path, where) {
      let nested: unknown
      for (const r of [a, b] as Rule<A | B>[]) {
        try {
          return r.check(value, path, where)
        } catch (err) {
          // An object that fails a nested shape gets that shape's own, more precise message.
          if (r.shape && typeof value === 'object' && value !== null) nested = err
        }
      }
      throw nested ?? badOption(where, path, `${a.expects}, or ${b.expects}`, value)
    },
  }),
  /** Any value that `test` accepts. */
  custom: <T>(expects: string, test: (value: unknown) => boolean): Rule<T> => rule(expects, test),
}

/**
 * Checks `options` against `shape` for the API call `where` ("Log.open"): refuses a non-object,
 * unknown keys (suggesting the closest known one) and values of the wrong type or range. `undefined`
 * options mean "all defaults". Returns a copy with only the options given.
 */
export function checkOptions<S extends Shape>(where: string, options: unknown, shape: S): Checked<S> {
  if (options === undefined) options = {}
  return checkShape(options, shape, '', where)
}
