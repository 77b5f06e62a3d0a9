// Our side: the running binary, asked as a client would. Queries and
// mutations go over HTTP POST (`Accept: application/json`), queries in
// batches, mutations one at a time; subscriptions over one `graphql-transport-ws` WebSocket, each
// completed after its first event. Answers are kept as read off the wire
// (`Entries`), key order and repeats included.

import WebSocket from 'ws';
import { Entries, parseOrdered } from './ordered.mjs';

/** Most operations in one POSTed batch (docs/api.md). */
export const BATCH_MAX = 10;
/** Bytes of a POST body the service takes (docs/api.md). */
export const BODY_MAX = 16 * 1024;

/** The JSON body of one request; `rawVariables` is sent as written. */
export function requestBody({ query, variables, rawVariables, operationName }) {
  const parts = [`"query":${JSON.stringify(query)}`];
  if (rawVariables !== undefined) parts.push(`"variables":${rawVariables}`);
  else if (variables !== undefined) parts.push(`"variables":${JSON.stringify(variables)}`);
  if (operationName !== undefined) parts.push(`"operationName":${JSON.stringify(operationName)}`);
  return `{${parts.join(',')}}`;
}

/** The service at `base` (`http://127.0.0.1:PORT`). */
export class Service {
  constructor(base) {
    this.base = base;
    this.url = `${base}/graphql`;
    this.wsUrl = this.url.replace(/^http/, 'ws');
  }

  /** The served SDL. */
  async sdl() {
    const response = await fetch(`${this.base}/graphiql/schema.graphql`);
    if (!response.ok) throw new Error(`GET /graphiql/schema.graphql: ${response.status}`);
    return response.text();
  }

  /** POSTs `body`; the status and the answer as read (`Entries`). */
  async post(body) {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body,
    });
    const text = await response.text();
    return { status: response.status, answer: parseOrdered(text), text };
  }

  /** Runs `requests` in one batch; one answer per request, in order. */
  async batch(requests) {
    const bodies = requests.map(requestBody);
    if (bodies.length === 1) return [await this.post(bodies[0])];
    const { status, answer, text } = await this.post(`[${bodies.join(',')}]`);
    if (!Array.isArray(answer) || answer.length !== requests.length) {
      throw new Error(`a batch of ${requests.length} was answered ${status} ${text.slice(0, 500)}`);
    }
    return answer.map((one) => ({ status, answer: one }));
  }

  /** Every talk, with its total and audience. */
  async talks() {
    const { answer, text } = await this.post(
      requestBody({ query: '{ sessions { sessionId title liked watching startTime endTime room } }' }),
    );
    const sessions = answer instanceof Entries && answer.get('data')?.get('sessions');
    if (!sessions) throw new Error(`the talks could not be read: ${text}`);
    return sessions.map((talk) => Object.fromEntries(talk.pairs));
  }

  /** Waits until every talk's total and audience are `talks`' again. */
  async settle(talks, within = 15_000) {
    const want = JSON.stringify(talks);
    const deadline = Date.now() + within;
    for (;;) {
      const now = await this.talks();
      if (JSON.stringify(now) === want) return;
      if (Date.now() > deadline) {
        throw new Error(`the counts did not settle: want ${want}, have ${JSON.stringify(now)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** A `graphql-transport-ws` connection, acknowledged. */
  async socket() {
    const ws = new WebSocket(this.wsUrl, 'graphql-transport-ws');
    const waiting = new Map();
    let acknowledged;
    const acked = new Promise((resolve, reject) => {
      acknowledged = resolve;
      ws.on('error', reject);
    });
    ws.on('message', (data) => {
      const message = parseOrdered(data.toString());
      if (message.get('type') === 'connection_ack') acknowledged();
      const id = message.get('id');
      if (id !== undefined && waiting.has(id)) {
        waiting.get(id)(message);
        waiting.delete(id);
      }
    });
    await new Promise((resolve, reject) => {
      ws.on('open', resolve);
      ws.on('error', reject);
    });
    ws.send(JSON.stringify({ type: 'connection_init' }));
    await acked;
    let next = 0;
    return {
      /** The first answer to `request`, as an answer object (`Entries`). */
      first: async (request, within = 5_000) => {
        next += 1;
        const id = `s${next}`;
        const message = new Promise((resolve) => {
          waiting.set(id, resolve);
          setTimeout(() => resolve(null), within);
        });
        ws.send(`{"id":"${id}","type":"subscribe","payload":${requestBody(request)}}`);
        const got = await message;
        waiting.delete(id);
        if (got === null) return { answer: null, text: `no message within ${within} ms` };
        const type = got.get('type');
        if (type === 'next') ws.send(JSON.stringify({ id, type: 'complete' }));
        if (type === 'error') return { answer: new Entries([['errors', got.get('payload')]]) };
        if (type === 'next') return { answer: got.get('payload') };
        return { answer: null, text: `a ${type} message before any result` };
      },
      close: () => ws.close(),
    };
  }
}
