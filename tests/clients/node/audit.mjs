// The GraphQL-over-HTTP spec's own audit (graphql-http's auditServer)
// against a running server: prints every audit's result, and exits 1 if
// any MUST or SHOULD is not ok. MAY audits are printed, and need not pass.
//
//   node audit.mjs http://127.0.0.1:8080/graphql

import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node audit.mjs URL');
  process.exit(2);
}

const results = await auditServer({ url });
const counts = {};
const failed = [];
for (const result of results) {
  const level = result.name.split(' ')[0];
  counts[level] ??= { ok: 0, all: 0 };
  counts[level].all += 1;
  if (result.status === 'ok') {
    counts[level].ok += 1;
  } else if (level === 'MUST' || level === 'SHOULD') {
    failed.push(result);
  }
  const why = result.status === 'ok' ? '' : ` (${result.reason})`;
  console.log(`${result.status.padEnd(7)} ${result.id} ${result.name}${why}`);
}
for (const [level, { ok, all }] of Object.entries(counts)) {
  console.log(`${level}: ${ok}/${all} ok`);
}
if (failed.length > 0) {
  console.error(`${failed.length} MUST or SHOULD audits are not ok`);
  process.exit(1);
}
