/**
 * Internal assertions in the TigerBeetle style: cheap checks of what the code itself guarantees,
 * written as `if (!(cond)) throw invariantViolated('name', { facts })` so that nothing is built
 * unless the check fails. A violation is a bug in seglog (or shared memory written by something
 * else), never a condition a caller handles: it is not a {@link SeglogError}, and the component
 * that catches it fails closed, keeping it as the `cause` of the error it reports.
 *
 * @internal
 */

/** Thrown when an invariant does not hold. `invariant` names the rule that broke. */
export class InvariantError extends Error {
  /** The rule that broke, e.g. `'published frame length is nonzero'`. */
  readonly invariant: string
  /** The values that contradict it. */
  readonly facts: Readonly<Record<string, number | string>>

  constructor(invariant: string, facts: Readonly<Record<string, number | string>>) {
    const list = Object.entries(facts).map(([k, v]) => `${k}=${String(v)}`).join(', ')
    super(`seglog internal invariant violated: ${invariant}${list === '' ? '' : ` (${list})`}; this is a bug, please report it`)
    this.name = 'InvariantError'
    this.invariant = invariant
    this.facts = facts
  }
}

/** Builds the error for a broken invariant (call it only on the failing branch). */
export function invariantViolated(invariant: string, facts: Readonly<Record<string, number | string>> = {}): InvariantError {
  return new InvariantError(invariant, facts)
}
