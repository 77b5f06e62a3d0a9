// Live counters: one graphql-ws connection to the page's own server with one
// `likeAdded` subscription per talk. It reconnects by itself forever (a
// server restart closes it with 1012); after every (re)connection the caller
// re-reads the totals, since the subscription sends no initial event and
// likes may have arrived while it was down.

import { createClient } from 'graphql-ws';
import { backoffMs } from './api.js';

const LIKE_ADDED = `subscription($sessionId: Int!) {
  likeAdded(sessionId: $sessionId) { sessionId likes total }
}`;

/** Wait before a subscription the server ended or refused is asked again. */
const RESUBSCRIBE_MS = 15_000;

/** The WebSocket URL of this page's server. */
export function socketUrl(location = window.location) {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/graphql`;
}

/** Resolves after `ms`, or sooner when the browser comes back online. */
function pause(ms) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      window.removeEventListener('online', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    window.addEventListener('online', done);
  });
}

/**
 * Starts the live connection. Callbacks:
 * - `onTotal(sessionId, total)`: a talk's absolute total after an event;
 * - `onState(state)`: 'connecting' | 'live' | 'reconnecting' | 'offline';
 * - `onConnected()`: after each (re)connection, to refresh the totals.
 */
export function startLive({ url = socketUrl(), sessionIds, onTotal, onState, onConnected }) {
  // Each client built gets a generation; events of an older one are ignored.
  let generation = 0;
  let client = null;
  let connected = false;
  let wasLive = false;
  let rebuilds = 0;

  const report = (state) =>
    onState(state !== 'live' && navigator.onLine === false ? 'offline' : state);

  function build() {
    const mine = ++generation;
    const current = () => mine === generation;
    connected = false;
    client = createClient({
      url,
      lazy: false,
      retryAttempts: Infinity,
      shouldRetry: () => true,
      retryWait: (retries) => pause(backoffMs(retries)),
      // The server pings every 25 s and drops silent clients; the browser
      // answers those pings, so no client-side keep-alive is needed.
      on: {
        connecting: (isRetry) => {
          if (current()) report(isRetry || wasLive ? 'reconnecting' : 'connecting');
        },
        connected: () => {
          if (!current()) return;
          connected = true;
          wasLive = true;
          rebuilds = 0;
          report('live');
          onConnected();
        },
        closed: () => {
          if (!current()) return;
          connected = false;
          report(wasLive ? 'reconnecting' : 'connecting');
        },
      },
      // Only close codes graphql-ws deems fatal end its retries: start over.
      onNonLazyError: () => rebuild(mine),
    });
    for (const id of sessionIds) subscribe(mine, id);
  }

  function subscribe(mine, sessionId) {
    // A timer may outlive its client: a rebuild is under way or done.
    if (mine !== generation || client === null) return;
    client.subscribe(
      { query: LIKE_ADDED, variables: { sessionId } },
      {
        next: ({ data }) => {
          const event = data?.likeAdded;
          if (mine === generation && event && Number.isFinite(event.total)) {
            onTotal(event.sessionId, event.total);
          }
        },
        error: (error) => {
          if (mine !== generation) return;
          if (Array.isArray(error)) {
            // The server refused this subscription (e.g. LIMIT_EXCEEDED):
            // ask again later, unless the talk no longer exists.
            if (error.some((e) => e?.extensions?.code === 'NOT_FOUND')) return;
            setTimeout(() => subscribe(mine, sessionId), RESUBSCRIBE_MS);
          } else {
            rebuild(mine);
          }
        },
        // The server ended the subscription while the connection lives on.
        complete: () => setTimeout(() => subscribe(mine, sessionId), backoffMs(0)),
      },
    );
  }

  async function rebuild(mine) {
    if (mine !== generation || client === null) return;
    const old = client;
    client = null;
    connected = false;
    report('reconnecting');
    old.dispose();
    await pause(backoffMs(rebuilds++));
    build();
  }

  // The socket may take a while to notice a lost network: say so at once.
  window.addEventListener('offline', () => onState('offline'));
  window.addEventListener('online', () =>
    report(connected ? 'live' : wasLive ? 'reconnecting' : 'connecting'),
  );
  build();
}
