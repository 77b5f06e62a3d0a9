// Compares our answer with graphql-js's: `data` (present or not, and its
// value with its key order), whether there are errors, and the errors'
// paths. Messages are not compared. Values the reference could not
// predict are checked for their shape and then taken as equal. The few
// differences that are ours by design are allowed here, each naming its
// entry in docs/api.md; nothing else is.

import { Entries, at, fromValue, repeatedKeys, replaceAt, stringify } from './ordered.mjs';
import { pastLimits } from './limits.mjs';

/** How an unpredictable value must look (see reference.mjs's notes). */
const SHAPES = {
  likeId: (v) => typeof v === 'string' && /^Like:[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/.test(v),
  publishedAt: (v) => typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(v),
  watching: (v, note) => Number.isInteger(v) && v >= note.min && v <= note.max,
};

/** Codes of a refused document (docs/api.md, "Errors"). */
const REFUSALS = ['GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED', 'PAYLOAD_TOO_LARGE'];

/**
 * Where our answer may differ by design: each entry names the list in
 * docs/api.md that documents it ("Limits", "Differences from graphql-js").
 */
export const ALLOWED = [
  {
    name: 'a documented limit',
    docs: 'docs/api.md, Limits',
    applies: ({ request, ours, bodyBytes }) =>
      refusal(ours) !== null &&
      REFUSALS.includes(refusal(ours)) &&
      pastLimits(request.query, bodyBytes).length > 0,
  },
];

/** The code of our answer's first error when it has no `data`, else null. */
export function refusal(answer) {
  if (!(answer instanceof Entries) || answer.has('data')) return null;
  const first = answer.get('errors')?.[0];
  return first instanceof Entries ? (first.get('extensions')?.get('code') ?? '') : '';
}

/** The distinct paths among errors' `path`s, sorted. */
const pathSet = (paths) => [...new Set(paths.filter((p) => p !== undefined).map((p) => JSON.stringify(p)))].sort();

/**
 * Compares one case. `ours`: our answer as read (`Entries`, or null if
 * none came); `reference`: graphql-js's result and notes. Returns null
 * when they agree, else {kind, why, allowed?}.
 */
export function compare({ request, ours, reference, bodyBytes, expect }) {
  if (!(ours instanceof Entries)) return { kind: 'no answer', why: 'no answer came' };
  if (expect) {
    const code = refusal(ours);
    if (code !== expect.code) {
      return { kind: 'limit', why: `expected a refusal coded ${expect.code} (${expect.limit}), got ${code}` };
    }
  }
  const repeated = repeatedKeys(ours);
  if (repeated.length > 0) return { kind: 'repeated key', why: `repeated keys: ${repeated.join(', ')}` };
  const data = ours.get('data');
  for (const note of reference.notes.normalise) {
    if (!ours.has('data')) break;
    const value = at(data, note.path);
    if (value === undefined) continue;
    if (!SHAPES[note.kind](value, note)) {
      return { kind: 'data', why: `${note.path.join('.')}: ${JSON.stringify(value)} is no ${note.kind}` };
    }
    replaceAt(data, note.path, fromValue(at(fromValue(reference.result.data), note.path)));
  }
  const found = difference(ours, reference.result);
  if (!found) return null;
  const allowed = ALLOWED.find((entry) => entry.applies({ request, ours, reference, bodyBytes }));
  return allowed ? { ...found, allowed: allowed.name } : found;
}

/** How our answer differs from graphql-js's result, or null. */
function difference(ours, result) {
  const oursHas = ours.has('data');
  const theirsHas = result.data !== undefined;
  if (oursHas !== theirsHas) {
    return { kind: 'validity', why: oursHas ? 'we ran what graphql-js refused' : 'we refused what graphql-js ran' };
  }
  if (oursHas) {
    const a = stringify(ours.get('data'));
    const b = stringify(fromValue(result.data));
    if (a !== b) {
      const sorted = (v) => JSON.stringify(sortKeys(JSON.parse(v)));
      return { kind: sorted(a) === sorted(b) ? 'key order' : 'data', why: `data ${a} != ${b}` };
    }
  }
  const oursErrors = ours.get('errors') ?? [];
  const theirErrors = result.errors ?? [];
  if ((oursErrors.length > 0) !== (theirErrors.length > 0)) {
    return { kind: 'errors', why: oursErrors.length > 0 ? 'we have errors, graphql-js none' : 'graphql-js has errors, we none' };
  }
  const p = pathSet(oursErrors.map((e) => (e instanceof Entries ? e.get('path') : undefined)));
  const q = pathSet(theirErrors.map((e) => e.path));
  if (JSON.stringify(p) !== JSON.stringify(q)) {
    return { kind: 'paths', why: `error paths ${p.join(' ')} != ${q.join(' ')}` };
  }
  return null;
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys(value[k])]));
  }
  return value;
}
