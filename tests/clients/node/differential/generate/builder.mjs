// Builds one document from the schema: random selections (aliases,
// arguments as literals or variables, @skip/@include, inline fragments,
// named fragments, repeated keys that merge), kept valid and inside the
// service's limits unless a fault is asked for. The faults themselves are
// in faults.mjs; this module only offers them a place to go.

import {
  GraphQLBoolean,
  GraphQLInt,
  GraphQLString,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
  getNamedType,
  getNullableType,
  isCompositeType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
} from 'graphql';
import { NEWER } from '../drafts.mjs';


/** Deepest field generated (the service refuses past 8). */
const MAX_DEPTH = 7;
/** Most fields generated in one document (the service refuses past 200). */
const MAX_FIELDS = 110;
/** Most aliases generated in one document (the service refuses past 30). */
const MAX_ALIASES = 20;
/** Deepest nesting of selection sets generated (the service refuses past 16). */
const MAX_NESTING = 11;

const INT_EDGES = [2147483647, -2147483648, 0];
const TYPE_NAMES = ['Session', 'Query', 'Mutation', 'Subscription', 'Like', 'LikeEvent',
  'CreateLikeInput', 'CreateLikePayload', 'Int', 'String', 'Boolean', 'ID', '__Type', '__Schema',
  '__TypeKind', 'Nope', 'session'];
const ALIASES = ['a', 'b', 'x', 'id', 'title', 'liked', 'session', 'sessions', '_', 'A1'];

/** `__typename`, as the generator picks it. */
const TYPENAME = { name: '__typename', args: [], type: GraphQLString };

/** A GraphQL string literal for `text`, escaped as JSON does (valid GraphQL). */
export const literal = (text) => JSON.stringify(text);

/**
 * A GraphQL string literal for `text` written one of several ways: as
 * JSON escapes it, with letters as `\uXXXX` or `\u{X}` escapes, or as a
 * block string (with `\"""` for a triple quote) when it reads the same.
 */
export function spelled(r, text) {
  const how = r.weighted([[6, 'json'], [1, 'fixed'], [1, 'braced'], [2, 'block']]);
  const escape = (fixed) => (c) => {
    const code = c.codePointAt(0).toString(16).toUpperCase();
    return fixed ? `\\u${code.padStart(4, '0')}` : `\\u{${code}}`;
  };
  if (how === 'fixed' || how === 'braced') {
    const body = [...text].map((c) =>
      /[A-Za-z]/.test(c) && r.chance(0.3) ? escape(how === 'fixed')(c) : literal(c).slice(1, -1),
    );
    return `"${body.join('')}"`;
  }
  const plain = !/[\\\u0000-\u001f\u007f]/.test(text) && !/^\s|\s$/.test(text) && !text.endsWith('"');
  if (how === 'block' && plain) return `"""${text.replaceAll('"""', '\\"""')}"""`;
  return literal(text);
}

/** One document under construction. */
export class Builder {
  /** `ctx`: {schema, talks, unique()}; `r`: the random source. */
  constructor(ctx, r) {
    this.ctx = ctx;
    this.r = r;
    this.schema = ctx.schema;
    this.definitions = [];
    this.fragments = [];
    this.named = 0;
    this.variables = [];
    this.values = {};
    this.keys = new Map();
    this.fields = 0;
    this.aliases = 0;
    /** Called at each place a fault may go: (place, builder) => text or null. */
    this.hook = () => null;
  }

  /** Declares a variable; `value` undefined leaves it out of the request. */
  variable(type, { value, defaultValue } = {}) {
    const name = `${this.ctx.prefix ?? ''}v${this.variables.length}`;
    const suffix = defaultValue === undefined ? '' : ` = ${defaultValue}`;
    this.variables.push(`$${name}: ${type}${suffix}`);
    if (value !== undefined) this.values[name] = value;
    return `$${name}`;
  }

  /** The variable definitions of the operation, with parentheses, or ''. */
  variableDefinitions() {
    return this.variables.length ? `(${this.variables.join(', ')})` : '';
  }

  /** A talk id: mostly one that exists, sometimes an edge or unknown. */
  talkId() {
    const ids = this.ctx.talks.map((t) => t.sessionId);
    return this.r.weighted([[7, () => this.r.pick(ids)], [1, () => this.r.pick([99, -1, 1000])],
      [1, () => this.r.pick(INT_EDGES)]])();
  }

  /** A value of input type `type` for argument `name`, literal or variable. */
  value(type, name) {
    const nullable = getNullableType(type);
    const asVariable = this.r.chance(0.25);
    let jsValue;
    if (nullable === GraphQLInt) jsValue = name === 'sessionId' ? this.talkId() : this.r.pick([0, 1, 2]);
    else if (nullable === GraphQLBoolean) jsValue = this.r.chance(0.5);
    else if (nullable === GraphQLString) jsValue = name === 'name' ? this.r.pick(TYPE_NAMES) : 'x';
    else if (isEnumType(nullable)) return nullable.getValues()[0].name;
    else if (isListType(nullable) || isInputObjectType(nullable)) return 'null';
    else jsValue = 'x';
    if (!asVariable) return typeof jsValue === 'string' ? spelled(this.r, jsValue) : String(jsValue);
    const typeName = String(type);
    return this.r.weighted([
      [6, () => this.variable(typeName, { value: jsValue })],
      // A nullable variable with a default may fill a non-null place.
      [2, () => this.variable(typeName.replace(/!$/, ''), {
        defaultValue: typeof jsValue === 'string' ? literal(jsValue) : String(jsValue),
        value: this.r.chance(0.5) ? jsValue : undefined,
      })],
    ])();
  }

  /** A condition for @skip/@include: a literal or a variable. */
  condition() {
    const wanted = this.r.chance(0.5);
    return this.r.weighted([
      [3, () => String(wanted)],
      [3, () => this.variable('Boolean!', { value: wanted })],
      [1, () => this.variable('Boolean', { defaultValue: String(wanted) })],
      [1, () => this.variable('Boolean', { defaultValue: String(!wanted), value: wanted })],
    ])();
  }

  /** Zero to two @skip/@include directives. */
  directives(place) {
    const faulty = this.hook(`directives:${place}`, this);
    if (faulty !== null) return faulty;
    if (!this.r.chance(0.14)) return '';
    const count = this.r.chance(0.85) ? 1 : 2;
    const names = count === 2 ? ['skip', 'include'] : [this.r.pick(['skip', 'include'])];
    return names.map((n) => ` @${n}(if: ${this.condition()})`).join('');
  }

  /** The fields a selection on `type` may pick (meta fields included). */
  fieldsOf(type) {
    const fields = isObjectType(type) ? Object.values(type.getFields()) : [];
    // Documents of the October 2021 spec: newer drafts' members are left out.
    const mine = fields.filter((f) => !NEWER.has(`${type.name}.${f.name}`));
    if (type === this.schema.getQueryType()) mine.push(SchemaMetaFieldDef, TypeMetaFieldDef);
    return mine;
  }

  /** A selection set on `type`: `{ ... }`. */
  selectionSet(type, depth, nesting, { introspection = 0.08 } = {}) {
    const items = [];
    const wanted = 1 + this.r.int(this.r.chance(0.3) ? 5 : 3);
    const place = { type, depth, nesting };
    for (let i = 0; i < wanted && this.fields < MAX_FIELDS; i += 1) {
      const faulty = this.hook('selection', this, place);
      if (faulty !== null) {
        items.push({ text: faulty });
        continue;
      }
      const kind = this.r.weighted([[16, 'field'], [2, 'inline'], [2, 'spread'], [2, 'repeat']]);
      const fields = items.filter((item) => item.field);
      if (kind === 'inline' && nesting < MAX_NESTING) {
        const on = this.r.chance(0.7) ? ` on ${type.name}` : '';
        const set = this.selectionSet(type, depth, nesting + 1);
        items.push({ text: `...${on}${this.directives('inline')} ${set}` });
      } else if (kind === 'spread' && nesting < MAX_NESTING && isObjectType(type)) {
        items.push({ text: this.spread(type, depth, nesting) });
      } else if (kind === 'repeat' && fields.length > 0) {
        items.push(this.repeat(this.r.pick(fields), depth, nesting));
      } else {
        const field = this.pickField(type, depth, introspection);
        items.push(this.field(type, field, depth, nesting));
      }
    }
    if (depth === 0) {
      const forced = this.hook('selection:last', this, place);
      if (forced !== null) items.push({ text: forced });
    }
    if (items.length === 0) items.push({ text: '__typename' });
    return `{ ${this.r.shuffle(items).map((item) => item.text).join(' ')} }`;
  }

  /** A field of `type` to select at `depth`. */
  pickField(type, depth, introspection) {
    const fitting = this.fieldsOf(type).filter((f) => {
      if (f === SchemaMetaFieldDef || f === TypeMetaFieldDef) return this.r.chance(introspection);
      return isLeafType(getNamedType(f.type)) || depth + 2 <= MAX_DEPTH;
    });
    if (this.r.chance(0.08) || fitting.length === 0) return TYPENAME;
    return this.r.pick(fitting);
  }

  /**
   * `field` selected on `type`, with alias, arguments, directives: an
   * item {text, field, head, inner} (head: alias and arguments).
   */
  field(type, field, depth, nesting) {
    this.fields += 1;
    const args = field.args
      .filter((a) => !NEWER.has(`${type.name}.${field.name}(${a.name})`))
      .filter((a) => isNonNullType(a.type) || this.r.chance(0.3))
      .map((a) => `${a.name}: ${this.value(a.type, a.name)}`);
    const call = `${field.name}${args.length ? `(${args.join(', ')})` : ''}`;
    let key = field.name;
    if (this.r.chance(0.18) && this.aliases < MAX_ALIASES) key = this.r.pick(ALIASES);
    // One response key, one field and arguments, everywhere in the document.
    if (this.keys.has(`${type.name}.${key}`) && this.keys.get(`${type.name}.${key}`) !== call) {
      key = `k${this.keys.size}`;
    }
    this.keys.set(`${type.name}.${key}`, call);
    if (key !== field.name) this.aliases += 1;
    const head = `${key === field.name ? '' : `${key}: `}${call}`;
    const inner = getNamedType(field.type);
    const set = isCompositeType(inner) ? ` ${this.selectionSet(inner, depth + 1, nesting + 1)}` : '';
    return { text: `${head}${this.directives('field')}${set}`, field, head, inner };
  }

  /** A spread of a named fragment on `type`, new or reused. */
  spread(type, depth, nesting) {
    const reusable = this.fragments.filter((f) => f.type === type && depth <= f.depth);
    let fragment = reusable.length && this.r.chance(0.5) ? this.r.pick(reusable) : null;
    if (fragment) this.fields += fragment.fields;
    else {
      // Named before its body, which may define fragments of its own.
      const name = `${this.ctx.prefix ?? ''}F${this.named++}`;
      const before = this.fields;
      const body = this.selectionSet(type, depth, nesting + 1);
      fragment = { name, type, depth, fields: this.fields - before };
      this.fragments.push(fragment);
      this.definitions.push(`fragment ${name} on ${type.name} ${body}`);
    }
    return `...${fragment.name}${this.directives('spread')}`;
  }

  /** A field item again (merged): its key with other directives, and its
   * sub-selection or another one. */
  repeat(item, depth, nesting) {
    this.fields += 1;
    let set = '';
    if (isCompositeType(item.inner)) {
      set = ` ${this.selectionSet(item.inner, depth + 1, nesting + 1)}`;
    }
    return { ...item, text: `${item.head}${this.directives('field')}${set}` };
  }

  /** The whole document: operation text plus fragment definitions. */
  document(operation) {
    return [operation, ...this.definitions].join('\n');
  }
}
