// JSON with its key order kept: a parser that reads objects as lists of
// entries (so a repeated key or a reordering is visible), a writer, and
// the conversion of a JavaScript value (graphql-js's answers) to the same
// form. Objects are `Entries`; arrays and scalars are themselves.

/** A JSON object as read: its [key, value] pairs in document order. */
export class Entries {
  constructor(pairs = []) {
    this.pairs = pairs;
  }

  get(key) {
    const pair = this.pairs.find(([k]) => k === key);
    return pair ? pair[1] : undefined;
  }

  has(key) {
    return this.pairs.some(([k]) => k === key);
  }

  set(key, value) {
    const pair = this.pairs.find(([k]) => k === key);
    if (pair) pair[1] = value;
  }

  /** The keys seen more than once. */
  repeated() {
    const seen = new Set();
    return this.pairs.map(([k]) => k).filter((k) => seen.has(k) || !seen.add(k));
  }
}

const SCALAR = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/y;

/** Parses JSON `text`, keeping every object's key order and repeats. */
export function parseOrdered(text) {
  let at = 0;
  const fail = (why) => {
    throw new SyntaxError(`${why} at ${at} in ${text.slice(0, 200)}`);
  };
  const space = () => {
    while (at < text.length && ' \t\r\n'.includes(text[at])) at += 1;
  };
  const value = () => {
    space();
    const c = text[at];
    if (c === '{') {
      at += 1;
      const pairs = [];
      space();
      if (text[at] === '}') {
        at += 1;
        return new Entries(pairs);
      }
      for (;;) {
        space();
        if (text[at] !== '"') fail('a key expected');
        const key = string();
        space();
        if (text[at] !== ':') fail('":" expected');
        at += 1;
        pairs.push([key, value()]);
        space();
        if (text[at] === ',') at += 1;
        else if (text[at] === '}') {
          at += 1;
          return new Entries(pairs);
        } else fail('"," or "}" expected');
      }
    }
    if (c === '[') {
      at += 1;
      const items = [];
      space();
      if (text[at] === ']') {
        at += 1;
        return items;
      }
      for (;;) {
        items.push(value());
        space();
        if (text[at] === ',') at += 1;
        else if (text[at] === ']') {
          at += 1;
          return items;
        } else fail('"," or "]" expected');
      }
    }
    if (c === '"') return string();
    SCALAR.lastIndex = at;
    const scalar = SCALAR.exec(text);
    if (!scalar) fail('a value expected');
    at += scalar[0].length;
    return JSON.parse(scalar[0]);
  };
  const string = () => {
    STRING.lastIndex = at;
    const match = STRING.exec(text);
    if (!match) fail('a string expected');
    at += match[0].length;
    return JSON.parse(match[0]);
  };
  const parsed = value();
  space();
  if (at !== text.length) fail('trailing text');
  return parsed;
}

/** A JavaScript value (insertion order is its key order) as `Entries`. */
export function fromValue(value) {
  if (Array.isArray(value)) return value.map(fromValue);
  if (value !== null && typeof value === 'object') {
    return new Entries(Object.entries(value).map(([k, v]) => [k, fromValue(v)]));
  }
  return value;
}

/** Writes an ordered value back as JSON, in its order. */
export function stringify(value) {
  if (value instanceof Entries) {
    return `{${value.pairs.map(([k, v]) => `${JSON.stringify(k)}:${stringify(v)}`).join(',')}}`;
  }
  if (Array.isArray(value)) return `[${value.map(stringify).join(',')}]`;
  return JSON.stringify(value);
}

/** Every object key repeated anywhere in `value`, with where. */
export function repeatedKeys(value, path = []) {
  if (value instanceof Entries) {
    const here = value.repeated().map((key) => [...path, key].join('.'));
    return here.concat(...value.pairs.map(([k, v]) => repeatedKeys(v, [...path, k])));
  }
  if (Array.isArray(value)) return [].concat(...value.map((v, i) => repeatedKeys(v, [...path, i])));
  return [];
}

/** The value at `path` (keys and indexes), or undefined. */
export function at(value, path) {
  let here = value;
  for (const step of path) {
    if (here instanceof Entries) here = here.get(step);
    else if (Array.isArray(here)) here = here[step];
    else return undefined;
  }
  return here;
}

/** Replaces the value at a non-empty `path`, if it is there. */
export function replaceAt(value, path, replacement) {
  const parent = at(value, path.slice(0, -1));
  const last = path[path.length - 1];
  if (parent instanceof Entries) parent.set(last, replacement);
  else if (Array.isArray(parent) && last < parent.length) parent[last] = replacement;
}
