// Values: variables (defaults, explicit null, missing, wrong types, in
// positions their type does not allow, unused, undefined), Int at and
// past 32 bits, as literals and as JSON, and strings (escapes, unicode,
// block strings with `\"""`).

const q = (query, variables, extra = {}) => ({ query, variables, ...extra });
/** A case whose variables are sent as this JSON text. */
const raw = (query, rawVariables) => ({ query, rawVariables });

/** Variables: defaults, null, missing, wrong types, positions, use. */
export const variables = () => {
  const defaulted = 'query($s: Int = 1) { session(sessionId: $s) { id } }';
  const required = 'query($s: Int!) { session(sessionId: $s) { id } }';
  const requiredDefault = 'query($s: Int! = 2) { session(sessionId: $s) { id } }';
  const nullable = 'query($s: Int) { session(sessionId: $s) { id } }';
  return [
    q(defaulted),
    q(defaulted, {}),
    q(defaulted, { s: 2 }),
    q(defaulted, { s: null }),
    q(required, {}),
    q(required, { s: null }),
    q(required, { s: 6 }),
    q(requiredDefault, {}),
    q(requiredDefault, { s: null }),
    q(requiredDefault, { s: 1 }),
    q(nullable, { s: 1 }),
    q('query($s: Int = null) { session(sessionId: $s) { id } }', {}),
    q('query($s: Int = 1) { a: session(sessionId: $s) { id } b: session(sessionId: 2) { id } }', { s: null }),
    q('query($t: String = "Session") { __type(name: $t) { name } }', { t: null }),
    q('query($t: String = "Session") { __type(name: $t) { name } }'),
    q('query($s: String!) { session(sessionId: $s) { id } }', { s: '1' }),
    q('query($s: ID!) { session(sessionId: $s) { id } }', { s: '1' }),
    q('query($s: Float!) { session(sessionId: $s) { id } }', { s: 1 }),
    q('query($s: [Int!]!) { session(sessionId: $s) { id } }', { s: [1] }),
    q('query($s: Boolean) { __typename @skip(if: $s) }', { s: true }),
    q('query($s: Boolean = false) { __typename @skip(if: $s) }', { s: true }),
    q('query($s: Int!) { __typename }', { s: 1 }),
    q('query($s: Int) { __typename }'),
    q('{ session(sessionId: $s) { id } }', { s: 1 }),
    q('query { session(sessionId: $s) { id } }', { s: 1 }),
    q('query($s: Int!) { ...F } fragment F on Query { session(sessionId: $s) { id } }', { s: 2 }),
    q('query A($s: Int!) { ...F } query B { ...F } fragment F on Query { session(sessionId: $s) { id } }', { s: 2 }, { operationName: 'A' }),
    q('query($s: Int!, $s: Int!) { session(sessionId: $s) { id } }', { s: 1 }),
    q('query($s: Session) { __typename }'),
    q('query($s: CreateLikeInput) { __typename }'),
    q('query($s: Nope) { __typename }'),
    q('query($s: Int = "1") { session(sessionId: $s) { id } }'),
    q('query($s: Int! = null) { session(sessionId: $s) { id } }'),
    q('query($s: Int = $t) { __typename }'),
    q('query($b: Boolean!) { __typename @include(if: $b) }', { b: 'true' }),
    q('query($b: Boolean!) { __typename @include(if: $b) }', { b: 1 }),
    q('query($s: Int!) { session(sessionId: $s) { id } }', { s: 1, extra: 'ignored' }),
    q('query($s: Int!) { session(sessionId: $s) { id } }', { s: true }),
    q('query($s: Int!) { session(sessionId: $s) { id } }', { s: [1] }),
    q('query($s: Int!) { session(sessionId: $s) { id } }', { s: { a: 1 } }),
    q('query($s: Int!) { session(sessionId: $s) { id } }', { s: '' }),
  ];
};

/** Int at and past its 32-bit range, and numbers that are not Ints. */
export const ints = () => {
  const literal = (n) => q(`{ session(sessionId: ${n}) { id sessionId } }`);
  const variable = (json) => raw('query($s: Int!) { session(sessionId: $s) { id sessionId } }', `{"s":${json}}`);
  return [
    ...['2147483647', '-2147483648', '2147483648', '-2147483649', '-0', '0', '00', '01', '-01', '1.0',
      '1.5', '1e3', '1E0', '0x10', '+1', '-', '9999999999999999999999', '1_000', '.5', '2147483647.0',
    ].map(literal),
    ...['2147483647', '-2147483648', '2147483648', '-2147483649', '-0', '1.0', '1.5', '1e0', '1E2',
      '-0.0', '9007199254740993', '1e400', '2.147483647e9',
    ].map(variable),
    q('subscription { likeAdded(sessionId: 2147483648, since: 0) { total } }'),
    q('subscription { likeAdded(sessionId: 1, since: -2147483649) { total } }'),
  ];
};

/** Strings: escapes, unicode, block strings. */
export const strings = () => {
  const type = (literal) => q(`{ __type(name: ${literal}) { name } }`);
  return [
    type('"Session"'),
    type('"\\u0053ession"'),
    type('"\\u0053\\u0065ssion"'),
    type('"\\u{53}ession"'),
    type('"\\u{0053}ession"'),
    type('"Sess\\u{0}ion"'),
    type('"\\uD83D\\uDE00"'),
    type('"\\uD800"'),
    type('"\\uDE00\\uD83D"'),
    type('"\\u{1F600}"'),
    type('"\\u{110000}"'),
    type('"\\x53ession"'),
    type('"\\/Session"'),
    type('"Se\\ssion"'),
    type('"Ses\nsion"'),
    type('"""Session"""'),
    type('"""\n    Session\n  """'),
    type('"""Sess\\"""ion"""'),
    type('"""  Session  """'),
    type('"""\\u0053ession"""'),
    type('"""Session""""'),
    type('""""""'),
    type('""'),
    type('"Session'),
    type('"\u0000"'),
    type('"\u0007"'),
    type('"\u007f"'),
    type('"\u0085Session"'),
    type('"﻿Session"'),
    q('\ufeff{ __typename }'),
    q('{ __typename }\u2028'),
    q('{ __typename }\u0000'),
    q('{\t__typename\r\n,,, }'),
    q('# only a comment\n{ __typename # and another\n}'),
    q('{ __type(name: "Session") { name } } # "unterminated'),
    raw('query($t: String!) { __type(name: $t) { name } }', '{"t":"\\u0053ession"}'),
    raw('query($t: String!) { __type(name: $t) { name } }', '{"t":"\\ud800"}'),
    raw('query($t: String!) { __type(name: $t) { name } }', '{"t":1}'),
  ];
};
