// The service's documented limits (docs/api.md), measured on a document
// independently of the service: where the service refuses a document that
// graphql-js answers, the comparator allows it only if one of these
// measures is past its limit.

import { Kind, parse } from 'graphql';
import { BODY_MAX } from './service.mjs';

/** The limits, as docs/api.md lists them. */
export const LIMITS = {
  depth: 8,
  complexity: 200,
  aliases: 30,
  directivesPerField: 4,
  nesting: 16,
  bodyBytes: BODY_MAX,
};

/** How far `query` goes on each measure (null when it does not parse). */
export function measure(query) {
  let document;
  try {
    document = parse(query);
  } catch {
    return null;
  }
  const fragments = new Map(
    document.definitions
      .filter((d) => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((d) => [d.name.value, d]),
  );
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  // Walks a selection set with fragments expanded (a cycle stops the walk).
  const walk = (set, visit, inside = new Set()) => {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) visit.field(selection, inside);
      else if (selection.kind === Kind.INLINE_FRAGMENT) visit.fragment(selection.selectionSet, inside);
      else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (fragment && !inside.has(name)) {
          visit.fragment(fragment.selectionSet, new Set(inside).add(name));
        }
      }
    }
  };
  // Field depth: the deepest field, fragments expanded.
  const depth = (set, inside) => {
    let deepest = 0;
    walk(
      set,
      {
        field: (field, within) => {
          deepest = Math.max(deepest, 1 + (field.selectionSet ? depth(field.selectionSet, within) : 0));
        },
        fragment: (inner, within) => {
          deepest = Math.max(deepest, depth(inner, within));
        },
      },
      inside,
    );
    return deepest;
  };
  // Complexity: one per field selected, fragments expanded.
  const complexity = (set, inside) => {
    let sum = 0;
    walk(
      set,
      {
        field: (field, within) => {
          sum += 1 + (field.selectionSet ? complexity(field.selectionSet, within) : 0);
        },
        fragment: (inner, within) => {
          sum += complexity(inner, within);
        },
      },
      inside,
    );
    return sum;
  };
  // Nesting: selection sets inside selection sets (fields, inline
  // fragments and fragment spreads each open one).
  const nesting = (set, inside) => {
    let deepest = 0;
    walk(
      set,
      {
        field: (field, within) => {
          if (field.selectionSet) deepest = Math.max(deepest, 1 + nesting(field.selectionSet, within));
        },
        fragment: (inner, within) => {
          deepest = Math.max(deepest, 1 + nesting(inner, within));
        },
      },
      inside,
    );
    return deepest;
  };
  let aliases = 0;
  let directivesPerField = 0;
  const count = (node) => {
    if (!node || typeof node !== 'object') return;
    if (node.kind === Kind.FIELD) {
      if (node.alias) aliases += 1;
      directivesPerField = Math.max(directivesPerField, node.directives?.length ?? 0);
    }
    for (const value of Object.values(node)) {
      if (Array.isArray(value)) value.forEach(count);
      else if (value && typeof value === 'object' && value.kind) count(value);
    }
  };
  count(document);
  const each = (f) => operations.map((op) => f(op.selectionSet, new Set()));
  return {
    depth: Math.max(0, ...each(depth)),
    complexity: each(complexity).reduce((a, b) => a + b, 0),
    aliases,
    directivesPerField,
    nesting: Math.max(0, ...each(nesting)),
  };
}

/** The limits `request` (with its body's size) goes past. */
export function pastLimits(query, bodyBytes) {
  const measured = measure(query) ?? {};
  const past = Object.entries(measured)
    .filter(([name, value]) => value > LIMITS[name])
    .map(([name]) => name);
  if (bodyBytes > LIMITS.bodyBytes) past.push('bodyBytes');
  return past;
}
