// What the real-client scripts share: failing loudly, waiting, and reading
// a gauge of the server's /metrics.

/** Ends the script, failed, saying why. */
export const fail = (why) => {
  console.error(why);
  process.exit(1);
};

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A gauge of the server at `base` (its /metrics). */
export async function metric(base, name) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** Waits until `probe()` is true, for up to `ms`; fails naming `what`. */
export async function until(probe, ms, what) {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) fail(`timed out: ${what}`);
    await sleep(50);
  }
}

/**
 * Waits until every subscriber in `seen` (likes summed per client) has
 * seen `likes`, then a while longer, in which nothing more may arrive.
 */
export async function expectExactly(seen, likes) {
  await until(
    () => Object.values(seen).every((n) => n >= likes),
    10_000,
    `every subscriber to see ${likes} likes (seen ${JSON.stringify(seen)})`,
  );
  await sleep(2500);
  if (Object.values(seen).some((n) => n !== likes)) {
    fail(`the deltas do not add up to ${likes}: ${JSON.stringify(seen)}`);
  }
}
