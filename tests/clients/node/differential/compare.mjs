// Compares our answer with graphql-js's: `data` (present or not, and its
// value with its key order), whether there are errors, and the errors'
// paths. Messages are not compared. Values the reference cannot predict
// are checked for their shape and then taken as equal; what the spec
// leaves to the implementation is taken as equal and counted. The few
// differences that are ours by design are allowed here, each naming its
// entry in docs/api.md; nothing else is.

import { Entries, at, fromValue, repeatedKeys, replaceAt, stringify } from './ordered.mjs';
import { pastLimits } from './limits.mjs';
import { newerDraftUses } from './drafts.mjs';

/** How a value the reference cannot predict must look (reference.mjs). */
const SHAPES = {
  likeId: (v) => typeof v === 'string' && /^Like:[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/.test(v),
  publishedAt: (v) => typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(v),
  watching: (v, note) => Number.isInteger(v) && v >= note.min && v <= note.max,
  wording: (v) => v === null || typeof v === 'string',
  edition: () => true,
};

/** Codes of a refused document (docs/api.md, "Errors"). */
const REFUSALS = ['GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED', 'PAYLOAD_TOO_LARGE'];

/** What the spec leaves open, as docs/api.md's "Differences from graphql-js" names it. */
const OPEN = {
  set: 'the order of __schema.types and __schema.directives',
  wording: 'the descriptions of built-in types, fields and directives',
  edition: 'the introspection types and built-in directives, as of a spec edition',
};

/**
 * Where our answer may differ by design: each entry names the list in
 * docs/api.md that documents it.
 */
export const ALLOWED = [
  {
    name: 'a documented limit (docs/api.md, Limits)',
    applies: ({ request, ours, bodyBytes }) =>
      REFUSALS.includes(refusal(ours)) && pastLimits(request.query, bodyBytes).length > 0,
  },
  {
    name: 'an unpaired surrogate in the JSON body (docs/api.md, Differences from graphql-js)',
    applies: ({ request, ours }) => refusal(ours) === 'BAD_REQUEST' && unpairedSurrogate(request),
  },
  {
    name: 'an introspection member of a newer draft (docs/api.md, Differences from graphql-js)',
    applies: ({ request, ours, schema }) =>
      refusal(ours) === 'GRAPHQL_VALIDATION_FAILED' && newerDraftUses(schema, request.query).length > 0,
  },
];

/** Whether a string of the request holds half of a surrogate pair. */
function unpairedSurrogate(request) {
  const half = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
  const variables = request.rawVariables !== undefined ? JSON.parse(request.rawVariables) : request.variables;
  const any = (value) =>
    typeof value === 'string'
      ? half.test(value)
      : value !== null && typeof value === 'object' && Object.values(value).some(any);
  return any([request.query, request.operationName, variables]);
}

/** The code of our answer's first error when it has no `data`, else null. */
export function refusal(answer) {
  if (!(answer instanceof Entries) || answer.has('data')) return null;
  const first = answer.get('errors')?.[0];
  return first instanceof Entries ? (first.get('extensions')?.get('code') ?? '') : '';
}

/** The distinct paths among errors' `path`s, sorted. */
const pathSet = (paths) =>
  [...new Set(paths.filter((p) => p !== undefined).map((p) => JSON.stringify(p)))].sort();

/**
 * Puts the items of our list at `path` in the reference's order when they
 * are the same items (each compared with the open values under it taken
 * from the reference). Returns whether the order changed.
 */
function reorder(data, theirs, path, notes) {
  const ourList = at(data, path);
  const theirList = at(theirs, path);
  if (!Array.isArray(ourList) || !Array.isArray(theirList) || ourList.length !== theirList.length) {
    return false;
  }
  const inside = (j) =>
    notes.filter((n) => n.kind !== 'set' && n.path.length > path.length + 1 &&
      JSON.stringify(n.path.slice(0, path.length + 1)) === JSON.stringify([...path, j]));
  const left = ourList.map((item, i) => i);
  const order = [];
  for (const [j, their] of theirList.entries()) {
    const match = left.find((i) => {
      const copy = fromValue(JSON.parse(stringify(ourList[i])));
      for (const n of inside(j)) replaceAt(copy, n.path.slice(path.length + 1), at(their, n.path.slice(path.length + 1)));
      return stringify(copy) === stringify(their);
    });
    if (match === undefined) return false;
    order.push(match);
    left.splice(left.indexOf(match), 1);
  }
  const moved = order.some((i, j) => i !== j);
  const reordered = order.map((i) => ourList[i]);
  ourList.splice(0, ourList.length, ...reordered);
  return moved;
}

/**
 * Takes the directives of newer drafts (noted `newer`) out of graphql-js's
 * result, with the notes under them, and moves the notes of the items after
 * each up by one. Returns whether any was there.
 */
function dropNewer(reference) {
  const notes = reference.notes.normalise;
  const newer = notes.filter((n) => n.kind === 'newer').sort((a, b) => b.path.at(-1) - a.path.at(-1));
  let kept = notes.filter((n) => n.kind !== 'newer');
  let dropped = false;
  for (const { path } of newer) {
    const list = path.slice(0, -1).reduce((here, step) => here?.[step], reference.result.data);
    const index = path.at(-1);
    if (!Array.isArray(list) || index >= list.length) continue;
    list.splice(index, 1);
    dropped = true;
    const parent = JSON.stringify(path.slice(0, -1));
    const depth = path.length - 1;
    const item = (n) => (n.path.length > depth && JSON.stringify(n.path.slice(0, depth)) === parent ? n.path[depth] : -1);
    kept = kept
      .filter((n) => item(n) !== index)
      .map((n) => (item(n) > index ? { ...n, path: [...n.path.slice(0, depth), item(n) - 1, ...n.path.slice(depth + 1)] } : n));
  }
  notes.splice(0, notes.length, ...kept);
  return dropped;
}

/**
 * Compares one case. `ours`: our answer as read (`Entries`, or null if
 * none came); `reference`: graphql-js's result and notes. Returns null
 * when they agree, else {kind, why, allowed?}.
 */
export function compare({ schema, request, ours, reference, bodyBytes, expect }) {
  if (!(ours instanceof Entries)) return { kind: 'no answer', why: 'no answer came' };
  if (expect) {
    const code = refusal(ours);
    if (code !== expect.code) {
      return { kind: 'limit', why: `expected a refusal coded ${expect.code} (${expect.limit}), got ${code}` };
    }
    return null;
  }
  const repeated = repeatedKeys(ours);
  if (repeated.length > 0) return { kind: 'repeated key', why: `repeated keys: ${repeated.join(', ')}` };
  const open = new Set();
  if (dropNewer(reference)) open.add(OPEN.edition);
  if (ours.has('data') && reference.result.data !== undefined) {
    const data = ours.get('data');
    const theirs = fromValue(reference.result.data);
    const notes = reference.notes.normalise;
    for (const note of notes.filter((n) => n.kind === 'set')) {
      if (reorder(data, theirs, note.path, notes)) open.add(OPEN.set);
    }
    for (const note of notes.filter((n) => n.kind !== 'set')) {
      const value = at(data, note.path);
      if (value === undefined) continue;
      if (!SHAPES[note.kind](value, note)) {
        return { kind: 'data', why: `${note.path.join('.')}: ${JSON.stringify(value)} is no ${note.kind}` };
      }
      const replacement = at(theirs, note.path);
      if (OPEN[note.kind] && stringify(value) !== stringify(replacement)) open.add(OPEN[note.kind]);
      replaceAt(data, note.path, replacement);
    }
  }
  const found = difference(ours, reference.result);
  if (!found) return open.size ? { kind: 'open', why: [...open].join('; '), allowed: [...open].join('; ') } : null;
  const allowed = ALLOWED.find((entry) => entry.applies({ schema, request, ours, reference, bodyBytes }));
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
    return {
      kind: 'errors',
      why: oursErrors.length > 0 ? 'we have errors, graphql-js none' : 'graphql-js has errors, we none',
    };
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
