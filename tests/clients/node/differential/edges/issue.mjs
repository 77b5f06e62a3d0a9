// The documents that first showed where the service and graphql-js part:
// `__typename` left unvalidated, key order under directives, invalid
// documents answered, null through a defaulted variable, the parser.

/** The cases, each run as written. */
export const issueCases = () => [
  { query: 'query($no: Boolean!) { a: __typename @include(if: $no) b: __typename }', variables: { no: false } },
  { query: '{ __typename @nope }' },
  { query: '{ __typename(x: 1) }' },
  { query: '{ a: __typename @skip(if: $undefined) b: __typename }' },
  {
    query: 'query($no: Boolean!) { sessions @skip(if: $no) { id } session(sessionId: 1) { id } sessions { title } }',
    variables: { no: true },
  },
  { query: '{ x: session(sessionId: 1) { a: id } x: session(sessionId: 1) { a: title } }' },
  { query: '{ ...A session(sessionId: 2) { id } } fragment A on Query { session(sessionId: 1) { id } }' },
  { query: '{ session(sessionId: 2147483648) { id } }' },
  { query: 'query($s: String!) { session(sessionId: $s) { id } }', variables: { s: '1' } },
  { query: 'subscription { likeAdded(sessionId: 1, since: 0) { total } again: likeAdded(sessionId: 2, since: 0) { total } }' },
  { query: '{ ...on } fragment on on Query { __typename }' },
  { query: 'query($s: Int = 1) { session(sessionId: $s) { id } }', variables: { s: null } },
  { query: '{ session(sessionId: -0) { id } }' },
  { query: '{ __type(name: """Sess\\"""ion""") { name } }' },
  { query: '{ __schema { queryType @skip(if: true) { name } } }' },
];
