#!/usr/bin/env node
// GraphiQL in a real browser (headless Chromium), against a real `likes
// serve`: the page a browser gets at /graphql loads everything from the
// server's own origin under its Content-Security-Policy, breaks none of
// it, knows the schema from the server's SDL without sending an
// introspection query (its documentation explorer lists the types, its
// editor completes field names), runs a query typed into its editor and
// shows the answer, and shows a like arriving on a `likeAdded` subscription.
//
//   node web/tests/graphiql.mjs --binary target/debug/likes
//
// Chromium comes from $CHROMIUM or /usr/bin/chromium (Debian: apt-get install chromium).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Server, freePort, launchChromium, main, sleep, step, until } from './harness.mjs';

const OVERALL_MS = 60_000;

const { values: args } = parseArgs({ options: { binary: { type: 'string' } } });

/** The text of the CodeMirror editor inside `selector`. */
function editorText(page, selector) {
  return page.locator(`${selector} .CodeMirror`).evaluate((node) => node.CodeMirror.getValue());
}

/**
 * Replaces the operation in GraphiQL's query editor, as typing would, and
 * waits for GraphiQL to parse it (it does so 100 ms after the last change;
 * until then the run button would run the previous operation).
 */
async function setQuery(page, text) {
  const editor = page.locator('.graphiql-query-editor .CodeMirror');
  await editor.evaluate((node, value) => {
    node.CodeMirror.focus();
    node.CodeMirror.setValue(value);
  }, text);
  await until('GraphiQL parses the new operation', 2000, async () => {
    const seen = await editor.evaluate((node) => node.CodeMirror.documentAST?.loc?.source.body);
    return { ok: seen === text, seen };
  });
}

/** The result pane's JSON, once it holds some. */
async function result(page) {
  const text = await editorText(page, '.result-window');
  return text.trim() ? JSON.parse(text) : null;
}

async function run(cleanup) {
  if (!args.binary) throw new Error('pass --binary PATH to the likes binary');
  const binary = path.resolve(args.binary);
  if (!fs.existsSync(binary)) throw new Error(`no likes binary at ${binary}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'likes-graphiql-test-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const server = new Server({ binary, port: await freePort(), dir });
  cleanup.server = server;
  cleanup.push(() => server.kill());
  await step('likes serve starts', () => server.start());
  const origin = new URL(server.base).origin;

  const browser = await launchChromium();
  cleanup.push(() => Promise.race([browser.close(), sleep(5000)]));
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' });
  // Every violation of the policy, as the page itself sees it.
  await context.addInitScript(() => {
    window.violations = [];
    document.addEventListener('securitypolicyviolation', (event) => {
      window.violations.push(`${event.violatedDirective} blocked ${event.blockedURI || 'inline'}`);
    });
  });
  const page = await context.newPage();
  const requests = [];
  const errors = [];
  // Every GraphQL document the page sent, over HTTP or the WebSocket.
  const sent = [];
  page.on('request', (request) => {
    requests.push(request.url());
    if (new URL(request.url()).pathname === '/graphql' && request.postData()) sent.push(request.postData());
  });
  page.on('websocket', (socket) => {
    requests.push(socket.url());
    socket.on('framesent', (frame) => sent.push(String(frame.payload)));
  });
  page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
  page.on('pageerror', (error) => errors.push(error.message));

  await step('a browser opening /graphql gets GraphiQL under a strict policy', async () => {
    const response = await page.goto(`${server.base}/graphql`);
    if (response.status() !== 200) throw new Error(`GET /graphql answered ${response.status()}`);
    const policy = response.headers()['content-security-policy'] ?? '';
    for (const wanted of ["default-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) {
      if (!policy.includes(wanted)) throw new Error(`the policy lacks ${wanted}: "${policy}"`);
    }
    if (policy.includes('unsafe-')) throw new Error(`the policy allows unsafe sources: "${policy}"`);
    await page.locator('.graphiql-container').waitFor({ timeout: 10_000 });
  });

  await step('the documentation explorer lists the schema from the server', async () => {
    await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
    const explorer = page.getByRole('region', { name: 'Documentation Explorer' });
    const roots = explorer.locator('.graphiql-doc-explorer-root-type');
    await until('the explorer shows the root types', 5000, async () => {
      const seen = await explorer.innerText();
      const ok = /query:\s*Query/.test(seen) && /mutation:\s*Mutation/.test(seen)
        && /subscription:\s*Subscription/.test(seen) && (await roots.count()) === 3;
      return { ok, seen };
    });
    for (const [type, field] of [['Subscription', 'likeAdded'], ['Mutation', 'createLike']]) {
      await explorer.locator('a.graphiql-doc-explorer-type-name', { hasText: new RegExp(`^${type}$`) }).click();
      await explorer.locator('a.graphiql-doc-explorer-field-name', { hasText: new RegExp(`^${field}$`) })
        .waitFor({ timeout: 5000 });
      await explorer.locator('.graphiql-doc-explorer-back').click();
    }
    await page.getByRole('button', { name: 'Hide Documentation Explorer' }).click();
  });

  await step('the editor completes field names from the schema', async () => {
    const editor = page.locator('.graphiql-query-editor .CodeMirror');
    await editor.evaluate((node) => {
      node.CodeMirror.focus();
      node.CodeMirror.setValue('{  }');
      node.CodeMirror.setCursor({ line: 0, ch: 2 });
    });
    await page.keyboard.type('sess');
    const hints = page.locator('.CodeMirror-hints .CodeMirror-hint');
    await until('the editor offers the query fields', 5000, async () => {
      const seen = await hints.allInnerTexts();
      return { ok: seen.includes('session') && seen.includes('sessions'), seen };
    });
    await page.keyboard.press('Escape');
  });

  const { sessions } = await server.graphql('{ sessions { sessionId } }');
  await step('a query put in the editor and run shows its answer in the result pane', async () => {
    await setQuery(page, '{ sessions { id sessionId } }');
    await page.getByRole('button', { name: /^Execute query/ }).click();
    const shown = await until('the result pane shows every talk', 10_000, async () => {
      const seen = await result(page);
      return { ok: seen?.data?.sessions?.length === sessions.length, seen };
    });
    if (shown.data.sessions[0].id !== `Session:${sessions[0].sessionId}`) {
      throw new Error(`unexpected answer: ${JSON.stringify(shown)}`);
    }
  });

  await step('a like arrives on a likeAdded subscription run from the editor', async () => {
    const talk = sessions[0].sessionId;
    await setQuery(page, `subscription { likeAdded(sessionId: ${talk}) { sessionId likes } }`);
    await page.getByRole('button', { name: /^Execute query/ }).click();
    await until('the server has the subscription', 5000, async () => {
      const seen = await server.metric('likes_subscribers');
      return { ok: seen === 1, seen };
    });
    await server.graphql('mutation($input: CreateLikeInput!) { createLike(input: $input) { like { id } } }', {
      input: { uuid: 'graphiql-test', sessionId: talk },
    });
    await until('the result pane shows the like', 10_000, async () => {
      const seen = await result(page);
      return { ok: seen?.data?.likeAdded?.sessionId === talk && seen.data.likeAdded.likes === 1, seen };
    });
    await page.getByRole('button', { name: /^Stop query/ }).click();
    await until('the subscription ends on the server', 5000, async () => {
      const seen = await server.metric('likes_subscribers');
      return { ok: seen === 0, seen };
    });
  });

  await step('the settings dialog opens and closes', async () => {
    await page.getByRole('button', { name: /^Open settings dialog/ }).click();
    await page.getByRole('dialog').waitFor({ timeout: 5000 });
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached', timeout: 5000 });
  });

  await step('every request went to the server, nothing broke the policy, nothing failed', async () => {
    const elsewhere = requests.filter((url) => new URL(url).origin.replace(/^ws/, 'http') !== origin);
    if (elsewhere.length) throw new Error(`requests to other origins: ${elsewhere.join(' ')}`);
    const introspections = sent.filter((body) => body.includes('__schema'));
    if (introspections.length) throw new Error(`GraphiQL introspected: ${introspections.join(' | ')}`);
    // The check above sees what was sent both ways: the query was POSTed,
    // the subscription went over the WebSocket.
    for (const wanted of ['id sessionId', 'likeAdded']) {
      if (!sent.some((body) => body.includes(wanted))) throw new Error(`no document with ${wanted} seen: ${sent}`);
    }
    const paths = requests.map((url) => `${new URL(url).protocol.replace(':', '')} ${new URL(url).pathname}`);
    const counts = new Map();
    for (const p of paths) counts.set(p, (counts.get(p) ?? 0) + 1);
    const summary = [...counts].map(([p, n]) => `${p} ×${n}`).join(', ');
    console.log(`# ${requests.length} requests, all to ${origin}: ${summary}`);
    const wantedFiles = ['/graphql', '/graphiql/graphiql.js', '/graphiql/graphiql.css', '/graphiql/schema.graphql'];
    for (const wanted of wantedFiles) {
      if (!paths.some((p) => p.endsWith(` ${wanted}`))) throw new Error(`no request for ${wanted}: ${paths}`);
    }
    const violations = await page.evaluate(() => window.violations);
    if (violations.length) throw new Error(`policy violations: ${violations.join(' | ')}`);
    if (errors.length) throw new Error(`console errors: ${errors.join(' | ')}`);
  });
}

main(run, OVERALL_MS);
