// Operations: several in one document (with and without operationName),
// null propagation, introspection mixed with data, likes (their checks,
// their payloads, and the reads right after them) and a subscription's
// first event.

import { literal } from '../generate/builder.mjs';

const q = (query, variables, extra = {}) => ({ query, variables, ...extra });

/** Several operations, chosen by operationName or not. */
export const operations = () => {
  const two = 'query A { a: __typename } query B { b: sessions { id } }';
  const mixed = 'query A { a: __typename } subscription S { likeAdded(sessionId: 1, since: 0) { total } }';
  return [
    q(two, undefined, { operationName: 'A' }),
    q(two, undefined, { operationName: 'B' }),
    q(two),
    q(two, undefined, { operationName: null }),
    q(two, undefined, { operationName: 'C' }),
    q(two, undefined, { operationName: '' }),
    q('{ __typename }', undefined, { operationName: 'X' }),
    q('query X { __typename }', undefined, { operationName: 'X' }),
    q('query X { __typename }', undefined, { operationName: 'x' }),
    q('{ a: __typename } query B { b: __typename }', undefined, { operationName: 'B' }),
    q('{ a: __typename } { b: __typename }'),
    q('query A { a: __typename } query A { b: __typename }', undefined, { operationName: 'A' }),
    q('query A { a: __typename } mutation A { __typename }', undefined, { operationName: 'A' }),
    q(mixed, undefined, { operationName: 'A' }),
    q(mixed, undefined, { operationName: 'S' }),
    q(mixed),
    q('query A($s: Int!) { session(sessionId: $s) { id } } query B { __typename }', {}, { operationName: 'B' }),
    q('query A($s: Int!) { session(sessionId: $s) { id } } query B { __typename }', {}, { operationName: 'A' }),
    q('query A { ...F } query B { ...F } fragment F on Query { sessions { id } }', undefined, { operationName: 'B' }),
    q('mutation { __typename }'),
    q('mutation M { __typename } query Q { __typename }', undefined, { operationName: 'Q' }),
    q('subscription { __typename }'),
    q('query { }'),
    q(''),
    q(' '),
    q('fragment F on Query { __typename }'),
    q('type Query { a: Int }'),
    q('{ __typename } type Extra { a: Int }'),
    q('{ __typename } schema { query: Query }'),
    q('{ __typename } directive @d on FIELD'),
    q('extend type Query { a: Int } { __typename }'),
  ];
};

/** Introspection beside data, and what it says of the schema. */
export const introspection = () => [
  q('{ __schema { queryType { name } mutationType { name } subscriptionType { name } } sessions { id } }'),
  q('{ __type(name: "Session") { name kind fields { name type { name kind ofType { name kind } } } } session(sessionId: 1) { title } }'),
  q('{ __type(name: "Nope") { name } }'),
  q('{ __type(name: "__Type") { name fields { name } } }'),
  q('{ __type(name: "__Schema") { kind } a: __type(name: "__TypeKind") { enumValues { name } } }'),
  q('{ __type(name: "CreateLikeInput") { kind inputFields { name type { kind name ofType { name } } defaultValue } } }'),
  q('{ __type(name: "Subscription") { fields { name args { name defaultValue type { kind name ofType { name } } } } } }'),
  q('{ __type(name: "Query") { fields(includeDeprecated: true) { name isDeprecated deprecationReason } } }'),
  q('{ __type(name: "String") { kind name specifiedByURL fields { name } inputFields { name } enumValues { name } ofType { name } } }'),
  q('{ __type(name: "Float") { name } }'),
  q('{ __type(name: "__DirectiveLocation") { enumValues(includeDeprecated: true) { name isDeprecated } } }'),
  q('{ __schema { types { name kind } } }'),
  q('{ __schema { directives { name locations isRepeatable args { name defaultValue type { kind ofType { name } } } } } }'),
  q('{ __schema { description } }'),
  q('{ __schema { types { name fields { name } } } session(sessionId: 2) { title } }'),
  q('{ __type(name: "Session") { interfaces { name } possibleTypes { name } } }'),
  q('query($n: String!) { __type(name: $n) { name } }', { n: 'LikeEvent' }),
  q('{ __type { name } }'),
  q('{ __schema(x: 1) { __typename } }'),
  q('{ sessions { __schema { __typename } } }'),
  q('{ session(sessionId: 1) { __type(name: "Session") { name } } }'),
  q('{ __type(name: "__InputValue") { fields { name } } }'),
  q('{ __type(name: "Int") { isOneOf } }'),
  q('{ __type(name: "Query") { fields { args(includeDeprecated: true) { name } } } }'),
  q('{ __type(name: "CreateLikeInput") { inputFields(includeDeprecated: true) { name isDeprecated deprecationReason } } }'),
  q('{ __schema { directives(includeDeprecated: true) { name isDeprecated } } }'),
];

/** Likes: checks on their input, payloads, errors with paths, reads after. */
export const likes = ({ unique }) => {
  const payload = '{ clientMutationId like { id session { id sessionId title liked watching } } }';
  const like = (input, selection = payload) => q(`mutation { createLike(input: ${input}) ${selection} }`);
  const input = (fields) => `{ ${Object.entries(fields).map(([k, v]) => `${k}: ${typeof v === 'string' ? literal(v) : v}`).join(', ')} }`;
  const after = (query) => ({ query, after: true });
  return [
    like(input({ uuid: `e-${unique()}`, sessionId: 1, clientMutationId: `m-${unique()}` })),
    after('{ session(sessionId: 1) { liked } }'),
    like(input({ uuid: `e-${unique()}`, sessionId: 1 })),
    after('{ sessions { sessionId liked } }'),
    like(input({ uuid: `e-${unique()}`, sessionId: 2147483647, clientMutationId: null })),
    like(input({ uuid: `e-${unique()}`, sessionId: -2147483648, clientMutationId: '' })),
    like(input({ uuid: '', sessionId: 1 })),
    like(input({ uuid: `e-${unique()}`.padEnd(64, 'x'), sessionId: 2 })),
    like(input({ uuid: `e-${unique()}`.padEnd(65, 'x'), sessionId: 2 })),
    like(input({ uuid: 'é'.repeat(32), sessionId: 2, clientMutationId: `m-${unique()}` })),
    like(input({ uuid: 'é'.repeat(33), sessionId: 2 })),
    like(input({ uuid: `bell\u0007${unique()}`, sessionId: 2 })),
    like(input({ uuid: `e-${unique()}`, sessionId: 2, clientMutationId: `m-${unique()}`.padEnd(65, 'm') })),
    like(input({ uuid: `e-${unique()}`, sessionId: 2, clientMutationId: `tab\t${unique()}` })),
    like(`{ uuid: """e-${unique()}""", sessionId: 3, clientMutationId: """m\\"""${unique()}""" }`),
    like(`{ uuid: "e-${unique()}", sessionId: 3, clientMutationId: "\\u00e9\\u{1F600}${unique()}" }`),
    like(input({ uuid: `e-${unique()}`, sessionId: 99 })),
    like(input({ uuid: `e-${unique()}`, sessionId: 99 }), '{ like { id } }'),
    like(input({ uuid: `e-${unique()}`, sessionId: 2147483648 })),
    like(input({ uuid: `e-${unique()}`, sessionId: 1 }), '{ __typename like { __typename session { __typename } } }'),
    like(input({ uuid: `e-${unique()}`, sessionId: 1 }), '{ a: like { id } b: like { session { liked } } }'),
    q(`mutation { a: createLike(input: ${input({ uuid: `e-${unique()}`, sessionId: 6 })}) { like { session { liked } } } b: createLike(input: ${input({ uuid: '', sessionId: 6 })}) { like { id } } c: createLike(input: ${input({ uuid: `e-${unique()}`, sessionId: 6 })}) { like { session { liked } } } }`),
    q(`mutation { createLike(input: ${input({ uuid: `e-${unique()}`, sessionId: 0 })}) @skip(if: true) { like { id } } }`),
    after('{ session(sessionId: 0) { liked } }'),
    q('mutation($i: CreateLikeInput!) { createLike(input: $i) { clientMutationId } }', { i: { uuid: `e-${unique()}`, sessionId: 1, clientMutationId: `m-${unique()}` } }),
    q('mutation($i: CreateLikeInput!) { createLike(input: $i) { clientMutationId } }', { i: { uuid: `e-${unique()}`, sessionId: 1, nope: 1 } }),
    q('mutation($i: CreateLikeInput!) { createLike(input: $i) { clientMutationId } }', { i: { uuid: `e-${unique()}` } }),
    q('mutation($i: CreateLikeInput!) { createLike(input: $i) { clientMutationId } }', { i: { uuid: `e-${unique()}`, sessionId: '1' } }),
    q('mutation($i: CreateLikeInput!) { createLike(input: $i) { clientMutationId } }', { i: { uuid: null, sessionId: 1 } }),
    q('mutation($i: CreateLikeInput!) { createLike(input: $i) { clientMutationId } }', { i: null }),
    q('mutation($i: CreateLikeInput!) { createLike(input: $i) { clientMutationId } }', { i: [] }),
    q('mutation($u: String = "x", $s: Int = 1) { createLike(input: { uuid: $u, sessionId: $s }) { like { id } } }', { u: `e-${unique()}`, s: null }),
    q('mutation($u: String = "x", $s: Int = 1) { createLike(input: { uuid: $u, sessionId: $s }) { like { id } } }', { u: null }),
    q('mutation($u: String = "e-default", $s: Int = 1) { createLike(input: { uuid: $u, sessionId: $s }) { like { session { liked } } } }'),
    q('mutation($u: String!, $s: Int!, $m: String) { createLike(input: { uuid: $u, sessionId: $s, clientMutationId: $m }) { clientMutationId } }', { u: `e-${unique()}`, s: 2 }),
    q('mutation($u: String!, $s: Int!, $m: String) { createLike(input: { uuid: $u, sessionId: $s, clientMutationId: $m }) { clientMutationId } }', { u: `e-${unique()}`, s: 2, m: null }),
    q(`mutation { createLike(input: { uuid: "e-${unique()}", sessionId: 1, uuid: "e-${unique()}" }) { clientMutationId } }`),
    q(`mutation { createLike(input: { uuid: "e-${unique()}", sessionId: 1, nope: true }) { clientMutationId } }`),
    q(`mutation { createLike(input: { sessionId: 1 }) { clientMutationId } }`),
    q(`mutation { createLike(input: { uuid: "e-${unique()}", sessionId: null }) { clientMutationId } }`),
    q(`mutation { createLike(input: { uuid: "e-${unique()}", sessionId: 1 }) }`),
    q(`mutation { createLike { clientMutationId } }`),
    q(`mutation { createLike(input: { uuid: "e-${unique()}", sessionId: 1 }, input: { uuid: "e-${unique()}", sessionId: 2 }) { clientMutationId } }`),
    q(`mutation { createLike(input: [{ uuid: "e-${unique()}", sessionId: 1 }]) { clientMutationId } }`),
    q(`mutation { createLike(input: { uuid: "e-${unique()}", sessionId: 1 }) { like { session { liked } } } } query { __typename }`),
    q(`mutation M { createLike(input: { uuid: "e-${unique()}", sessionId: 1 }) { like { session { liked } } } } query Q { session(sessionId: 1) { liked } }`, undefined, { operationName: 'Q' }),
    q(`mutation M { createLike(input: { uuid: "e-${unique()}", sessionId: 1 }) { like { session { liked } } } } query Q { session(sessionId: 1) { liked } }`, undefined, { operationName: 'M' }),
    after('query { a: session(sessionId: 1) { liked } b: session(sessionId: 6) { liked } c: session(sessionId: 2) { liked } }'),
  ];
};

/** A subscription's first event with `since`, and subscriptions that fail. */
export const subscriptions = ({ talks }) => {
  const total = (id) => talks.find((t) => t.sessionId === id)?.liked ?? 0;
  const event = '{ sessionId likes total watching publishedAt __typename }';
  return [
    q(`subscription { likeAdded(sessionId: 1, since: 0) ${event} }`),
    q(`subscription { likeAdded(sessionId: 1, since: ${total(1)}) ${event} }`),
    q(`subscription { likeAdded(sessionId: 2147483647, since: ${Math.min(1, total(2147483647))}) { likes total } }`),
    q(`subscription { likeAdded(sessionId: -2147483648, since: 0) { likes total } }`),
    q('subscription($s: Int!, $since: Int = 0) { likeAdded(sessionId: $s, since: $since) { total } }', { s: 2 }),
    q('subscription($s: Int!, $since: Int) { likeAdded(sessionId: $s, since: $since) { total } }', { s: 2, since: 0 }),
    q('subscription S { e: likeAdded(sessionId: 1, since: 0) { t: total l: likes t: total } }', undefined, { operationName: 'S' }),
    q('subscription { likeAdded(sessionId: 1, since: 0) { ...E } } fragment E on LikeEvent { total likes }'),
    q('subscription { ...R } fragment R on Subscription { likeAdded(sessionId: 1, since: 0) { total } }'),
    q('subscription { likeAdded(sessionId: 1, since: 0) { total @skip(if: true) likes } }'),
    q('subscription { likeAdded(sessionId: 1, since: 0) { total @skip(if: true) } }'),
    q('subscription { likeAdded(sessionId: 99, since: 0) { total } }'),
    q('subscription { likeAdded(sessionId: 99) { total } }'),
    q('subscription { likeAdded(sessionId: 1, since: -1) { total } }'),
    q('subscription($s: Int) { likeAdded(sessionId: $s, since: 0) { total } }', { s: 1 }),
    q('subscription { likeAdded(since: 0) { total } }'),
    q('subscription { likeAdded(sessionId: 1, since: 0) }'),
    q('subscription { likeAdded(sessionId: 1, since: 0) { nope } }'),
    q('subscription { likeAdded(sessionId: 1, since: 0) { total } __typename }'),
    q('subscription { __typename likeAdded(sessionId: 1, since: 0) { total } }'),
    q('subscription { a: likeAdded(sessionId: 1, since: 0) { total } b: likeAdded(sessionId: 1, since: 0) { total } }'),
    q('subscription { ...R likeAdded(sessionId: 1, since: 0) { likes } } fragment R on Subscription { likeAdded(sessionId: 1, since: 0) { total } }'),
    q('subscription { likeAdded(sessionId: 1, since: 0) @skip(if: true) { total } }'),
    q('subscription($no: Boolean!) { likeAdded(sessionId: 1, since: 0) @include(if: $no) { total } }', { no: true }),
    q('subscription A { likeAdded(sessionId: 1, since: 0) { total } } subscription B { likeAdded(sessionId: 2, since: 0) { total } }', undefined, { operationName: 'B' }),
    q('subscription A { likeAdded(sessionId: 1, since: 0) { total } } subscription B { likeAdded(sessionId: 2, since: 0) { total } }'),
  ];
};
