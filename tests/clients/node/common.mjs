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
