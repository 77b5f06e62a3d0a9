// Runs every case against the service and against the reference, in
// phases that keep the data the same on both sides: queries (the data as
// read before the run, in concurrent batches), then subscriptions' first
// events (one WebSocket; the audiences they add are waited out), then, in
// order, the mutations and the reads right after them, with the model
// counting each like. Documents with a mutation that graphql-js refuses go
// last, so a like we should not have stored cannot skew the others.

import { Kind, getOperationAST, parse, validate } from 'graphql';
import { compare } from './compare.mjs';
import { SPEC_RULES, referenceAnswer } from './reference.mjs';
import { BATCH_MAX, requestBody } from './service.mjs';
import { Entries, at, stringify } from './ordered.mjs';

/** Bytes of cases packed into one batch (below the service's 16 KiB). */
const BATCH_BYTES = 12 * 1024;
/** Batches in flight at once in the query phase. */
const IN_FLIGHT = 4;

/** The phase a case runs in: query, subscription, mutation or last. */
export function phaseOf(schema, c) {
  let document;
  try {
    document = parse(c.query);
  } catch {
    return c.after ? 'mutation' : 'query';
  }
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (operations.some((op) => op.operation === 'mutation')) {
    return validate(schema, document, SPEC_RULES).length === 0 ? 'mutation' : 'last';
  }
  const chosen = getOperationAST(document, c.operationName ?? undefined);
  if (chosen ? chosen.operation === 'subscription' : operations.some((op) => op.operation === 'subscription')) {
    return 'subscription';
  }
  return c.after ? 'mutation' : 'query';
}

/** Packs cases into batches of at most BATCH_MAX and BATCH_BYTES. */
function batches(cases) {
  const out = [];
  let current = [];
  let bytes = 0;
  for (const c of cases) {
    const size = Buffer.byteLength(requestBody(c));
    if (current.length && (current.length === BATCH_MAX || bytes + size > BATCH_BYTES || c.alone)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(c);
    bytes += size;
    if (c.alone) {
      out.push(current);
      current = [];
      bytes = 0;
    }
  }
  if (current.length) out.push(current);
  return out;
}

/** The request graphql-js gets: the variables as the service reads them. */
function referenceRequest(c) {
  const variables = c.rawVariables !== undefined ? JSON.parse(c.rawVariables) : c.variables;
  return { query: c.query, variables, operationName: c.operationName };
}

/** Compares one case and records the outcome on it. */
async function judge(schema, model, c, ours) {
  const reference = await referenceAnswer(schema, model, referenceRequest(c));
  c.verdict = reference.verdict;
  c.oursText = ours.answer ? stringify(ours.answer) : (ours.text ?? 'no answer');
  c.reference = reference.result;
  c.outcome = compare({
    schema,
    request: c,
    ours: ours.answer,
    reference,
    bodyBytes: Buffer.byteLength(requestBody(c)),
    expect: c.expect,
  });
  return reference;
}

/**
 * After a mutation, makes the model count the likes the service
 * acknowledged, so one disagreement does not skew every later total.
 */
function reconcile(model, reference, ours) {
  const data = ours.answer instanceof Entries ? ours.answer.get('data') : undefined;
  const errors = ours.answer instanceof Entries ? (ours.answer.get('errors') ?? []) : [];
  const paths = errors.map((e) => (e instanceof Entries ? e.get('path') : undefined)).filter(Array.isArray);
  for (const like of reference.notes.likes) {
    // A field below the payload that failed nulls it, but the like was taken.
    const below = (path) => path.length > like.path.length && like.path.every((step, i) => path[i] === step);
    const acknowledged = at(data, like.path) instanceof Entries || paths.some(below);
    const talk = model.talks.get(like.talk);
    // A retry of a like already counted changes no total either way.
    if (talk && acknowledged !== like.acknowledged && like.counted !== false) {
      talk.liked += acknowledged ? 1 : -1;
    }
  }
}

/** Runs `cases` (each gets `phase`, `ours`, `reference`, `outcome`). */
export async function runAll({ service, schema, model, talks, cases, log }) {
  for (const c of cases) c.phase = phaseOf(schema, c);
  const of = (phase) => cases.filter((c) => c.phase === phase);

  const queued = batches(of('query'));
  const workers = Array.from({ length: IN_FLIGHT }, async () => {
    for (let batch = queued.shift(); batch; batch = queued.shift()) {
      const answers = await service.batch(batch);
      for (const [i, c] of batch.entries()) await judge(schema, model, c, answers[i]);
    }
  });
  await Promise.all(workers);
  log(`queries: ${of('query').length}`);

  const socket = await service.socket();
  for (const c of of('subscription')) await judge(schema, model, c, await socket.first(c));
  socket.close();
  await service.settle(talks);
  log(`subscriptions: ${of('subscription').length}`);

  // One request at a time: the operations of one batch run together (likes
  // that wait to be stored share a flush), so a read batched after a like
  // need not see it, where graphql-js runs one operation after another.
  for (const phase of ['mutation', 'last']) {
    for (const c of of(phase)) {
      const [answer] = await service.batch([c]);
      const reference = await judge(schema, model, c, answer);
      reconcile(model, reference, answer);
    }
  }
  log(`mutations and reads after them: ${of('mutation').length + of('last').length}`);
}
