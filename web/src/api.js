// GraphQL over HTTP POST to the page's own server, and the one place that
// decides which failures are worth a retry.

const TIMEOUT_MS = 10_000;

/** Error codes after which the same request may succeed later. */
const RETRYABLE_CODES = new Set(['UNAVAILABLE', 'RATE_LIMITED', 'INTERNAL']);

/** A failed request: `retryable` says whether sending it again may work. */
export class RequestError extends Error {
  constructor(message, { retryable, retryAfterMs = 0, code = null }) {
    super(message);
    this.name = 'RequestError';
    this.retryable = retryable;
    this.retryAfterMs = retryAfterMs;
    this.code = code;
  }
}

/**
 * POSTs one operation or a batch (an array) and returns the parsed answer.
 * Network failures, time-outs and 5xx/429 answers throw a retryable
 * RequestError; other HTTP errors throw a final one.
 */
export async function post(body) {
  let response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    throw new RequestError(
      error?.name === 'TimeoutError' ? 'the server did not answer in time' : 'network error',
      { retryable: true },
    );
  }
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    // A proxy's error page, or a body cut short: judged by the status below.
  }
  if (response.ok && answer !== null) return answer;
  const retryable = response.status >= 500 || response.status === 429 || response.ok;
  const first = Array.isArray(answer?.errors) ? answer.errors[0] : null;
  throw new RequestError(first?.message || `HTTP ${response.status}`, {
    retryable,
    retryAfterMs: retryAfterHeader(response),
    code: first?.extensions?.code ?? null,
  });
}

/** Runs one query and returns its `data`, throwing a RequestError on errors. */
export async function query(text, variables) {
  const answer = await post(variables ? { query: text, variables } : { query: text });
  if (answer?.errors?.length) throw errorOf(answer.errors[0]);
  if (!answer?.data) throw new RequestError('empty answer', { retryable: true });
  return answer.data;
}

/** The RequestError a GraphQL error stands for, by its `extensions.code`. */
export function errorOf(graphqlError) {
  const code = graphqlError?.extensions?.code ?? null;
  const seconds = Number(graphqlError?.extensions?.retryAfterSeconds);
  return new RequestError(graphqlError?.message || 'unknown error', {
    retryable: RETRYABLE_CODES.has(code),
    retryAfterMs: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0,
    code,
  });
}

function retryAfterHeader(response) {
  const seconds = Number(response.headers.get('retry-after'));
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
}

/**
 * Exponential back-off with jitter: about `base * 2^attempt`, capped, and
 * drawn from its upper half so that many pages retrying after one outage
 * spread out instead of arriving together.
 */
export function backoffMs(attempt, { baseMs = 1000, capMs = 10_000, random = Math.random } = {}) {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
