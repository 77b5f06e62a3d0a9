// The conference page: loads the talks, shows them with a like button and
// a live counter each, and wires the taps and the live connection together.

import './style.css';
import { backoffMs, query } from './api.js';
import { TapSender, likerId } from './likes.js';
import { startLive } from './live.js';
import { pageLocale, sortTalks } from './talks.js';
import { renderTalks } from './view.js';

const SESSIONS = '{ sessions { sessionId title liked watching startTime endTime room } }';

const STATE_TEXT = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

const $ = (id) => document.getElementById(id);

function showState(state) {
  const node = $('connection');
  if (node.dataset.state === state) return;
  node.dataset.state = state;
  node.textContent = STATE_TEXT[state];
}

/** Resolves after `ms`, or at once when "Try again now" is pressed. */
function waitOrRetry(ms) {
  return new Promise((resolve) => {
    const button = $('load-retry');
    const done = () => {
      clearTimeout(timer);
      button.removeEventListener('click', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    button.addEventListener('click', done);
  });
}

/** The catalogue, asked again (with back-off) until the server answers. */
async function loadTalks() {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const { sessions } = await query(SESSIONS);
      $('load-error').hidden = true;
      return sessions;
    } catch (error) {
      const wait = Math.max(error.retryAfterMs ?? 0, backoffMs(attempt, { capMs: 30_000 }));
      $('load-error-text').textContent =
        `Could not load the talks (${error.message}). Trying again in ${Math.ceil(wait / 1000)} s.`;
      $('load-error').hidden = false;
      showState(navigator.onLine === false ? 'offline' : 'connecting');
      await waitOrRetry(wait);
    }
  }
}

async function main() {
  const locale = pageLocale(navigator.languages);
  const sessions = sortTalks(await loadTalks());
  $('loading').remove();

  const sender = new TapSender({
    liker: likerId(),
    onUpdate: (sessionId, status, event) => {
      const card = cards.get(sessionId);
      card?.setTaps(status, event);
      if (event.kind === 'failed' && card) {
        $('announcer').textContent = `Your like of ${card.title} was not sent: ${event.message}`;
      }
    },
  });
  const cards = renderTalks($('talks'), sessions, {
    locale,
    onLike: (sessionId) => sender.tap(sessionId),
  });
  for (const talk of sessions) {
    const card = cards.get(talk.sessionId);
    card.setTotal(talk.liked);
    card.setWatching(talk.watching);
  }

  // Every (re)subscription's first event brings the current total, so the
  // counters need no other reading after a reconnection.
  startLive({
    sessionIds: sessions.map((s) => s.sessionId),
    // `total` is absolute: the counter is set to it, never added to.
    onEvent: (sessionId, { total, watching }) => {
      const card = cards.get(sessionId);
      card?.setTotal(total);
      card?.setWatching(watching);
    },
    onState: showState,
  });
}

main();
