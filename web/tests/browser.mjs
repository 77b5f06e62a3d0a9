#!/usr/bin/env node
// The conference page in a real browser (headless Chromium), against a real
// `likes serve`: two attendees see the talks and go live; ten fast taps by
// one show up as exactly +10 on both pages and in the store; after a server
// restart on the same port and store both pages go live again by themselves,
// taps made while it was down arrive once, and one more tap shows up as +11.
// Then attendee 1 goes offline (Playwright's setOffline) and its connections
// are lost (it reaches the server through a relay that cuts them), attendee 2
// likes three times, and within 2 s of coming back online, with no like
// since, attendee 1's counter shows all three. Every page shows the audience
// the server counts (`Session.watching`), also once a third page joins.
// The server starts on a store holding likes made at known moments (--seed,
// written by tests/api/page.rs): the closing panel's chart shows its two
// liked minutes at their heights over its slot; the taps' talk's chart grows
// live by exactly the taps, with no request per like; a phone can read it.
// The server answers each like only once it is stored (`--ack stored`,
// after a 200 ms linger): thirty fast taps still show "+N sending" at once
// and arrive exactly, batched into a few requests, one at a time.
//
//   node web/tests/browser.mjs --binary target/release/likes --seed target/tmp/page-seed.db \
//     [--page-dir web/dist] [--screenshots docs]
//
// Chromium comes from $CHROMIUM or /usr/bin/chromium (Debian: apt-get install chromium).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Relay, Server, freePort, launchChromium, main, sleep, step, until } from './harness.mjs';

const OVERALL_MS = 90_000;
const LIKES_SEEN_MS = 15_000;
const RECONNECT_MS = 25_000;
/** Back online, a page's counters are exact within this. */
const RESUMED_MS = 2000;

const { values: args } = parseArgs({
  options: {
    binary: { type: 'string' },
    seed: { type: 'string' },
    'page-dir': { type: 'string' },
    screenshots: { type: 'string' },
  },
});

/** One attendee: a browser context of its own with the page open. */
class Attendee {
  constructor(name, context) {
    this.name = name;
    this.context = context;
    this.errors = [];
  }

  async open(url) {
    this.page = await this.context.newPage();
    /** Requests that read timelines. */
    this.timelineReads = 0;
    this.page.on('request', (request) => {
      if (request.method() === 'POST' && (request.postData() ?? '').includes('timeline')) this.timelineReads += 1;
    });
    this.page.on('console', (m) => m.type() === 'error' && this.errors.push(m.text()));
    this.page.on('pageerror', (e) => this.errors.push(e.message));
    const response = await this.page.goto(url);
    if (!response.ok()) throw new Error(`${this.name}: GET / answered ${response.status()}`);
    const csp = response.headers()['content-security-policy'] ?? '';
    if (!csp.includes("default-src 'self'")) {
      throw new Error(`${this.name}: the page came without its Content-Security-Policy (${csp})`);
    }
  }

  state() {
    return this.page.getByRole('status').textContent();
  }

  async waitState(wanted, timeoutMs) {
    await until(`${this.name} shows "${wanted}"`, timeoutMs, async () => {
      const seen = (await this.state()).trim();
      return { ok: seen === wanted, seen };
    });
  }

  likeButton(title) {
    return this.page.getByRole('button', { name: `Like ${title}`, exact: true });
  }

  async count(title) {
    const text = await this.page
      .getByRole('article', { name: title, exact: true })
      .locator('.count .number')
      .textContent({ timeout: 1000 });
    return Number(text.replace(/[^\d]/g, ''));
  }

  /** The audience shown on a talk's card, and whether a live region holds it. */
  async watching(title) {
    const node = this.page.getByRole('article', { name: title, exact: true }).locator('.watching');
    const [text, live] = await node.evaluate((el) => [
      el.hidden ? '' : el.textContent,
      el.closest('[aria-live]:not([aria-live="off"])') !== null,
    ], null, { timeout: 1000 });
    const count = /^\d[\d,]* (person|people) watching$/.test(text) ? Number(text.replace(/[^\d]/g, '')) : null;
    return { text, count, live };
  }

  /** What a talk's chart shows: its bars, the times at its ends, its summary. */
  chart(title) {
    const figure = this.page.getByRole('article', { name: title, exact: true }).locator('figure.timeline');
    return figure.evaluate((node) => {
      const svg = node.querySelector('svg');
      return {
        hidden: node.hidden,
        bars: [...node.querySelectorAll('rect.bar')].map((rect) => ({
          minute: rect.dataset.minute,
          likes: Number(rect.dataset.likes),
          height: Number(rect.getAttribute('height')),
          pixels: rect.getBoundingClientRect().width,
        })),
        slots: Number(svg.getAttribute('viewBox')?.split(' ')[2]),
        from: node.querySelector('.from').textContent,
        to: node.querySelector('.to').textContent,
        peak: node.querySelector('.peak').textContent,
        label: svg.getAttribute('aria-label'),
        size: [svg.getBoundingClientRect().width, svg.getBoundingClientRect().height],
        fontPx: parseFloat(getComputedStyle(node.querySelector('.peak')).fontSize),
      };
    }, null, { timeout: 1000 });
  }

  async waitCount(title, wanted, timeoutMs) {
    await until(`${this.name}'s counter of "${title}" shows ${wanted}`, timeoutMs, async () => {
      const seen = await this.count(title);
      return { ok: seen === wanted, seen };
    });
  }
}

/**
 * Waits until the server counts `wanted` watching `talk`, then until every
 * page shows that count on the talk's card, outside any live region.
 */
async function audience(server, attendees, talk, wanted) {
  await until(`the server counts ${wanted} watching "${talk.title}"`, 5000, async () => {
    const { session } = await server.graphql('query($id: Int!) { session(sessionId: $id) { watching } }', {
      id: talk.sessionId,
    });
    return { ok: session.watching === wanted, seen: session.watching };
  });
  for (const attendee of attendees) {
    await until(`${attendee.name} shows ${wanted} watching "${talk.title}"`, 5000, async () => {
      const seen = await attendee.watching(talk.title);
      return { ok: seen.count === wanted && !seen.live, seen };
    });
  }
}

async function run(cleanup) {
  if (!args.binary) throw new Error('pass --binary PATH to the likes binary (npm test: set LIKES_BINARY)');
  if (!args.seed || !fs.existsSync(args.seed)) {
    throw new Error('pass --seed PATH to the seeded store: cargo test --test api the_page_works_in_a_real_browser writes it to target/tmp/page-seed.db');
  }
  const binary = path.resolve(args.binary);
  if (!fs.existsSync(binary)) throw new Error(`no likes binary at ${binary}`);
  const pageDir = args['page-dir'] ? path.resolve(args['page-dir']) : null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'likes-page-test-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.copyFileSync(args.seed, path.join(dir, 'likes.db'));
  const port = await freePort();
  const server = new Server({ binary, port, dir, pageDir });
  cleanup.server = server;
  cleanup.push(() => server.kill());
  // Attendee 1's network: its connections can be lost.
  const network = new Relay(port);
  await network.start();
  cleanup.push(() => network.close());

  await step(`likes serve starts on port ${port}`, () => server.start());

  const browser = await launchChromium();
  cleanup.push(() => Promise.race([browser.close(), sleep(5000)]));
  const desktop = { viewport: { width: 1280, height: 800 }, locale: 'en-GB' };
  const one = new Attendee('attendee 1', await browser.newContext(desktop));
  const two = new Attendee('attendee 2', await browser.newContext(desktop));

  const { sessions } = await server.graphql('{ sessions { sessionId title liked } }');
  if (sessions.length < 6) throw new Error('the test runs on the sample catalogue, of six talks');
  // The seeded talk: liked 3 times at 16:12 and 7 times at 16:31 (+02:00).
  const panel = sessions[5];
  const talk = sessions[1];
  const before = talk.liked;
  // Liked while the server is down: must arrive, once, after the restart.
  const other = sessions[2] ?? sessions[0];

  await step('two attendees see every talk, go Live, and subscribe once per talk', async () => {
    await Promise.all([one.open(network.base), two.open(server.base)]);
    for (const attendee of [one, two]) {
      await attendee.waitState('Live', 10_000);
      await until(`${attendee.name} shows ${sessions.length} talks`, 5000, async () => {
        const seen = await attendee.page.getByRole('article').count();
        return { ok: seen === sessions.length, seen };
      });
      for (const s of sessions) {
        if ((await attendee.likeButton(s.title).count()) !== 1) {
          throw new Error(`${attendee.name}: no button named "Like ${s.title}"`);
        }
      }
      await attendee.waitCount(talk.title, before, 5000);
    }
    await server.waitSubscribers(2 * sessions.length);
  });

  await step("the closing panel's chart shows its two liked minutes at their heights over its slot", async () => {
    for (const attendee of [one, two]) {
      const chart = await attendee.chart(panel.title);
      const bars = chart.bars.map(({ minute, likes, height }) => [minute, likes, Math.round(height * 10) / 10]);
      const wanted = [
        ['2026-05-14T14:12:00.000Z', 3, 17.1],
        ['2026-05-14T14:31:00.000Z', 7, 40],
      ];
      if (JSON.stringify(bars) !== JSON.stringify(wanted)) {
        throw new Error(`${attendee.name}'s bars: ${JSON.stringify(bars)}, not ${JSON.stringify(wanted)}`);
      }
      const axis = [chart.slots, chart.from, chart.to, chart.peak];
      const wantedAxis = [45, '16:00', '16:45', 'Most liked at 16:31: 7 likes that minute'];
      if (JSON.stringify(axis) !== JSON.stringify(wantedAxis)) {
        throw new Error(`${attendee.name}'s axis: ${JSON.stringify(axis)}, not ${JSON.stringify(wantedAxis)}`);
      }
      if (!chart.label.startsWith('Likes per minute from 16:00 to 16:45.')) {
        throw new Error(`${attendee.name}'s chart is named "${chart.label}"`);
      }
    }
  });

  await step('ten fast taps by attendee 1 show as exactly +10 on both pages, and in their charts with no request per like', async () => {
    const reads = two.timelineReads;
    const button = one.likeButton(talk.title);
    for (let i = 0; i < 10; i += 1) await button.click();
    await Promise.all([
      two.waitCount(talk.title, before + 10, LIKES_SEEN_MS),
      one.waitCount(talk.title, before + 10, LIKES_SEEN_MS),
    ]);
    for (const attendee of [one, two]) {
      await until(`${attendee.name}'s chart of "${talk.title}" adds up to ${before + 10}`, 2000, async () => {
        const { bars } = await attendee.chart(talk.title);
        const seen = bars.reduce((sum, bar) => sum + bar.likes, 0);
        return { ok: seen === before + 10, seen: bars };
      });
    }
    // At most the once-a-minute read, if a minute ended meanwhile.
    const read = two.timelineReads - reads;
    if (read > 1) throw new Error(`attendee 2 read timelines ${read} times during ten likes`);
  });

  await step('the store holds exactly +10 and no page counts more', async () => {
    await until('every tap acknowledged on attendee 1', 5000, async () => {
      const seen = await one.page.locator('.note').allTextContents();
      return { ok: seen.every((text) => !/sending|retry/.test(text)), seen };
    });
    // Five flush-and-observe rounds: time for a double count to surface.
    await sleep(1000);
    const { session } = await server.graphql('query($id: Int!) { session(sessionId: $id) { liked } }', {
      id: talk.sessionId,
    });
    if (session.liked !== before + 10) throw new Error(`liked is ${session.liked}, not ${before + 10}`);
    for (const attendee of [one, two]) {
      const seen = await attendee.count(talk.title);
      if (seen !== before + 10) throw new Error(`${attendee.name} shows ${seen}, not ${before + 10}`);
    }
  });

  const fast = sessions[3] ?? sessions[0];
  await step('thirty fast taps, each answered once stored, show at once and arrive batched, one request at a time', async () => {
    const likesBefore = await one.count(fast.title);
    const requests = { sent: 0, open: 0, mostOpen: 0 };
    // Likes only: the page also re-reads the timelines as counts grow.
    const isLike = (request) =>
      request.method() === 'POST' && request.url().endsWith('/graphql') && /createLike/.test(request.postData() ?? '');
    const opened = (request) => {
      if (!isLike(request)) return;
      requests.sent += 1;
      requests.open += 1;
      requests.mostOpen = Math.max(requests.mostOpen, requests.open);
    };
    const closed = (request) => isLike(request) && (requests.open -= 1);
    one.page.on('request', opened);
    one.page.on('requestfinished', closed);
    one.page.on('requestfailed', closed);
    const button = one.likeButton(fast.title);
    const note = one.page.getByRole('article', { name: fast.title, exact: true }).locator('.note');
    // Every text the note takes, in order, however fast the answer comes.
    await note.evaluate((element) => {
      element.shown = [];
      new MutationObserver((records) => {
        for (const record of records) for (const node of record.addedNodes) element.shown.push(node.textContent);
      }).observe(element, { childList: true });
    });
    await button.click();
    // Before the like is stored (the linger alone is 200 ms), the tap shows.
    const first = await note.evaluate((element) => element.shown[0]);
    if (first !== '+1 sending') throw new Error(`right after a tap the note says "${first}", not "+1 sending"`);
    for (let i = 1; i < 30; i += 1) await button.click();
    await Promise.all([
      one.waitCount(fast.title, likesBefore + 30, LIKES_SEEN_MS),
      two.waitCount(fast.title, likesBefore + 30, LIKES_SEEN_MS),
    ]);
    await until('every fast tap acknowledged', 5000, async () => {
      const seen = await note.textContent();
      return { ok: !/sending|retry/.test(seen), seen };
    });
    one.page.off('request', opened);
    one.page.off('requestfinished', closed);
    one.page.off('requestfailed', closed);
    const { session } = await server.graphql('query($id: Int!) { session(sessionId: $id) { liked } }', {
      id: fast.sessionId,
    });
    if (session.liked !== likesBefore + 30) throw new Error(`the store counts ${session.liked}, not ${likesBefore + 30}`);
    if (requests.mostOpen !== 1 || requests.sent >= 30) {
      throw new Error(`30 taps took ${requests.sent} requests, at most ${requests.mostOpen} at once`);
    }
    console.log(`    30 taps: ${requests.sent} requests, at most ${requests.mostOpen} at once`);
  });

  await step('the pages ran without console errors (none from the CSP)', async () => {
    const errors = [...one.errors, ...two.errors];
    if (errors.length) throw new Error(`console errors: ${errors.join(' | ')}`);
  });

  await step('on SIGTERM the server exits 0 and both pages leave "Live"', async () => {
    for (const attendee of [one, two]) await attendee.page.evaluate(() => (window.samePage = true));
    const status = await server.stop();
    if (status.code !== 0) throw new Error(`the server exited with ${JSON.stringify(status)}`);
    for (const attendee of [one, two]) {
      await until(`${attendee.name} leaves "Live"`, 10_000, async () => {
        const seen = (await attendee.state()).trim();
        return { ok: seen !== 'Live', seen };
      });
    }
  });

  await step('two taps by attendee 1 while the server is down wait for it', async () => {
    const button = one.likeButton(other.title);
    await button.click();
    await button.click();
    await until('attendee 1 says the taps wait', 5000, async () => {
      const seen = await one.page.getByRole('article', { name: other.title, exact: true }).locator('.note').textContent();
      return { ok: seen === '+2 waiting to retry', seen };
    });
  });

  await step('restarted on the same port and store, both pages go Live again unreloaded and resubscribe', async () => {
    await server.start();
    await Promise.all([one.waitState('Live', RECONNECT_MS), two.waitState('Live', RECONNECT_MS)]);
    for (const attendee of [one, two]) {
      if (!(await attendee.page.evaluate(() => window.samePage === true))) {
        throw new Error(`${attendee.name}'s page was reloaded`);
      }
      await attendee.waitCount(talk.title, before + 10, 5000);
    }
    await server.waitSubscribers(2 * sessions.length);
  });

  await step('the taps made while it was down arrive exactly once', async () => {
    await Promise.all([
      one.waitCount(other.title, other.liked + 2, LIKES_SEEN_MS),
      two.waitCount(other.title, other.liked + 2, LIKES_SEEN_MS),
    ]);
    const { session } = await server.graphql('query($id: Int!) { session(sessionId: $id) { liked } }', {
      id: other.sessionId,
    });
    if (session.liked !== other.liked + 2) throw new Error(`liked is ${session.liked}, not ${other.liked + 2}`);
  });

  await step('one more tap by attendee 2 shows as +11 on attendee 1', async () => {
    await two.likeButton(talk.title).click();
    await Promise.all([
      one.waitCount(talk.title, before + 11, LIKES_SEEN_MS),
      two.waitCount(talk.title, before + 11, LIKES_SEEN_MS),
    ]);
    await until('the store holds +11', 5000, async () => {
      const { session } = await server.graphql('query($id: Int!) { session(sessionId: $id) { liked } }', {
        id: talk.sessionId,
      });
      return { ok: session.liked === before + 11, seen: session.liked };
    });
  });

  await step('attendee 1 loses the network and misses three likes by attendee 2', async () => {
    // Offline, Chromium keeps a page's sockets open and holds what comes in
    // until it is back: the connections themselves must be lost too, as
    // they are when a phone drops off the Wi-Fi.
    await one.context.setOffline(true);
    network.cut();
    await one.waitState('Offline', 5000);
    await server.waitSubscribers(sessions.length);
    const button = two.likeButton(talk.title);
    for (let i = 0; i < 3; i += 1) await button.click();
    await two.waitCount(talk.title, before + 14, LIKES_SEEN_MS);
    const seen = await one.count(talk.title);
    if (seen !== before + 11) throw new Error(`attendee 1 shows ${seen} while offline, not ${before + 11}`);
  });

  await step(`back online, attendee 1's counter is exact within ${RESUMED_MS} ms, with no new like`, async () => {
    const online = Date.now();
    await one.context.setOffline(false);
    await one.waitCount(talk.title, before + 14, RESUMED_MS - (Date.now() - online));
    console.log(`# attendee 1 showed ${before + 14} ${Date.now() - online} ms after coming back online`);
    await one.waitState('Live', 5000);
  });

  await step('both pages show the audience the server counts, not announced live', async () => {
    await audience(server, [one, two], talk, 2);
  });

  const phone = new Attendee(
    'phone',
    await browser.newContext({ viewport: { width: 360, height: 800 }, locale: 'en-GB', deviceScaleFactor: 2, isMobile: true, hasTouch: true }),
  );
  await step('at 360 px wide the page has no horizontal scroll', async () => {
    await phone.open(server.base);
    await phone.waitState('Live', 10_000);
    await phone.waitCount(talk.title, before + 14, 5000);
    const [scrollWidth, width] = await phone.page.evaluate(() => [
      document.documentElement.scrollWidth,
      document.documentElement.clientWidth,
    ]);
    if (scrollWidth > width) throw new Error(`content is ${scrollWidth} px wide in a ${width} px viewport`);
    const chart = await phone.chart(panel.title);
    const [chartWidth, chartHeight] = chart.size;
    const thinnest = Math.min(...chart.bars.map((bar) => bar.pixels));
    if (chartWidth < 250 || chartHeight < 40 || thinnest < 3 || chart.fontPx < 12) {
      throw new Error(`the phone's chart is hard to read: ${JSON.stringify(chart)}`);
    }
  });

  await step('a third page joins the audience on every page', async () => {
    await audience(server, [one, two, phone], talk, 3);
  });

  if (args.screenshots) {
    await step(`screenshots in ${args.screenshots}`, async () => {
      const out = path.resolve(args.screenshots);
      fs.mkdirSync(out, { recursive: true });
      await until('the notes under the buttons have faded', 5000, async () => {
        const seen = await one.page.locator('.note').allTextContents();
        return { ok: seen.every((text) => text === ''), seen };
      });
      // No hover highlight left over from the last click.
      await one.page.mouse.move(0, 0);
      await one.page.screenshot({ path: path.join(out, 'page-desktop.png'), animations: 'disabled' });
      await phone.page.setViewportSize({ width: 390, height: 844 });
      await phone.page.screenshot({ path: path.join(out, 'page-phone.png'), animations: 'disabled' });
    });
  }
}

main(run, OVERALL_MS);
