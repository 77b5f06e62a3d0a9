// Live counters: one graphql-ws connection to the page's own server with one
// `likeAdded` subscription per talk. It reconnects by itself forever (a
// server restart closes it with 1012), and starts afresh when the network
// comes back. Each subscription resumes from `since: 0`, so its first event,
// at once on every (re)subscription, carries the talk's current total: likes
// made while the socket was down show without waiting for another one.

import { createClient } from 'graphql-ws';
import { backoffMs } from './api.js';

// The same variables on every retry: `total` is shown, never the deltas.
const LIKE_ADDED = `subscription($sessionId: Int!) {
  likeAdded(sessionId: $sessionId, since: 0) { sessionId total watching publishedAt }
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
 * - `onEvent(sessionId, { total, watching, publishedAt })`: a talk's
 *   absolute total and audience after an event, and when it was published;
 * - `onState(state)`: 'connecting' | 'live' | 'reconnecting' | 'offline'.
 */
export function startLive({ url = socketUrl(), sessionIds, onEvent, onState }) {
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
            const { total, watching, publishedAt } = event;
            onEvent(event.sessionId, { total, watching, publishedAt });
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

  // A socket that seems to have lived through a lost network may be dead
  // without knowing it for minutes: once the network is back, a fresh client
  // resumes every counter at once instead.
  function restart() {
    const old = client;
    client = null;
    old.dispose();
    build();
  }

  // The socket may take a while to notice a lost network: say so at once.
  let wentOffline = false;
  window.addEventListener('offline', () => {
    wentOffline = true;
    onState('offline');
  });
  window.addEventListener('online', () => {
    // Not connected, a retry or a rebuild is waiting for this very event.
    if (wentOffline && connected) restart();
    wentOffline = false;
    report(connected ? 'live' : wasLive ? 'reconnecting' : 'connecting');
  });
  build();
}
