// Sending likes: every tap is one `createLike` with its own
// clientMutationId, sent in batches of up to ten, one request at a time.
// A tap that fails in a way that may pass later is sent again with the SAME
// clientMutationId, which the server stores once however often it arrives;
// so no tap is lost and none is counted twice. Knows nothing of the DOM.

import { backoffMs, errorOf, post } from './api.js';

/** The server accepts batches of 1 to 10 operations. */
export const MAX_BATCH = 10;

const CREATE_LIKE = `mutation($input: CreateLikeInput!) {
  createLike(input: $input) { clientMutationId }
}`;

/** The liker's id, kept for this browser so every visit is the same liker. */
export function likerId(storage = globalThis.localStorage) {
  const key = 'likes.liker';
  try {
    const known = storage?.getItem(key);
    if (known) return known;
    const fresh = randomUuid();
    storage?.setItem(key, fresh);
    return fresh;
  } catch {
    // Storage refused (private mode, disabled cookies): one id for this visit.
    return randomUuid();
  }
}

function randomUuid() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  // crypto.randomUUID exists only in secure contexts (https or localhost).
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** 16 random base-36 characters: unique to this page load. */
function randomPrefix() {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((x) => (x % 36).toString(36)).join('');
}

/**
 * Queues taps and sends them. `onUpdate(sessionId, status, event)` is called
 * whenever a talk's taps change, with `status = { pending, retrying }` (taps
 * not yet acknowledged; whether some wait for a retry) and `event` one of
 * `{ kind: 'tap' | 'sent' | 'retry' }` or `{ kind: 'failed', message }`.
 */
export class TapSender {
  constructor({ liker, onUpdate, send = post, now = () => Date.now(), random = Math.random }) {
    this.liker = liker;
    this.onUpdate = onUpdate;
    this.send = send;
    this.now = now;
    this.random = random;
    this.prefix = randomPrefix();
    this.taps = 0;
    /** Taps not yet acknowledged or given up, oldest first. */
    this.queue = [];
    this.inFlight = false;
    /** No tap is sent before this time (the server asked us to wait). */
    this.holdUntil = 0;
    /** Failed requests in a row (network, 5xx), for the back-off. */
    this.failures = 0;
    this.timer = null;
  }

  /** One tap: one like, sent as soon as possible. */
  tap(sessionId) {
    this.taps += 1;
    this.queue.push({
      sessionId,
      clientMutationId: `${this.prefix}-${this.taps}`,
      attempts: 0,
      notBefore: 0,
    });
    this.notify(sessionId, { kind: 'tap' });
    this.pump();
  }

  /** Sends what is due now, or sets a timer for when something will be. */
  pump() {
    if (this.inFlight) return;
    clearTimeout(this.timer);
    this.timer = null;
    const now = this.now();
    const due = now < this.holdUntil ? [] : this.queue.filter((t) => t.notBefore <= now);
    if (due.length === 0) {
      if (this.queue.length > 0) {
        const next = Math.max(this.holdUntil, Math.min(...this.queue.map((t) => t.notBefore)));
        this.timer = setTimeout(() => this.pump(), Math.max(0, next - now));
      }
      return;
    }
    this.sendBatch(due.slice(0, MAX_BATCH));
  }

  async sendBatch(batch) {
    this.inFlight = true;
    try {
      const answer = await this.send(
        batch.map((t) => ({
          query: CREATE_LIKE,
          variables: {
            input: { uuid: this.liker, sessionId: t.sessionId, clientMutationId: t.clientMutationId },
          },
        })),
      );
      if (!Array.isArray(answer) || answer.length !== batch.length) {
        throw Object.assign(new Error('unexpected answer'), { retryable: true, retryAfterMs: 0 });
      }
      this.failures = 0;
      batch.forEach((tap, i) => this.settle(tap, answer[i]));
    } catch (error) {
      if (error?.retryable) {
        // The request may or may not have been stored: sending the same ids
        // again is safe either way.
        this.failures += 1;
        const delay = Math.max(error.retryAfterMs ?? 0, backoffMs(this.failures - 1, { random: this.random }));
        this.holdUntil = Math.max(this.holdUntil, this.now() + delay);
        for (const tap of batch) this.retry(tap, 0);
      } else {
        for (const tap of batch) this.fail(tap, error?.message ?? String(error));
      }
    } finally {
      this.inFlight = false;
      this.pump();
    }
  }

  /** One operation's answer within a batch. */
  settle(tap, answer) {
    if (answer?.data?.createLike && !answer.errors?.length) {
      this.remove(tap);
      this.notify(tap.sessionId, { kind: 'sent' });
      return;
    }
    const error = errorOf(answer?.errors?.[0]);
    if (!error.retryable) {
      this.fail(tap, error.message);
      return;
    }
    if (error.retryAfterMs > 0) {
      // Rate limits and a full buffer concern every tap of this liker.
      this.holdUntil = Math.max(this.holdUntil, this.now() + error.retryAfterMs);
    }
    tap.attempts += 1;
    this.retry(tap, backoffMs(tap.attempts - 1, { baseMs: 500, random: this.random }));
  }

  retry(tap, delayMs) {
    tap.notBefore = this.now() + delayMs;
    tap.retrying = true;
    this.notify(tap.sessionId, { kind: 'retry' });
  }

  fail(tap, message) {
    this.remove(tap);
    this.notify(tap.sessionId, { kind: 'failed', message });
  }

  remove(tap) {
    const i = this.queue.indexOf(tap);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /** A talk's taps not yet acknowledged, and whether some wait for a retry. */
  status(sessionId) {
    const mine = this.queue.filter((t) => t.sessionId === sessionId);
    return { pending: mine.length, retrying: mine.some((t) => t.retrying) };
  }

  notify(sessionId, event) {
    this.onUpdate?.(sessionId, this.status(sessionId), event);
  }
}
