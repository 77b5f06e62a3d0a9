// What graphql-js 16 offers from drafts newer than the October 2021 spec:
// the members of its introspection types that the spec's own
// (Section 4, "Schema Introspection") lacks, such as input value and
// directive deprecation or `isOneOf`, found by comparing the two; and
// finding their uses in a document.

import {
  Kind,
  TypeInfo,
  buildSchema,
  introspectionTypes,
  isObjectType,
  parse,
  visit,
  visitWithTypeInfo,
} from 'graphql';

/** The introspection types of the October 2021 spec, as it writes them. */
const OCTOBER_2021 = `
type Query { a: Int }
type __Schema { description: String types: [__Type!]! queryType: __Type! mutationType: __Type
  subscriptionType: __Type directives: [__Directive!]! }
type __Type { kind: __TypeKind! name: String description: String
  fields(includeDeprecated: Boolean = false): [__Field!] interfaces: [__Type!] possibleTypes: [__Type!]
  enumValues(includeDeprecated: Boolean = false): [__EnumValue!] inputFields: [__InputValue!]
  ofType: __Type specifiedByURL: String }
enum __TypeKind { SCALAR OBJECT INTERFACE UNION ENUM INPUT_OBJECT LIST NON_NULL }
type __Field { name: String! description: String args: [__InputValue!]! type: __Type!
  isDeprecated: Boolean! deprecationReason: String }
type __InputValue { name: String! description: String type: __Type! defaultValue: String }
type __EnumValue { name: String! description: String isDeprecated: Boolean! deprecationReason: String }
type __Directive { name: String! description: String locations: [__DirectiveLocation!]!
  args: [__InputValue!]! isRepeatable: Boolean! }
enum __DirectiveLocation { QUERY MUTATION SUBSCRIPTION FIELD FRAGMENT_DEFINITION FRAGMENT_SPREAD
  INLINE_FRAGMENT VARIABLE_DEFINITION SCHEMA SCALAR OBJECT FIELD_DEFINITION ARGUMENT_DEFINITION
  INTERFACE UNION ENUM ENUM_VALUE INPUT_OBJECT INPUT_FIELD_DEFINITION }
`;

/** `Type.field` and `Type.field(argument)` of an introspection type set. */
function members(types) {
  return types.filter(isObjectType).flatMap((type) =>
    Object.values(type.getFields()).flatMap((field) => [
      `${type.name}.${field.name}`,
      ...field.args.map((arg) => `${type.name}.${field.name}(${arg.name})`),
    ]),
  );
}

const spec = new Set(members(Object.values(buildSchema(OCTOBER_2021.replaceAll('__', 'Spec__')).getTypeMap())
  .filter((type) => type.name.startsWith('Spec__')))
  .map((member) => member.replaceAll('Spec__', '__')));

/** graphql-js's introspection members the October 2021 spec lacks. */
export const NEWER = new Set(members(introspectionTypes).filter((member) => !spec.has(member)));

/** The newer-draft members `query` uses (empty when it does not parse). */
export function newerDraftUses(schema, query) {
  let document;
  try {
    document = parse(query);
  } catch {
    return [];
  }
  const used = [];
  const info = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(info, {
      [Kind.FIELD](node) {
        const field = `${info.getParentType()?.name}.${node.name.value}`;
        if (NEWER.has(field)) used.push(field);
        for (const argument of node.arguments ?? []) {
          if (NEWER.has(`${field}(${argument.name.value})`)) used.push(`${field}(${argument.name.value})`);
        }
      },
    }),
  );
  return used;
}
