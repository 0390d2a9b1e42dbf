/**
 * The worker ring's options go through the shared option checker (src/option-schema.ts): unknown
 * keys and wrong types or ranges are ERR_INVALID_ARGUMENT naming `details.option`, as for Log.open.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isSeglogError } from '../../src/index.js'
import { RingDrainer, type RingDrainerOptions } from '../../src/threads/index.js'
import { drainerSettings } from '../../src/threads/drainer-options.js'
import type { DrainSink } from '../../src/threads/index.js'

const sink: DrainSink = { appendBatch: () => Promise.resolve({ baseOffset: 0, count: 0 }) } as unknown as DrainSink

function refused(options: unknown, option: string | undefined, message: RegExp): void {
  let err: unknown
  try { new RingDrainer(sink, options as RingDrainerOptions) } catch (e) { err = e }
  assert.ok(isSeglogError(err, 'ERR_INVALID_ARGUMENT'), `expected ERR_INVALID_ARGUMENT for ${JSON.stringify(options)}, got ${String(err)}`)
  assert.equal(err.details.option, option)
  assert.match(err.message, message)
}

test('RingDrainer refuses unknown options, suggesting the closest', () => {
  refused({ ringByte: 4096 }, 'ringByte', /RingDrainer: unknown option 'ringByte'\. Did you mean 'ringBytes'\?/)
  refused({ ringBytes: 4096, deadProducerTimeout: 10 }, 'deadProducerTimeout', /Did you mean 'deadProducerTimeoutMs'/)
})

test('RingDrainer refuses wrong types and ranges, naming the option', () => {
  refused({ ringBytes: '4096' }, 'ringBytes', /ringBytes must be a power of two from 4096 to \d+; got the string "4096"/)
  refused({ ringBytes: 5000 }, 'ringBytes', /power of two/)
  refused({ producerWindow: 3 }, 'producerWindow', /power of two from 1 to 65536/)
  refused({ maxProducers: 0 }, 'maxProducers', /from 1 to 4096; got the number 0/)
  refused({ deadProducerTimeoutMs: '1000' }, 'deadProducerTimeoutMs', /got the string "1000"/)
  refused({ maxInflightBatches: 1.5 }, 'maxInflightBatches', /integer/)
  refused({ maxBatchRecords: -1 }, 'maxBatchRecords', /integer/)
  refused({ maxBatchBytes: null }, 'maxBatchBytes', /got null/)
  refused({ clock: 5 }, 'clock', /a function/)
  // The record limit is bounded by the ring's size: a quarter of it, less the frame header.
  refused({ ringBytes: 4096, maxRecordBytes: 2000 }, 'maxRecordBytes', /from 0 to 1008/)
  refused('big', undefined, /options must be an object/)
})

test('defaults and accepted values', () => {
  const d = drainerSettings({})
  assert.equal(d.geometry.capacity, 1 << 20)
  assert.equal(d.geometry.maxProducers, 64)
  assert.equal(d.geometry.window, 1024)
  assert.equal(d.maxRecordBytes, (1 << 20) / 4 - 16)
  assert.deepEqual([d.deadProducerTimeoutMs, d.maxInflightBatches, d.maxBatchRecords, d.maxBatchBytes], [1000, 4, 8192, 4 << 20])
  assert.deepEqual(drainerSettings(undefined).geometry, d.geometry)
  const clock = (): number => 7
  const s = drainerSettings({ ringBytes: 4096, maxRecordBytes: 1008, producerWindow: 1, clock, maxBatchRecords: undefined })
  assert.equal(s.maxRecordBytes, 1008)
  assert.equal(s.geometry.window, 1)
  assert.equal(s.clock, clock)
})
