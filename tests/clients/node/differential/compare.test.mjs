// The comparator's own tests (node --test): each kind of difference is
// caught, what may not be predicted is checked for its shape, and only the
// listed differences are allowed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildSchema, GraphQLError } from 'graphql';
import { compare } from './compare.mjs';
import { parseOrdered } from './ordered.mjs';

const schema = buildSchema('type Query { a: Int b: String }');
const request = { query: '{ a b }' };
const reference = (result, normalise = []) => ({ result, notes: { normalise, likes: [] } });
const judge = (oursText, result, extra = {}) =>
  compare({ schema, request, ours: parseOrdered(oursText), reference: reference(result), bodyBytes: 20, ...extra });

test('the same answer agrees', () => {
  assert.equal(judge('{"data":{"a":1,"b":"x"}}', { data: { a: 1, b: 'x' } }), null);
});

test('keys in another order disagree', () => {
  assert.equal(judge('{"data":{"b":"x","a":1}}', { data: { a: 1, b: 'x' } }).kind, 'key order');
});

test('a key written twice disagrees', () => {
  assert.equal(judge('{"data":{"a":1,"a":1,"b":"x"}}', { data: { a: 1, b: 'x' } }).kind, 'repeated key');
});

test('another value, or null for an empty object, disagrees', () => {
  assert.equal(judge('{"data":{"a":2,"b":"x"}}', { data: { a: 1, b: 'x' } }).kind, 'data');
  assert.equal(judge('{"data":{"a":null}}', { data: { a: {} } }).kind, 'data');
});

test('data where the reference has none, or none where it has some, disagrees', () => {
  const refused = { errors: [new GraphQLError('no')] };
  assert.equal(judge('{"data":{"a":1}}', refused).kind, 'validity');
  assert.equal(judge('{"errors":[{"message":"no"}]}', { data: { a: 1 } }).kind, 'validity');
  assert.equal(judge('{"data":null}', refused).kind, 'validity');
});

test('errors are compared by presence and path, not message', () => {
  const failed = { data: { a: null }, errors: [new GraphQLError('x', { path: ['a'] })] };
  assert.equal(judge('{"data":{"a":null},"errors":[{"message":"other","path":["a"]}]}', failed), null);
  assert.equal(judge('{"data":{"a":null},"errors":[{"message":"x","path":["b"]}]}', failed).kind, 'paths');
  assert.equal(judge('{"data":{"a":null}}', failed).kind, 'errors');
});

test('an unpredictable value is checked for its shape', () => {
  const notes = [{ path: ['a'], kind: 'likeId' }];
  const placeholder = { data: { a: 'Like:00000000-0000-0000-0000-000000000000' } };
  const ok = '{"data":{"a":"Like:5e4247f8-e031-5cc0-a8ff-b4f6a569dd26"}}';
  assert.equal(judge(ok, placeholder, { reference: reference(placeholder, notes) }), null);
  const bad = judge('{"data":{"a":"Like:1"}}', placeholder, { reference: reference(placeholder, notes) });
  assert.equal(bad.kind, 'data');
});

test('a set in another order is allowed and counted, another set is not', () => {
  const notes = [{ path: ['a'], kind: 'set' }];
  const theirs = { data: { a: [{ n: 1 }, { n: 2 }] } };
  const reordered = judge('{"data":{"a":[{"n":2},{"n":1}]}}', theirs, { reference: reference(theirs, notes) });
  assert.ok(reordered.allowed);
  const other = judge('{"data":{"a":[{"n":2},{"n":3}]}}', theirs, { reference: reference(theirs, notes) });
  assert.equal(other.allowed, undefined);
});

test('a refusal is allowed only past a documented limit', () => {
  const deep = { query: `{ ${'a { '.repeat(9)}b${' }'.repeat(9)} }` };
  const refusedJson = '{"errors":[{"message":"too deep","extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}';
  const past = judge(refusedJson, { data: { a: 1 } }, { request: deep });
  assert.match(past.allowed, /limit/);
  const within = judge(refusedJson, { data: { a: 1 } });
  assert.equal(within.allowed, undefined);
});

test('a case that expects a refusal wants its code', () => {
  const expect = { code: 'PAYLOAD_TOO_LARGE', limit: 'body' };
  const refused = '{"errors":[{"message":"big","extensions":{"code":"PAYLOAD_TOO_LARGE"}}]}';
  assert.equal(judge(refused, { data: { a: 1 } }, { expect }), null);
  assert.equal(judge('{"data":{"a":1}}', { data: { a: 1 } }, { expect }).kind, 'limit');
});

test("a newer draft's directive missing from our list is allowed and counted, any other is not", () => {
  const theirs = () => ({
    data: { d: [{ name: 'skip' }, { name: 'oneOf', description: 'x' }, { name: 'deprecated', description: 'y' }] },
  });
  const notes = () => [
    { path: ['d'], kind: 'set' },
    { path: ['d', 1], kind: 'newer' },
    { path: ['d', 1, 'description'], kind: 'wording' },
    { path: ['d', 2, 'description'], kind: 'wording' },
  ];
  const ours = '{"data":{"d":[{"name":"skip"},{"name":"deprecated","description":"z"}]}}';
  const withoutOneOf = judge(ours, theirs(), { reference: reference(theirs(), notes()) });
  assert.equal(withoutOneOf.kind, 'open');
  const withoutSkip = '{"data":{"d":[{"name":"deprecated","description":"z"}]}}';
  assert.equal(judge(withoutSkip, theirs(), { reference: reference(theirs(), notes()) }).kind, 'data');
});
