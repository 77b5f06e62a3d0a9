// Selections: aliases, `__typename` everywhere, fragments (named, inline,
// nested, reused), field merging, and @skip/@include with literals and
// variables, including where the first occurrence of a key is skipped.

const q = (query, variables) => ({ query, variables });

/** Aliases, and `__typename` on every type and with every directive. */
export const aliasesAndTypenames = () => [
  q('{ a: sessions { id } b: sessions { title } }'),
  q('{ sessions: session(sessionId: 1) { id } session: sessions { sessionId } }'),
  q('{ a: session(sessionId: 1) { id } a: session(sessionId: 1) { title } }'),
  q('{ a: __typename b: __typename __typename }'),
  q('{ __typename: sessions { id } }'),
  q('{ id: session(sessionId: 2) { title: id id: title } }'),
  q('{ _: session(sessionId: 0) { _: sessionId } A_b9: __typename }'),
  q('{ x: session(sessionId: 1) { x: liked y: liked } y: session(sessionId: 2) { x: liked } }'),
  q('{ __typename }'),
  q('{ sessions { __typename } session(sessionId: 1) { __typename } missing: session(sessionId: 99) { __typename } }'),
  q('{ __schema { __typename types { __typename name } queryType { __typename fields { __typename type { __typename } } } } }'),
  q('{ __type(name: "Session") { __typename fields { __typename args { __typename } } } }'),
  q('{ __type(name: "__TypeKind") { __typename enumValues { __typename name } } }'),
  q('{ __schema { directives { __typename name args { __typename name type { __typename kind } } } } }'),
  q('{ __typename @skip(if: true) }'),
  q('{ __typename @include(if: false) }'),
  q('{ __typename @skip(if: false) @include(if: true) }'),
  q('{ __typename @skip(if: true) @include(if: true) a: __typename }'),
  q('query($no: Boolean!) { a: __typename @include(if: $no) b: __typename }', { no: true }),
  q('query($no: Boolean!) { a: __typename @skip(if: $no) }', { no: true }),
  q('query($no: Boolean = true) { a: __typename @skip(if: $no) b: __typename }'),
  q('query($no: Boolean = true) { a: __typename @skip(if: $no) b: __typename }', { no: false }),
  q('query($no: Boolean!) { sessions { __typename @skip(if: $no) id } }', { no: true }),
  q('{ ...T } fragment T on Query { __typename }'),
  q('{ ...T @skip(if: true) } fragment T on Query { __typename }'),
  q('{ ... @include(if: false) { __typename } }'),
  q('{ ... on Query { __typename } }'),
  q('{ session(sessionId: 1) { ... on Session { t: __typename } } }'),
];

/** Named, inline and nested fragments, reused and spread under directives. */
export const fragments = () => [
  q('{ ...A } fragment A on Query { sessions { ...B } } fragment B on Session { id title }'),
  q('fragment B on Session { id } query { session(sessionId: 1) { ...B } }'),
  q('{ session(sessionId: 1) { ...B ...B id } } fragment B on Session { id liked }'),
  q('{ ... { ... { ... { __typename } } } }'),
  q('{ ... on Query { ... on Query { sessions { ... on Session { ... { id } } } } } }'),
  q('{ session(sessionId: 2) { ... { title } ... on Session { title id } } }'),
  q('query($yes: Boolean!) { session(sessionId: 1) { ...B @include(if: $yes) id } } fragment B on Session { title }', { yes: false }),
  q('query($yes: Boolean!) { session(sessionId: 1) { ...B @include(if: $yes) id } } fragment B on Session { title }', { yes: true }),
  q('{ session(sessionId: 1) { ... @skip(if: true) { title } ... @skip(if: false) { id } } }'),
  q('{ ...A } fragment A on Query { ...B } fragment B on Query { ...C } fragment C on Query { __typename }'),
  q('{ ...query } fragment query on Query { __typename }'),
  q('{ ...true } fragment true on Query { __typename }'),
  q('{ ...null } fragment null on Query { sessions { id } }'),
  q('{ ...fragment } fragment fragment on Query { __typename }'),
  q('{ ...subscription } fragment subscription on Query { __typename }'),
  q('{ session(sessionId: 1) { ...on } } fragment on on Session { id }'),
  q('{ ...on } fragment on on Query { __typename }'),
  q('{ ...On } fragment On on Query { __typename }'),
  q('{ ... on Session { id } }'),
  q('{ sessions { ... on Query { __typename } } }'),
  q('{ ...S } fragment S on Session { id }'),
  q('{ sessions { ...Q } } fragment Q on Query { __typename }'),
  q('{ __schema { ... on __Schema { queryType { ... on __Type { name } } } } }'),
  q('{ __type(name: "Like") { ...T } } fragment T on __Type { name kind fields { name } }'),
];

/** Keys that merge, and keys that conflict, directly and through fragments. */
export const merging = () => [
  q('{ session(sessionId: 1) { id } session(sessionId: 1) { title } }'),
  q('{ session(sessionId: 1) { id ...A } } fragment A on Session { id title }'),
  q('{ session(sessionId: 1) { ...A ...B } } fragment A on Session { x: id } fragment B on Session { x: id }'),
  q('{ session(sessionId: 1) { ...A ...B } } fragment A on Session { x: id } fragment B on Session { x: title }'),
  q('{ ...A session(sessionId: 1) { title } } fragment A on Query { session(sessionId: 1) { id } }'),
  q('{ ...A session(sessionId: 2) { id } } fragment A on Query { session(sessionId: 1) { id } }'),
  q('query($a: Int!) { session(sessionId: $a) { id } session(sessionId: $a) { title } }', { a: 1 }),
  q('query($a: Int!) { session(sessionId: $a) { id } session(sessionId: 1) { title } }', { a: 1 }),
  q('query($a: Int!, $b: Int!) { session(sessionId: $a) { id } session(sessionId: $b) { id } }', { a: 1, b: 1 }),
  q('{ sessions { x: id } sessions { x: title } }'),
  q('{ sessions { x: id } sessions { y: title } }'),
  q('{ x: __typename x: sessions { id } }'),
  q('{ a: session(sessionId: 1) { id } a: sessions { id } }'),
  q('{ x: session(sessionId: 1) { id } x: session(sessionId: 1) @skip(if: true) { title } }'),
  q('{ x: session(sessionId: 1) @skip(if: true) { id } x: session(sessionId: 2) { title } }'),
  q('{ session(sessionId: 1) { title: id } session(sessionId: 1) { title } }'),
  q('{ a: __type(name: "Session") { name } a: __type(name: "Like") { name } }'),
  q('{ a: __type(name: "Session") { name } a: __type(name: "Session") { kind } }'),
  q('{ session(sessionId: 1) { ... on Session { id: title } } session(sessionId: 1) { id } }'),
  q('{ session(sessionId: 1) { ... { liked } liked ... { liked: liked } } }'),
];

/** @skip/@include: literals, variables with and without defaults, key order. */
export const conditions = () => {
  const order = 'query($no: Boolean!) { sessions @skip(if: $no) { id } session(sessionId: 1) { id } sessions { title } }';
  const inline = 'query($no: Boolean!) { ... @include(if: $no) { a: __typename } b: __typename a: __typename }';
  const spread = 'query($no: Boolean!) { ...F @skip(if: $no) session(sessionId: 2) { id } ...G } fragment F on Query { session(sessionId: 1) { id } } fragment G on Query { session(sessionId: 1) { title } }';
  return [
    q(order, { no: true }),
    q(order, { no: false }),
    q(inline, { no: false }),
    q(inline, { no: true }),
    q(spread, { no: true }),
    q(spread, { no: false }),
    q('{ session(sessionId: 1) { id @skip(if: true) } }'),
    q('{ session(sessionId: 1) { id @include(if: false) title @include(if: false) } }'),
    q('{ session(sessionId: 1) { ... @skip(if: true) { id } } sessions { ...F } } fragment F on Session { id @skip(if: true) }'),
    q('{ __schema { queryType @skip(if: true) { name } } }'),
    q('{ __type(name: "Session") { name @skip(if: true) } }'),
    q('query($s: Boolean = false) { a: sessions @skip(if: $s) { id } }'),
    q('query($s: Boolean = false) { a: sessions @skip(if: $s) { id } }', { s: true }),
    q('query($i: Boolean = true) { a: session(sessionId: 1) @include(if: $i) { id } b: __typename }', {}),
    q('query($i: Boolean = true) { a: session(sessionId: 1) @include(if: $i) { id } b: __typename }', { i: false }),
    q('query($i: Boolean = true) { a: session(sessionId: 1) @include(if: $i) { id } b: __typename }', { i: null }),
    q('query($i: Boolean!) { a: session(sessionId: 1) @include(if: $i) { id } }', {}),
    q('query($i: Boolean!) { a: session(sessionId: 1) @include(if: $i) { id } }', { i: null }),
    q('query($s: Boolean!, $i: Boolean!) { a: __typename @skip(if: $s) @include(if: $i) b: __typename }', { s: false, i: true }),
    q('query($s: Boolean!, $i: Boolean!) { a: __typename @skip(if: $s) @include(if: $i) b: __typename }', { s: true, i: true }),
    q('query($s: Boolean!, $i: Boolean!) { a: __typename @skip(if: $s) @include(if: $i) b: __typename }', { s: false, i: false }),
    q('{ sessions { room @skip(if: true) id room } }'),
    q('{ sessions { id @skip(if: true) room id } }'),
    q('{ s: session(sessionId: 1) @include(if: false) { id } t: session(sessionId: 2) { id } s: session(sessionId: 1) { title } }'),
    q('{ session(sessionId: 1) { ... @include(if: false) { a: id } b: title a: id } }'),
  ];
};
