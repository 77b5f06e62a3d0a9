// What introspection leaves to the implementation, noted where graphql-js
// answers it: the order of `__schema.types` and `__schema.directives` (the
// spec calls them sets); the descriptions of what the schema does not
// declare itself (the introspection types, the built-in scalars and
// directives), whose wording is each implementation's; and the members of
// the introspection types themselves and the locations and arguments of
// the directives beyond @skip and @include, which follow the spec edition
// an implementation follows (graphql-js 16 has newer drafts' members, and
// lists the newer drafts' directives, such as @oneOf, which are noted).
// graphql-js's own introspection resolvers are wrapped, once, to note
// each such value's path in the notes its execution carries.

import {
  __Directive,
  __EnumValue,
  __Field,
  __InputValue,
  __Schema,
  __Type,
  introspectionTypes,
  isEnumType,
  isIntrospectionType,
  isObjectType,
  responsePathAsArray,
  specifiedDirectives,
  specifiedScalarTypes,
} from 'graphql';

/** The directives graphql-js adds beyond @skip and @include. */
const BUILT_IN_DIRECTIVES = specifiedDirectives.filter((d) => !['skip', 'include'].includes(d.name));

/** The directives of drafts newer than the October 2021 spec (`@oneOf`). */
const NEWER_DIRECTIVES = new Set(
  specifiedDirectives.map((d) => d.name).filter((name) => !['skip', 'include', 'deprecated', 'specifiedBy'].includes(name)),
);

/** Everything whose description is the implementation's wording. */
const BUILT_IN = new Set([
  ...introspectionTypes,
  ...specifiedScalarTypes,
  ...BUILT_IN_DIRECTIVES,
  ...BUILT_IN_DIRECTIVES.flatMap((d) => d.args),
  ...introspectionTypes.filter(isObjectType).flatMap((t) => Object.values(t.getFields())),
  ...introspectionTypes
    .filter(isObjectType)
    .flatMap((t) => Object.values(t.getFields()).flatMap((f) => f.args)),
  ...introspectionTypes.filter(isEnumType).flatMap((t) => t.getValues()),
]);

/** Wraps `type`'s field `name` so that it notes `kind` when `when(source)`. */
function note(type, name, kind, when = () => true) {
  const field = type.getFields()[name];
  const resolve = field.resolve;
  field.resolve = (source, args, context, info) => {
    if (context?.normalise && when(source)) {
      context.normalise.push({ path: responsePathAsArray(info.path), kind });
    }
    return resolve(source, args, context, info);
  };
}

let wrapped = false;

/**
 * Makes graphql-js note, in its execution's notes, what is left open in
 * introspecting `schema` (whose @skip and @include, declared in its SDL,
 * are built in all the same: their wording is the implementation's).
 */
export function noteWhatIsOpen(schema) {
  for (const directive of schema.getDirectives()) {
    if (specifiedDirectives.some((d) => d.name === directive.name)) {
      BUILT_IN.add(directive);
      directive.args.forEach((arg) => BUILT_IN.add(arg));
    }
  }
  if (wrapped) return;
  wrapped = true;
  note(__Schema, 'types', 'set');
  note(__Schema, 'directives', 'set');
  noteNewerDirectives();
  const builtIn = (source) => BUILT_IN.has(source);
  for (const type of [__Type, __Field, __InputValue, __EnumValue, __Directive]) {
    note(type, 'description', 'wording', builtIn);
  }
  for (const field of ['fields', 'enumValues', 'inputFields']) {
    note(__Type, field, 'edition', (type) => isIntrospectionType(type));
  }
  const beyond = (directive) => BUILT_IN_DIRECTIVES.includes(directive);
  for (const field of ['locations', 'args']) note(__Directive, field, 'edition', beyond);
}

/** Wraps `__Schema.directives` so that it notes each newer draft's directive, as `newer`. */
function noteNewerDirectives() {
  const field = __Schema.getFields().directives;
  const resolve = field.resolve;
  field.resolve = (source, args, context, info) => {
    const directives = resolve(source, args, context, info);
    if (context?.normalise) {
      const path = responsePathAsArray(info.path);
      directives.forEach((directive, index) => {
        if (NEWER_DIRECTIVES.has(directive.name)) context.normalise.push({ path: [...path, index], kind: 'newer' });
      });
    }
    return directives;
  };
}
