// Taps: one like each, batched by ten, retried with the same
// clientMutationId when the failure may pass, given up when it cannot.
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { RequestError, backoffMs } from '../../src/api.js';
import { MAX_BATCH, TapSender, likerId } from '../../src/likes.js';

/** A sender whose requests wait until the test answers them. */
function harness() {
  const requests = [];
  const events = [];
  let clock = 1_000_000;
  const sender = new TapSender({
    liker: 'liker-1',
    now: () => clock,
    random: () => 0.5,
    send: (batch) =>
      new Promise((resolve, reject) => requests.push({ batch, resolve, reject })),
    onUpdate: (sessionId, status, event) => events.push({ sessionId, ...status, ...event }),
  });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return {
    sender,
    requests,
    events,
    settle,
    advance: async (ms) => {
      clock += ms;
      sender.pump();
      await settle();
    },
  };
}

const ok = (op) => ({ data: { createLike: { clientMutationId: op.variables.input.clientMutationId } } });
const failure = (code, extra = {}) => ({
  data: { createLike: null },
  errors: [{ message: code.toLowerCase(), extensions: { code, ...extra } }],
});
const ids = (request) => request.batch.map((op) => op.variables.input.clientMutationId);

let live = [];
afterEach(() => {
  for (const sender of live) clearTimeout(sender.timer);
  live = [];
});

test('ten fast taps are ten likes with distinct ids, in at most ten per request', async () => {
  const h = harness();
  live.push(h.sender);
  for (let i = 0; i < 12; i += 1) h.sender.tap(7);
  // The first tap leaves at once; the rest wait for it, then go together.
  assert.equal(h.requests.length, 1);
  assert.equal(h.requests[0].batch.length, 1);
  h.requests[0].resolve(h.requests[0].batch.map(ok));
  await h.settle();
  assert.equal(h.requests[1].batch.length, MAX_BATCH);
  h.requests[1].resolve(h.requests[1].batch.map(ok));
  await h.settle();
  h.requests[2].resolve(h.requests[2].batch.map(ok));
  await h.settle();
  const sent = h.requests.flatMap(ids);
  assert.equal(sent.length, 12);
  assert.equal(new Set(sent).size, 12);
  assert.ok(sent.every((id) => Buffer.byteLength(id) <= 64));
  const input = h.requests[0].batch[0].variables.input;
  assert.deepEqual(Object.keys(input).sort(), ['clientMutationId', 'sessionId', 'uuid']);
  assert.equal(input.uuid, 'liker-1');
  assert.equal(h.events.filter((e) => e.kind === 'sent').length, 12);
  assert.deepEqual(h.sender.status(7), { pending: 0, retrying: false });
});

test('a rate-limited tap is sent again with the same id after the wait asked', async () => {
  const h = harness();
  live.push(h.sender);
  h.sender.tap(1);
  h.sender.tap(2);
  h.requests[0].resolve([ok(h.requests[0].batch[0])]);
  await h.settle();
  const [first] = ids(h.requests[1]);
  h.requests[1].resolve([failure('RATE_LIMITED', { retryAfterSeconds: 2 })]);
  await h.settle();
  assert.deepEqual(h.sender.status(2), { pending: 1, retrying: true });
  await h.advance(1500);
  assert.equal(h.requests.length, 2, 'nothing is sent before retryAfterSeconds');
  await h.advance(600);
  assert.deepEqual(ids(h.requests[2]), [first]);
  h.requests[2].resolve(h.requests[2].batch.map(ok));
  await h.settle();
  assert.deepEqual(h.sender.status(2), { pending: 0, retrying: false });
});

test('network errors and 5xx retry the whole batch with the same ids', async () => {
  const h = harness();
  live.push(h.sender);
  h.sender.tap(1);
  const first = ids(h.requests[0]);
  h.requests[0].reject(new RequestError('network error', { retryable: true }));
  await h.settle();
  assert.equal(h.sender.status(1).pending, 1);
  await h.advance(backoffMs(0, { random: () => 0.5 }));
  assert.deepEqual(ids(h.requests[1]), first);
  h.requests[1].reject(new RequestError('HTTP 502', { retryable: true }));
  await h.settle();
  await h.advance(backoffMs(1, { random: () => 0.5 }));
  assert.deepEqual(ids(h.requests[2]), first);
});

test('final errors are reported and never retried; UNAVAILABLE is retried', async () => {
  const h = harness();
  live.push(h.sender);
  h.sender.tap(1);
  h.requests[0].resolve([ok(h.requests[0].batch[0])]);
  h.sender.tap(99);
  h.sender.tap(98);
  h.sender.tap(3);
  await h.settle();
  const batch = h.requests[1];
  batch.resolve([failure('NOT_FOUND'), failure('BAD_USER_INPUT'), failure('UNAVAILABLE', { retryAfterSeconds: 1 })]);
  await h.settle();
  const failed = h.events.filter((e) => e.kind === 'failed').map((e) => e.sessionId);
  assert.deepEqual(failed, [99, 98]);
  await h.advance(60_000);
  assert.deepEqual(h.requests[2].batch.map((op) => op.variables.input.sessionId), [3]);
  assert.equal(ids(h.requests[2])[0], ids(batch)[2]);
});

test('a refused batch (HTTP 4xx) is final for its taps', async () => {
  const h = harness();
  live.push(h.sender);
  h.sender.tap(1);
  h.requests[0].reject(new RequestError('request bodies are limited', { retryable: false }));
  await h.settle();
  assert.deepEqual(h.events.at(-1), { sessionId: 1, pending: 0, retrying: false, kind: 'failed', message: 'request bodies are limited' });
  await h.advance(60_000);
  assert.equal(h.requests.length, 1);
});

test('the liker id is kept, and made even without storage', () => {
  const store = new Map();
  const storage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v) };
  const id = likerId(storage);
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(likerId(storage), id);
  const broken = { getItem: () => { throw new Error('denied'); } };
  assert.notEqual(likerId(broken), likerId(broken));
});

test('back-off doubles, stays under its cap and keeps jitter in the upper half', () => {
  assert.equal(backoffMs(0, { random: () => 0 }), 500);
  assert.equal(backoffMs(0, { random: () => 1 }), 1000);
  assert.equal(backoffMs(3, { random: () => 1 }), 8000);
  assert.equal(backoffMs(50, { random: () => 1 }), 10_000);
  assert.equal(backoffMs(50, { random: () => 0 }), 5000);
});
