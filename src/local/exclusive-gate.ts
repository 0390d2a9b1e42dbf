/**
 * The exclusive gate (rule 18): truncate(), deleteBefore() and close() change files one at a
 * time, and while one runs, appends, reads and cursors wait for it and every background job
 * (interval sync, retention) skips its turn.
 */
export class ExclusiveGate {
  /** Settles when the running exclusive operation ends; undefined when none runs. */
  current: Promise<unknown> | undefined

  /** Runs `job` once no other exclusive operation runs; others wait for it. */
  async run<T>(job: () => Promise<T>): Promise<T> {
    while (this.current) await this.current
    const run = job()
    const gate = run.then(() => undefined, () => undefined)
    this.current = gate
    try {
      return await run
    } finally {
      if (this.current === gate) this.current = undefined
    }
  }

  /** Closes the gate until the returned function is called (close() holds it to the end). */
  hold(): () => void {
    let release: () => void = () => undefined
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    this.current = held
    return () => {
      if (this.current === held) this.current = undefined
      release()
    }
  }

  /** Resolves once no exclusive operation runs. */
  async idle(): Promise<void> {
    while (this.current) await this.current
  }
}
