// What the browser tests share: a real `likes serve` on a free port, headless
// Chromium, a relay that can cut a browser's connections as a lost network
// does, polling with a deadline, named steps printed as they pass, and a run
// that cleans up after itself and fails on a deadline.

import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { chromium } from 'playwright-core';

const READY_MS = 15_000;

/** Headless Chromium ($CHROMIUM, or Debian's), without background
 * networking: on a closed network its calls out fail and slow the start. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let passed = 0;

/** Runs one named check, printing it as it passes. */
export async function step(name, body) {
  const started = Date.now();
  try {
    await body();
  } catch (error) {
    error.step = name;
    throw error;
  }
  passed += 1;
  console.log(`ok ${passed} - ${name} (${Date.now() - started} ms)`);
}

/**
 * Polls `probe` (→ { ok, seen }) every 100 ms until ok, or fails saying what
 * it last saw; a probe error marked `fatal` ends the wait at once.
 */
export async function until(what, timeoutMs, probe) {
  const deadline = Date.now() + timeoutMs;
  let seen;
  for (;;) {
    try {
      const result = await probe();
      if (result.ok) return result.seen;
      seen = result.seen;
    } catch (error) {
      if (error.fatal) throw error;
      seen = `error: ${error.message.split('\n')[0]}`;
    }
    if (Date.now() >= deadline) {
      throw new Error(`${what}: not within ${timeoutMs} ms (last seen: ${JSON.stringify(seen)})`);
    }
    await sleep(100);
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** One `likes serve` process; its output is kept for the failure report. */
export class Server {
  constructor({ binary, port, dir, pageDir }) {
    this.binary = binary;
    this.base = `http://127.0.0.1:${port}`;
    this.args = [
      'serve',
      '--listen', `127.0.0.1:${port}`,
      '--store', `sqlite://${path.join(dir, 'likes.db')}`,
      '--server-id', 'page-test',
      '--flush-interval', '200ms',
      '--observe-interval', '200ms',
      // Each like answered once stored, after the production overlay's
      // linger: a tap's request waits about a tenth of a second.
      '--ack', 'stored',
      '--ack-linger', '100ms',
      ...(pageDir ? ['--page-dir', pageDir] : []),
    ];
    this.lines = [];
    this.child = null;
  }

  async start() {
    // The test sets every flag it relies on; LIKES_* from the caller's
    // environment must not change the server under test.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('LIKES_')));
    const child = spawn(this.binary, this.args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.exit = new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
    });
    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding('utf8');
      stream.on('data', (text) => {
        this.lines.push(...text.split('\n').filter(Boolean));
        if (this.lines.length > 400) this.lines.splice(0, this.lines.length - 400);
      });
    }
    let exited = null;
    this.exit.then((status) => (exited = status));
    await until(`${this.base}/readyz answers 200`, READY_MS, async () => {
      if (exited) {
        throw Object.assign(new Error(`the server exited before it was ready: ${JSON.stringify(exited)}`), {
          fatal: true,
        });
      }
      const response = await fetch(`${this.base}/readyz`);
      return { ok: response.status === 200, seen: response.status };
    });
  }

  /** SIGTERM, and the exit status once it has stopped. */
  async stop() {
    this.child.kill('SIGTERM');
    const status = await Promise.race([this.exit, sleep(25_000).then(() => null)]);
    if (!status) throw new Error('the server did not exit within 25 s of SIGTERM');
    this.child = null;
    return status;
  }

  kill() {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
    }
  }

  tail(n = 40) {
    return this.lines.slice(-n).join('\n');
  }

  /** A gauge or counter from /metrics. */
  async metric(name) {
    const text = await (await fetch(`${this.base}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `));
    return line ? Number(line.split(' ')[1]) : null;
  }

  /** Waits until the pages hold exactly one subscription per talk each. */
  async waitSubscribers(wanted) {
    await until(`the server has ${wanted} subscribers`, 5000, async () => {
      const seen = await this.metric('likes_subscribers');
      return { ok: seen === wanted, seen };
    });
  }

  async graphql(query, variables) {
    const response = await fetch(`${this.base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    const answer = await response.json();
    if (answer.errors) throw new Error(`GraphQL errors: ${JSON.stringify(answer.errors)}`);
    return answer.data;
  }
}

/**
 * A TCP relay on a free port to `target` (a port on 127.0.0.1), standing for
 * one browser's network. `cut()` loses every connection open so far the way
 * a lost network does: the server sees each one close, while the browser's
 * end stays open and never hears from it again. Connections made later pass.
 */
export class Relay {
  constructor(target) {
    this.target = target;
    /** Every connection not yet closed, cut or not. */
    this.pairs = new Set();
    this.server = net.createServer((browser) => this.relay(browser));
  }

  async start() {
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', resolve);
    });
    this.base = `http://127.0.0.1:${this.server.address().port}`;
  }

  relay(browser) {
    const upstream = net.connect(this.target, '127.0.0.1');
    const pair = { browser, upstream, cut: false };
    this.pairs.add(pair);
    browser.pipe(upstream);
    upstream.pipe(browser);
    browser.on('error', () => {});
    upstream.on('error', () => {});
    browser.on('close', () => {
      this.pairs.delete(pair);
      upstream.destroy();
    });
    upstream.on('close', () => pair.cut || browser.destroy());
  }

  cut() {
    for (const pair of this.pairs) {
      if (pair.cut) continue;
      pair.cut = true;
      pair.browser.unpipe(pair.upstream);
      pair.upstream.unpipe(pair.browser);
      // Whatever the browser still sends goes nowhere.
      pair.browser.on('data', () => {});
      pair.upstream.destroy();
    }
  }

  close() {
    for (const pair of this.pairs) {
      pair.browser.destroy();
      pair.upstream.destroy();
    }
    this.server.close();
  }
}

/** Runs `run(cleanup)`, then everything it pushed on `cleanup`; exits 0 or 1. */
export async function main(run, overallMs) {
  const cleanup = [];
  const finish = async (code) => {
    for (const undo of cleanup.reverse()) {
      try {
        await undo();
      } catch {
        // Cleaning up as much as possible matters more than why one part failed.
      }
    }
    process.exit(code);
  };
  const watchdog = setTimeout(() => {
    console.log(`not ok - the test did not finish within ${overallMs / 1000} s`);
    if (cleanup.server) console.log(`--- server output (last lines) ---\n${cleanup.server.tail()}`);
    console.log(`browser: ${passed} passed, 1 failed`);
    finish(1);
  }, overallMs);
  try {
    await run(cleanup);
    clearTimeout(watchdog);
    console.log(`browser: ${passed} passed, 0 failed`);
    await finish(0);
  } catch (error) {
    clearTimeout(watchdog);
    console.log(`not ok - ${error.step ?? 'setting up'}: ${error.message}`);
    if (cleanup.server) console.log(`--- server output (last lines) ---\n${cleanup.server.tail()}`);
    console.log(`browser: ${passed} passed, 1 failed`);
    await finish(1);
  }
}
