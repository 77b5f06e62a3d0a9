// The hand-written edge cases, by group; each gets an id `e-<group>-<n>`
// and, unless it names one, its group as its category.

import { issueCases } from './issue.mjs';
import { limits } from './limits.mjs';
import { introspection, likes, operations, subscriptions } from './operations.mjs';
import { rules } from './rules.mjs';
import { aliasesAndTypenames, conditions, fragments, merging } from './selections.mjs';
import { ints, strings, variables } from './values.mjs';

const GROUPS = {
  issue: issueCases,
  typename: aliasesAndTypenames,
  fragments,
  merging,
  conditions,
  variables,
  ints,
  strings,
  operations,
  introspection,
  likes,
  subscriptions,
  rules,
  limits,
};

/** Every edge case, for `context` ({schema, talks, unique}). */
export function edgeCases(context) {
  return Object.entries(GROUPS).flatMap(([group, make]) =>
    make(context).map((c, i) => ({ category: group, ...c, id: `e-${group}-${i}` })),
  );
}
