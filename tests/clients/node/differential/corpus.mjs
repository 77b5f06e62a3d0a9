// The corpus dump: one JSON line per document with graphql-js's verdict
// (valid, invalid or unparsable under the October 2021 spec's rules), the
// rules it breaks, and the service's limits it goes past, for measuring
// other validators against the reference.

import { parse, validate } from 'graphql';
import { pastLimits } from './limits.mjs';
import { SPEC_RULES } from './reference.mjs';
import { requestBody } from './service.mjs';

/** The rules `query` breaks, by name (empty when valid or unparsable). */
function broken(schema, query) {
  let document;
  try {
    document = parse(query);
  } catch {
    return [];
  }
  const breaks = (rule) => {
    try {
      return validate(schema, document, [rule]).length > 0;
    } catch {
      return true;
    }
  };
  return SPEC_RULES.filter(breaks).map((rule) => rule.name.replace(/Rule$/, ''));
}

/** The corpus line of a case that has run. */
export function corpusLine(schema, c) {
  return JSON.stringify({
    id: c.id,
    category: c.category,
    document: c.query,
    graphqljs: c.verdict,
    rules: c.verdict === 'invalid' ? broken(schema, c.query) : [],
    limits: pastLimits(c.query, Buffer.byteLength(requestBody(c))),
  });
}
