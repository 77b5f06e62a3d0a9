// Faults that make a generated document break one rule: each is put at a
// random place of the selection it fits (or at the root, at the latest),
// or into the document's text once it is built. A fault's name is its
// case's category, so the report and the validators' measurement can be
// read rule by rule.

import { getNamedType, isCompositeType, isLeafType, isObjectType } from 'graphql';

/** A field of `type` to misuse: leaf fields first, else any. */
function someField(builder, type, want) {
  const fields = builder.fieldsOf(type).filter((f) => !f.name.startsWith('__'));
  const fitting = fields.filter(want);
  return fitting.length ? builder.r.pick(fitting) : null;
}

const closed = (field) => (isCompositeType(getNamedType(field.type)) ? ' { __typename }' : '');

/** Faults placed in a selection set: (builder, {type}) => text or null. */
const SELECTION = {
  'unknown field': (b) => b.r.pick(['nope', 'sessionz', 'Title', '__nope']),
  'unknown argument': (b, { type }) => {
    const f = someField(b, type, (x) => x.args.length === 0);
    return f ? `${f.name}(nope: 1)${closed(f)}` : `__typename(nope: 1)`;
  },
  'missing required argument': (b, { type }) => {
    const f = someField(b, type, (x) => x.args.some((a) => String(a.type).endsWith('!')));
    return f ? `${f.name}${closed(f)}` : null;
  },
  'argument of the wrong type': (b, { type }) => {
    if (type !== b.schema.getQueryType()) return null;
    const value = b.r.pick(['"1"', '1.5', 'true', 'null', '2147483648', '-2147483649', '1e3',
      '[1]', '{ a: 1 }', 'ONE', '99999999999999999999', '0.0', '-0.0']);
    return b.r.chance(0.8) ? `session(sessionId: ${value}) { id }` : `__type(name: ${value}) { name }`;
  },
  'duplicate argument': (b, { type }) =>
    type === b.schema.getQueryType() ? 'session(sessionId: 1, sessionId: 1) { id }' : null,
  'unknown directive': (b) => `__typename @${b.r.pick(['nope', 'deprecated', 'specifiedBy(url: "x")', 'defer'])}`,
  'repeated directive': (b) => `__typename @skip(if: false) @skip(if: ${b.r.pick(['false', 'true'])})`,
  'directive without its argument': (b) => `__typename @${b.r.pick(['skip', 'include'])}`,
  'directive argument of the wrong type': (b) =>
    `__typename @skip(if: ${b.r.pick(['"true"', '1', 'null', 'TRUE', '[true]'])})`,
  'undefined variable': (b, { type }) =>
    type === b.schema.getQueryType() && b.r.chance(0.5)
      ? 'session(sessionId: $undefined) { id }'
      : `a0: __typename @skip(if: $undefined) b0: __typename`,
  'variable in a disallowed position': (b, { type }) => {
    if (type === b.schema.getQueryType() && b.r.chance(0.6)) {
      const declared = b.r.pick(['String!', 'Int', 'Boolean!', '[Int!]!', 'ID!', 'Float!']);
      const value = declared.startsWith('String') || declared.startsWith('ID') ? '1' : 1;
      return `session(sessionId: ${b.variable(declared, { value: declared.startsWith('[') ? [1] : value })}) { id }`;
    }
    return `__typename @include(if: ${b.variable(b.r.pick(['Boolean', 'String!', 'Int!']), { value: true })})`;
  },
  'selection on a leaf': (b, { type }) => {
    const f = someField(b, type, (x) => isLeafType(getNamedType(x.type)));
    return f ? `${f.name} { __typename }` : '__typename { x }';
  },
  'object without a selection': (b, { type }) => {
    const f = someField(b, type, (x) => isCompositeType(getNamedType(x.type)) && x.args.length === 0);
    if (f) return f.name;
    return type === b.schema.getQueryType() ? 'session(sessionId: 1)' : null;
  },
  'conflicting fields': (b, { type }) => {
    const leaves = b.fieldsOf(type).filter((f) => isLeafType(getNamedType(f.type)) && !f.args.length);
    if (type === b.schema.getQueryType() || leaves.length < 2) {
      return b.r.pick([
        'x: session(sessionId: 1) { id } x: session(sessionId: 2) { id }',
        'x: session(sessionId: 1) { a: id } x: session(sessionId: 1) { a: title }',
        'x: __typename x: sessions { id }',
        'session(sessionId: 1) { id } session(sessionId: 1) { id: title }',
      ]);
    }
    const [one, two] = b.r.shuffle(leaves);
    return `c0: ${one.name} c0: ${two.name}`;
  },
  'fragment on an impossible type': (b, { type }) =>
    `... on ${b.r.pick(['Mutation', 'Subscription', 'Session', 'Like', 'LikeEvent'].filter((n) => n !== type.name))} { __typename }`,
  'fragment on a scalar': (b) => `... on ${b.r.pick(['Int', 'String', 'Boolean'])} { __typename }`,
  'fragment on an unknown type': () => '... on Nope { __typename }',
  'unknown fragment': () => '...Nope',
  '__typename with arguments': (b) => `__typename(${b.r.pick(['x: 1', 'sessionId: 1', 'if: true'])})`,
};

/** Faults written into the whole document: (builder, parts) => parts. */
const DOCUMENT = {
  'unused variable': (b, parts) => ({ ...parts, variables: [...parts.variables, '$unused: Int'] }),
  'duplicate variable': (b, parts) => ({
    ...parts,
    variables: [...parts.variables, '$twice: Boolean = true', '$twice: Boolean = false'],
    extra: '__typename @skip(if: $twice)',
  }),
  'variable of an output type': (b, parts) => ({
    ...parts,
    variables: [...parts.variables, `$out: ${b.r.pick(['Session', 'Like', 'CreateLikePayload'])}`],
    extra: '__typename',
  }),
  'variable of an unknown type': (b, parts) => ({
    ...parts,
    variables: [...parts.variables, '$unknown: Nope'],
    extra: '__typename @skip(if: $unknown)',
  }),
  'default value of the wrong type': (b, parts) => ({
    ...parts,
    variables: [...parts.variables, `$wrong: Boolean = ${b.r.pick(['1', '"yes"', 'null', '[true]'])}`],
    extra: '__typename @skip(if: $wrong)',
  }),
  'unused fragment': (b, parts) => ({ ...parts, fragments: [...parts.fragments, 'fragment Unused on Query { __typename }'] }),
  'fragment cycle': (b, parts) => ({
    ...parts,
    extra: '...Cycle',
    fragments: [...parts.fragments, ...b.r.pick([
      ['fragment Cycle on Query { __typename ...Cycle }'],
      ['fragment Cycle on Query { ...Back }', 'fragment Back on Query { __typename ...Cycle }'],
      ['fragment Cycle on Query { sessions { ...Inner } }', 'fragment Inner on Session { id }',
        'fragment Unrelated on Query { ...Cycle2 }', 'fragment Cycle2 on Query { ...Unrelated }'],
    ])],
  }),
  'duplicate fragment name': (b, parts) => ({
    ...parts,
    extra: '...Twice',
    fragments: [...parts.fragments, 'fragment Twice on Query { __typename }', 'fragment Twice on Query { sessions { id } }'],
  }),
  'directive in the wrong location': (b, parts) =>
    b.r.pick([
      { ...parts, head: `${parts.head || 'query'} @skip(if: false)` },
      { ...parts, extra: '...Placed', fragments: [...parts.fragments, 'fragment Placed on Query @include(if: true) { __typename }'] },
      { ...parts, variables: [...parts.variables, '$placed: Int @skip(if: true)'], extra: 'session(sessionId: $placed) { id }' },
    ]),
  'anonymous operation beside another': (b, parts) => ({
    ...parts,
    head: '',
    operations: ['query Other { __typename }'],
  }),
  'duplicate operation name': (b, parts) => ({
    ...parts,
    head: 'query Same',
    operations: ['query Same { __typename }'],
    operationName: 'Same',
  }),
};

/** Faults of a `createLike` input: (builder, fields) => the input's text. */
export const INPUT = {
  'duplicate input field': (fields) => [...fields, fields[0]],
  'unknown input field': (fields) => [...fields, 'nope: 1'],
  'missing required input field': (fields) => fields.filter((f) => !f.startsWith('uuid')),
  'input field of the wrong type': (fields) => fields.map((f) => (f.startsWith('sessionId') ? 'sessionId: "1"' : f)),
};

/** The names of every fault that fits a kind of case. */
export function faultNames(kind) {
  const selection = Object.keys(SELECTION);
  const document = Object.keys(DOCUMENT);
  if (kind === 'mutation') return [...Object.keys(INPUT), 'unknown field', 'unused variable', 'undefined variable'];
  if (kind === 'operations') return selection;
  if (kind === 'subscription') return ['two root fields', 'unknown field', 'unused variable', 'selection on a leaf'];
  return [...selection, ...document];
}

/**
 * Arms `builder` with the fault `name`: the hook that places it in a
 * selection, once. Returns whether the fault is one of the document's.
 */
export function arm(builder, name) {
  const place = SELECTION[name];
  if (!place) return false;
  let done = false;
  builder.hook = (where, b, info) => {
    if (done || !where.startsWith('selection') || !isObjectType(info.type)) return null;
    if (where === 'selection' && !b.r.chance(0.3)) return null;
    const text = place(b, info);
    if (text !== null) done = true;
    return text;
  };
  return true;
}

/** Applies the document fault `name` to `parts` of the document. */
export function applyDocumentFault(builder, name, parts) {
  return DOCUMENT[name] ? DOCUMENT[name](builder, parts) : parts;
}
