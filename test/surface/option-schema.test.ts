import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { isSeglogError } from '../../src/errors.js'
import { Log } from '../../src/index.js'
import { checkOptions, opt } from '../../src/option-schema.js'
import { tmpDir } from '../helpers/tmp.js'

const shape = {
  size: opt.integer(1, 100),
  mode: opt.oneOf('a', 'b'),
  flag: opt.boolean(),
  nested: opt.object({ need: opt.required(opt.integer(0, 9)), maybe: opt.string() }),
  either: opt.anyOf(opt.oneOf('x'), opt.object({ n: opt.required(opt.integer(0, 9)) })),
}

function refused(fn: () => unknown, option: string | undefined, message: RegExp): void {
  let err: unknown
  try { fn() } catch (e) { err = e }
  assert.ok(isSeglogError(err, 'ERR_INVALID_ARGUMENT'), `expected ERR_INVALID_ARGUMENT, got ${String(err)}`)
  assert.equal(err.details.option, option)
  assert.match(err.message, message)
}

describe('the option checker', () => {
  test('accepts every valid combination and returns only the options given', () => {
    assert.deepEqual(checkOptions('T', undefined, shape), {})
    assert.deepEqual(checkOptions('T', { size: 5, mode: 'b', flag: false, nested: { need: 0 }, either: { n: 3 } }, shape),
      { size: 5, mode: 'b', flag: false, nested: { need: 0 }, either: { n: 3 } })
    assert.deepEqual(checkOptions('T', { size: undefined, either: 'x' }, shape), { either: 'x' })
  })

  test('refuses unknown keys, suggesting the closest, at any depth', () => {
    refused(() => checkOptions('T', { sise: 1 }, shape), 'sise', /T: unknown option 'sise'\. Did you mean 'size'\?/)
    refused(() => checkOptions('T', { nested: { need: 1, mabye: 'q' } }, shape), 'nested.mabye', /Did you mean 'maybe'\?.*of nested/)
    refused(() => checkOptions('T', { zzzzzzzz: 1 }, shape), 'zzzzzzzz', /^(?!.*Did you mean)/)
    refused(() => checkOptions('T', { either: { n: 1, extra: 2 } }, shape), 'either.extra', /unknown option 'either.extra'/)
  })

  test('refuses wrong types and ranges, naming the option and what it accepts', () => {
    refused(() => checkOptions('T', { flag: 'false' }, shape), 'flag', /option flag must be true or false; got the string "false"/)
    refused(() => checkOptions('T', { size: 0 }, shape), 'size', /from 1 to 100; got the number 0/)
    refused(() => checkOptions('T', { size: 1.5 }, shape), 'size', /integer/)
    refused(() => checkOptions('T', { mode: 'c' }, shape), 'mode', /'a' or 'b'/)
    refused(() => checkOptions('T', { nested: {} }, shape), 'nested.need', /nested\.need must be an integer from 0 to 9; got undefined/)
    refused(() => checkOptions('T', { either: 'y' }, shape), 'either', /'x', or an object \{ n \}/)
    refused(() => checkOptions('T', 7, shape), undefined, /T: options must be an object/)
    refused(() => checkOptions('T', [], shape), undefined, /got an array/)
  })

  test('property: a value is accepted exactly when the integer rule holds', () => {
    fc.assert(fc.property(fc.anything(), (v) => {
      const ok = typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 100
      let accepted = true
      try { checkOptions('T', { size: v }, shape) } catch (err) {
        accepted = false
        assert.ok(isSeglogError(err, 'ERR_INVALID_ARGUMENT'))
      }
      assert.equal(accepted, ok || v === undefined)
    }))
  })
})

describe('Log.open options', () => {
  test("readOnly: 'false' and a misspelt option are refused, and the log's records are untouched", async (t) => {
    const dir = tmpDir(t, 'opts')
    const log = await Log.open(dir)
    await log.appendBatch([Buffer.from('a'), Buffer.from('b')])
    await log.close()
    for (const [options, option] of [[{ readOnly: 'false' }, 'readOnly'], [{ segmentByte: 4096 }, 'segmentByte'], [{ retention: { maxAge: 5 } }, 'retention.maxAge'], [{ sync: { intervalMs: 0 } }, 'sync.intervalMs']] as const) {
      const err: unknown = await Log.open(dir, options as never).then(async (l) => { await l.close(); return undefined }, (e: unknown) => e)
      assert.ok(isSeglogError(err, 'ERR_INVALID_ARGUMENT'), String(err))
      assert.equal(err.details.option, option)
    }
    const again = await Log.open(dir, { readOnly: true })
    assert.equal(again.nextOffset, 2)
    assert.equal(Buffer.from((await again.read(1))!.data).toString(), 'b')
    await again.close()
  })
})
