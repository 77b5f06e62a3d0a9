// The hand-written edge cases, by group; each gets an id `e-<group>-<n>`
// and its group as its category.

import { issueCases } from './issue.mjs';

const GROUPS = {
  issue: issueCases,
};

/** Every edge case, for `context` ({schema, talks}). */
export function edgeCases(context) {
  return Object.entries(GROUPS).flatMap(([group, make]) =>
    make(context).map((c, i) => ({ category: group, ...c, id: `e-${group}-${i}` })),
  );
}
