// The service's documented limits (docs/api.md): documents at each limit
// are answered as graphql-js answers them; past it they are refused with
// the documented code (graphql-js, which has no such limits, answers them).

const VALIDATION = 'GRAPHQL_VALIDATION_FAILED';

/** `depth` fields nested through the introspection types' `ofType`. */
const nested = (depth) =>
  `{ __type(name: "Session") { ${'ofType { '.repeat(depth - 2)}name${' }'.repeat(depth - 2)} } }`;
/** `n` aliased fields. */
const aliased = (n) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: __typename`).join(' ')} }`;
/** `n` fields: `sessions` and n - 1 of its `id`. */
const fields = (n) => `{ sessions { ${'id '.repeat(n - 1)}} }`;
/** `n` selection sets nested by inline fragments. */
const fragments = (n) => `{ ${'... { '.repeat(n)}__typename${' }'.repeat(n)} }`;
/** A field under `n` directives. */
const directed = (n) => `{ __typename ${Array.from({ length: n }, (_, i) => `@${i % 2 ? 'skip' : 'include'}(if: ${i % 2 ? 'false' : 'true'})`).join(' ')} }`;

const past = (query, limit, code = VALIDATION) => ({ query, expect: { code, limit }, alone: true });

/** At each limit (compared), and past it (refused with its code). */
export const limits = () => [
  { query: nested(8) },
  past(nested(9), 'depth 8'),
  past(nested(20), 'depth 8'),
  { query: aliased(30) },
  past(aliased(31), '30 aliases'),
  { query: fields(200) },
  past(fields(201), 'complexity 200'),
  past(`{ ${Array.from({ length: 300 }, () => '__typename').join(' ')} }`, 'complexity 200'),
  { query: fragments(16) },
  past(fragments(17), '16 nested selection sets'),
  past(fragments(40), '16 nested selection sets'),
  { query: '{ ...A } fragment A on Query { ...B } fragment B on Query { ...C } fragment C on Query { ... { ... { ... { __typename } } } }' },
  { query: directed(4) },
  past(directed(5), '4 directives per field'),
  past(`{ __typename } # ${'x'.repeat(17 * 1024)}`, '16 KiB bodies', 'PAYLOAD_TOO_LARGE'),
  { query: `{ __typename } # ${'x'.repeat(15 * 1024)}`, alone: true },
];
