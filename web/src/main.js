// The conference page: loads the talks, shows them with a like button, a
// live counter and a chart of likes per minute each, and wires the taps and
// the live connection together.

import './style.css';
import { backoffMs, query } from './api.js';
import { TapSender, likerId } from './likes.js';
import { startLive } from './live.js';
import { pageLocale, sortTalks } from './talks.js';
import { MINUTE_MS } from './timeline.js';
import { renderTalks } from './view.js';

const SESSIONS =
  '{ sessions { sessionId title liked watching startTime endTime room timeline { start likes } } }';
const TIMELINES = '{ sessions { sessionId liked timeline { start likes } } }';

/**
 * How long after a minute ends the charts are read again, when they grew
 * live in it: an event's likes count in the minute it was published, and
 * some were made just before it began. A few seconds of jitter spread the
 * pages' reads.
 */
const REREAD_AFTER_MS = 3000;
const REREAD_JITTER_MS = 4000;

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

/**
 * Keeps the charts right: they grow live with the counters, and are read
 * again once a minute after they grew, and after a reconnection (whose
 * first events bring every like missed while away at once).
 */
function keepTimelines(cards) {
  let grew = false;
  async function reread() {
    grew = false;
    try {
      const { sessions } = await query(TIMELINES);
      for (const talk of sessions) cards.get(talk.sessionId)?.setTimeline(talk.timeline, talk.liked);
    } catch {
      grew = true; // Tried again after the next minute.
    }
  }
  function afterNextMinute() {
    const wait = MINUTE_MS - (Date.now() % MINUTE_MS) + REREAD_AFTER_MS + Math.random() * REREAD_JITTER_MS;
    setTimeout(() => {
      if (grew) reread();
      afterNextMinute();
    }, wait);
  }
  afterNextMinute();
  return { grew: () => (grew = true), reread };
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
    card.setTimeline(talk.timeline, talk.liked);
  }
  const timelines = keepTimelines(cards);

  // Every (re)subscription's first event brings the current total, so the
  // counters need no other reading after a reconnection.
  let state = 'connecting';
  startLive({
    sessionIds: sessions.map((s) => s.sessionId),
    // `total` is absolute: the counter is set to it, never added to; its
    // growth goes into the chart's minute of `publishedAt`.
    onEvent: (sessionId, { total, watching, publishedAt }) => {
      const card = cards.get(sessionId);
      if (!card) return;
      if (card.total !== null && total > card.total) timelines.grew();
      card.setTotal(total, Date.parse(publishedAt));
      card.setWatching(watching);
    },
    onState: (next) => {
      if (next === 'live' && state === 'reconnecting') timelines.reread();
      if (next !== 'offline') state = next;
      showState(next);
    },
  });
}

main();
