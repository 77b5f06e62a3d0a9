// The seeded generator: `count` cases from the schema and the talks, of
// every kind (queries, introspection mixed with data, several operations,
// runtime variables, mutations, subscriptions), about a fifth of them
// broken by one fault. The same seed gives the same cases.

import { random } from '../random.mjs';
import { Builder, spelled } from './builder.mjs';
import { INPUT, applyDocumentFault, arm, faultNames } from './faults.mjs';

const KINDS = [
  [46, 'query'],
  [8, 'introspection'],
  [6, 'operations'],
  [8, 'variables'],
  [4, 'unparsable'],
  [12, 'mutation'],
  [6, 'subscription'],
];

/** Assembles a document from its parts (see faults.mjs's DOCUMENT). */
function assemble(b, parts) {
  let head = parts.head;
  if (!head && parts.variables.length) head = 'query';
  const definitions = parts.variables.length ? `(${parts.variables.join(', ')})` : '';
  const set = parts.extra ? `${parts.set.slice(0, -1)}${parts.extra} }` : parts.set;
  const operation = head ? `${head}${definitions} ${set}` : set;
  return [operation, ...(parts.operations ?? []), ...parts.fragments].join('\n');
}

/** A query on the root type, maybe faulty. */
function query(b, fault, { introspection = 0.08 } = {}) {
  const documentFault = fault && !arm(b, fault);
  const set = b.selectionSet(b.schema.getQueryType(), 0, 0, { introspection });
  const named = b.r.chance(0.3) ? `query Q${b.r.int(100)}` : b.r.chance(0.2) ? 'query' : '';
  let parts = { head: named, variables: b.variables, set, fragments: b.definitions, operations: [] };
  if (documentFault) parts = applyDocumentFault(b, fault, parts);
  return { query: assemble(b, parts), variables: b.values, operationName: parts.operationName };
}

/** Two or three named queries; the request names one, none, or another. */
function operations(b, fault) {
  const ops = [];
  const count = 2 + b.r.int(2);
  const values = {};
  for (let i = 0; i < count; i += 1) {
    const one = new Builder({ ...b.ctx, prefix: `O${i}` }, b.r);
    // The limits count fields and aliases over the whole document.
    [one.fields, one.aliases] = [b.fields, b.aliases];
    const done = query(one, i === 0 ? fault : null);
    [b.fields, b.aliases] = [one.fields, one.aliases];
    ops.push(done.query.replace(/^(query( Q\d+)?)?/, `query Op${i}`));
    Object.assign(values, one.values);
  }
  const operationName = b.r.weighted([[7, `Op${b.r.int(count)}`], [1, undefined], [1, null], [1, 'Nope']]);
  // Every operation's variables share names: each keeps its own values.
  return { query: ops.join('\n'), variables: values, operationName };
}

/** A query whose variables are given values of the wrong kind, or none. */
function variables(b) {
  const [type, place, values] = b.r.pick([
    ['Int!', (v) => `vs: session(sessionId: ${v}) { id title }`,
      ['"1"', '1.5', '2147483648', '-2147483649', 'null', 'true', '[1]', '{"a":1}', '1.0', '1e0', '-0',
        '2147483647', '-2147483648', '1E2', '0.0', '3', '9007199254740993']],
    ['Int', (v) => `vs: session(sessionId: ${v}) { id }`, ['1', 'null', '"2"']],
    ['Int = 2', (v) => `vs: session(sessionId: ${v}) { id sessionId }`, ['null', '1', undefined, '"x"']],
    ['Int! = 2', (v) => `vs: session(sessionId: ${v}) { id }`, ['null', undefined, '3']],
    ['Boolean!', (v) => `va: __typename @skip(if: ${v}) vb: sessions { id }`, ['"true"', '1', 'null', 'false', '0', 'true']],
    ['Boolean = true', (v) => `va: __typename @include(if: ${v}) vb: __typename`, ['null', 'false', undefined]],
    ['Boolean = true', (v) => `vs: session(sessionId: 1) @include(if: ${v}) { id }`, ['null', 'false', undefined]],
    ['String!', (v) => `vt: __type(name: ${v}) { name kind }`, ['"Session"', '1', 'null', '"\\u0000"', '"Nope"', '""']],
  ]);
  const given = b.r.pick(values);
  const missing = given === undefined || b.r.chance(0.08);
  const rest = b.selectionSet(b.schema.getQueryType(), 0, 0);
  const definitions = [...b.variables, `$v: ${type}`].join(', ');
  const raw = Object.entries(b.values).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
  if (!missing) raw.push(`"v":${given}`);
  return {
    query: [`query(${definitions}) { ${place('$v')} ${rest.slice(2, -2)} }`, ...b.definitions].join('\n'),
    rawVariables: `{${raw.join(',')}}`,
  };
}

/** A valid query cut short or broken at one token. */
function unparsable(b) {
  const { query: text } = query(b, null);
  return {
    query: b.r.pick([
      () => text.slice(0, 1 + b.r.int(text.length - 1)),
      () => `${text} }`,
      () => text.replace('{', `{ ${b.r.pick(['$', '&', '"open', '01', '1.', '.5', '0x1', '"\\x"', '"\\u12"', '"""open', '@', '...', '(', '!'])} `),
      () => b.r.pick(['{}', 'query Q() { __typename }', 'fragment F on Query', 'query', '{ a: }',
        'query Q($v: Int = $w) { __typename }', '{ __typename(: 1) }', 'subscription', '{ ... }']),
    ])(),
  };
}

/** The input of one `createLike`: literal fields, a variable, or both. */
function likeInput(b, fault) {
  const talk = b.r.chance(0.88) ? b.r.pick(b.ctx.talks).sessionId : b.r.pick([99, -1, 2147483646]);
  const uuid = b.r.weighted([
    [20, `liker-${b.ctx.unique()}`],
    [1, `u-${b.ctx.unique()}`.padEnd(64, 'u')],
    [1, `u-${b.ctx.unique()}`.padEnd(65, 'u')],
    [1, ''],
    [1, 'é'.repeat(32)],
    [1, 'é'.repeat(33)],
    [1, '😀'.repeat(16)],
    [1, `bell\u0007${b.ctx.unique()}`],
    [1, `del\u007f${b.ctx.unique()}`],
    [1, `tab\t${b.ctx.unique()}`],
  ]);
  const mutationId = b.r.weighted([[8, undefined], [2, null], [9, `m-${b.ctx.unique()}`],
    [1, `m-${b.ctx.unique()}`.padEnd(65, 'm')], [1, `nl\n${b.ctx.unique()}`], [1, '']]);
  const value = { uuid, sessionId: talk };
  if (mutationId !== undefined) value.clientMutationId = mutationId;
  const how = fault ? 'literal' : b.r.weighted([[6, 'literal'], [3, 'variable'], [2, 'fields']]);
  if (how === 'variable') return b.variable('CreateLikeInput!', { value });
  let fields = Object.entries(value).map(([k, v]) => {
    if (how === 'fields' && b.r.chance(0.6)) {
      const type = k === 'sessionId' ? 'Int!' : k === 'uuid' ? 'String!' : 'String';
      return `${k}: ${b.variable(type, { value: v })}`;
    }
    return `${k}: ${typeof v === 'string' ? spelled(b.r, v) : String(v)}`;
  });
  fields = b.r.shuffle(fields);
  if (fault) fields = INPUT[fault](fields);
  return `{ ${fields.join(', ')} }`;
}

/** A mutation of one to three `createLike`s, each with its payload. */
function mutation(b, fault) {
  const payload = b.schema.getType('CreateLikePayload');
  const count = b.r.chance(0.8) ? 1 : 2 + b.r.int(2);
  const fields = [];
  for (let i = 0; i < count; i += 1) {
    const alias = count > 1 || b.r.chance(0.2) ? `like${i}: ` : '';
    const input = likeInput(b, INPUT[fault] && i === 0 ? fault : null);
    fields.push(`${alias}createLike(input: ${input})${b.directives('field')} ${b.selectionSet(payload, 1, 1)}`);
  }
  if (fault === 'unknown field') fields.push('nope');
  if (fault === 'undefined variable') fields.push('__typename @include(if: $undefined)');
  if (fault === 'unused variable') b.variables.push('$unused: String');
  const head = b.r.chance(0.3) ? `mutation M${b.r.int(100)}` : 'mutation';
  return {
    query: [`${head}${b.variableDefinitions()} { ${fields.join(' ')} }`, ...b.definitions].join('\n'),
    variables: b.values,
  };
}

/** `likeAdded` with `since` (its first event comes at once). */
function subscription(b, fault) {
  const event = b.schema.getType('LikeEvent');
  const talk = b.r.chance(0.9) ? b.r.pick(b.ctx.talks) : { sessionId: 404, liked: 0 };
  const since = b.r.weighted([[5, 0], [3, talk.liked], [1, Math.floor(talk.liked / 2)], [1, -1]]);
  const arg = (name, type, v) =>
    b.r.chance(0.3) ? b.variable(type, { value: v }) : String(v);
  const sinceText = b.r.chance(0.15) ? b.variable('Int', { defaultValue: String(since) }) : arg('since', 'Int', since);
  const call = `likeAdded(sessionId: ${arg('sessionId', 'Int!', talk.sessionId)}, since: ${sinceText})`;
  const fields = [`${b.r.chance(0.2) ? 'event: ' : ''}${call} ${b.selectionSet(event, 1, 1)}`];
  if (fault === 'two root fields') fields.push(b.r.pick([`again: ${call} { total }`, '__typename']));
  if (fault === 'unknown field') fields[0] = fields[0].replace(/\{ /, '{ nope ');
  if (fault === 'selection on a leaf') fields[0] = fields[0].replace(/\{ /, '{ total { x } ');
  if (fault === 'unused variable') b.variables.push('$unused: Int');
  const head = b.r.chance(0.4) ? `subscription S${b.r.int(100)}` : 'subscription';
  return {
    query: [`${head}${b.variableDefinitions()} { ${fields.join(' ')} }`, ...b.definitions].join('\n'),
    variables: b.values,
  };
}

const MAKE = { query, operations, variables, unparsable, mutation, subscription,
  introspection: (b, fault) => query(b, fault, { introspection: 0.7 }) };

/**
 * `count` cases for `schema` over `talks` from `seed`: each
 * {id, category, query, variables | rawVariables, operationName}.
 * `unique()` names likers and mutations apart from every other run's.
 */
export function generate({ schema, talks, seed, count, unique }) {
  const r = random(seed);
  const ctx = { schema, talks, unique };
  const cases = [];
  for (let i = 0; i < count; i += 1) {
    const kind = r.weighted(KINDS);
    const fault = kind !== 'variables' && kind !== 'unparsable' && r.chance(0.22) ? r.pick(faultNames(kind)) : null;
    const made = MAKE[kind](new Builder(ctx, r), fault);
    const empty = made.variables && Object.keys(made.variables).length === 0 && r.chance(0.5);
    cases.push({
      id: `g${i}`,
      category: fault ? `${kind}: ${fault}` : kind,
      ...made,
      variables: empty ? undefined : made.variables,
    });
  }
  return cases;
}
