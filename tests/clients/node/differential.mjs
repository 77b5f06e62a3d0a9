// The differential test: documents generated from a seed, and edge cases
// written by hand, each sent to the service and run by graphql-js 16 (the
// spec's reference implementation) over the same data; their `data` (with
// key order), whether they have errors, and the errors' paths must agree,
// but for the differences allowed by design (differential/compare.mjs).
//
//   node differential.mjs BASE_URL [--seed N] [--cases N] [--dump FILE] [--only ID,...]
//
// The service must run with its rate limits off, and nothing else may like
// talks meanwhile. Exits 1 when a case disagrees, printing each one.

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { edgeCases } from './differential/edges/index.mjs';
import { generate } from './differential/generate/cases.mjs';
import { freshSeed } from './differential/random.mjs';
import { Model, referenceSchema, unanswered } from './differential/reference.mjs';
import { corpusLine } from './differential/corpus.mjs';
import { runAll } from './differential/run.mjs';
import { Service } from './differential/service.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    seed: { type: 'string' },
    cases: { type: 'string', default: '3000' },
    dump: { type: 'string' },
    only: { type: 'string' },
  },
});
const [base] = positionals;
if (!base) {
  console.error('usage: node differential.mjs BASE_URL [--seed N] [--cases N] [--dump FILE] [--only ID,...]');
  process.exit(2);
}
const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : freshSeed();
const started = Date.now();
const log = (line) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${line}`);

const service = new Service(base);
const schema = referenceSchema(await service.sdl());
const talks = await service.talks();
const model = new Model(talks);
const missing = unanswered(schema, model);
if (missing.length) {
  console.error(`the model does not answer ${missing.join(', ')}: model them in differential/reference.mjs`);
  process.exit(1);
}
log(`seed ${seed}; ${talks.length} talks, ${talks.reduce((n, t) => n + t.liked, 0)} likes`);

// Likers and mutation ids are this run's own: a retry of an earlier run's
// mutation would store nothing new.
const run = Date.now().toString(36);
let serial = 0;
const unique = () => `${run}-${(serial += 1).toString(36)}`;
let cases = [
  ...edgeCases({ schema, talks, unique }),
  ...generate({ schema, talks, seed, count: Number(values.cases), unique }),
];
if (values.only) {
  const only = new Set(values.only.split(','));
  cases = cases.filter((c) => only.has(c.id));
}
await runAll({ service, schema, model, talks, cases, log });

const agreed = cases.filter((c) => !c.outcome);
const allowed = cases.filter((c) => c.outcome?.allowed);
const disagreed = cases.filter((c) => c.outcome && !c.outcome.allowed);
const count = (list, key) =>
  Object.entries(list.reduce((m, c) => ({ ...m, [key(c)]: (m[key(c)] ?? 0) + 1 }), {}))
    .sort(([, a], [, b]) => b - a)
    .map(([k, n]) => `  ${n} ${k}`)
    .join('\n');

for (const c of disagreed) {
  console.log(`\n--- ${c.id} (${c.category}, ${c.phase}): ${c.outcome.kind}: ${c.outcome.why.slice(0, 400)}`);
  console.log(`document: ${c.query}`);
  if (c.rawVariables !== undefined || c.variables !== undefined) {
    console.log(`variables: ${c.rawVariables ?? JSON.stringify(c.variables)}`);
  }
  if (c.operationName !== undefined) console.log(`operationName: ${JSON.stringify(c.operationName)}`);
  console.log(`ours:       ${c.oursText.slice(0, 1200)}`);
  console.log(`graphql-js: ${JSON.stringify(c.reference).slice(0, 1200)}`);
}
if (values.dump) {
  writeFileSync(values.dump, cases.map((c) => corpusLine(schema, c)).join('\n') + '\n');
  log(`corpus of ${cases.length} documents written to ${values.dump}`);
}
console.log(`\nseed ${seed}: ${cases.length} cases (${cases.filter((c) => c.id.startsWith('g')).length} generated) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`agree: ${agreed.length}`);
console.log(`differ by design: ${allowed.length}${allowed.length ? `\n${count(allowed, (c) => c.outcome.allowed)}` : ''}`);
console.log(`disagree: ${disagreed.length}${disagreed.length ? `\n${count(disagreed, (c) => `${c.outcome.kind} in ${c.category}`)}` : ''}`);
if (disagreed.length) {
  console.log(`rerun: LIKES_DIFF_SEED=${seed} LIKES_DIFF_CASES=${values.cases} cargo test --test api differential`);
  process.exit(1);
}
