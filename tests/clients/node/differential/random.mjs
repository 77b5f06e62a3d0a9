// A seeded random source (mulberry32): the same seed gives the same cases
// on every machine and Node version.

/** Random choices drawn from a 32-bit `seed`. */
export function random(seed) {
  let state = seed >>> 0;
  const float = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(float() * n);
  return {
    float,
    /** 0 to n - 1. */
    int,
    /** true with probability p. */
    chance: (p) => float() < p,
    /** One item of a non-empty list. */
    pick: (items) => items[int(items.length)],
    /** One item of [[weight, item], ...]. */
    weighted: (choices) => {
      let left = float() * choices.reduce((sum, [w]) => sum + w, 0);
      for (const [weight, item] of choices) {
        left -= weight;
        if (left < 0) return item;
      }
      return choices[choices.length - 1][1];
    },
    /** The list in a random order (a copy). */
    shuffle: (items) => {
      const copy = [...items];
      for (let i = copy.length - 1; i > 0; i -= 1) {
        const j = int(i + 1);
        [copy[i], copy[j]] = [copy[j], copy[i]];
      }
      return copy;
    },
  };
}

/** A fresh seed, for runs that are not given one. */
export const freshSeed = () => Math.floor(Math.random() * 2 ** 32);
