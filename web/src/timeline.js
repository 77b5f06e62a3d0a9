// A talk's timeline as the page shows it: likes per minute, read once from
// the server's `timeline` and grown live by the counter's events, and the
// chart drawn from it (its axis, bars and labels). Pure: no DOM, no clock.

export const MINUTE_MS = 60_000;

const RFC3339_OFFSET = /([Zz]|[+-]\d{2}:\d{2})$/;

/** The UTC offset written in an RFC 3339 string, in ms; null if none. */
export function offsetMs(text) {
  const m = typeof text === 'string' ? RFC3339_OFFSET.exec(text) : null;
  if (!m || Number.isNaN(Date.parse(text))) return null;
  if (m[1] === 'Z' || m[1] === 'z') return 0;
  const sign = m[1][0] === '-' ? -1 : 1;
  const [h, mi] = m[1].slice(1).split(':').map(Number);
  return sign * (h * 60 + mi) * MINUTE_MS;
}

const minuteOf = (ms) => Math.floor(ms / MINUTE_MS) * MINUTE_MS;

/**
 * The fewest minutes a chart of liked minutes spans (it reaches back before
 * the first like if need be), so that a talk liked in one minute shows a
 * bar, not a block.
 */
export const MIN_SPAN_MINUTES = 30;

/** The most intervals a `timeline` answer holds (the latest ones). */
export const MAX_INTERVALS = 1440;

/**
 * Likes per minute of one talk. `load` takes a `timeline` answer with the
 * `liked` read beside it; `grow` takes each later total the counter shows,
 * and counts its growth in the minute it was published in.
 */
export class MinuteCounts {
  constructor() {
    /** Minute start (ms since the epoch) → likes. */
    this.minutes = new Map();
    /** The total the counts hold; null until loaded. */
    this.total = null;
  }

  /**
   * Replaces the counts with a fresh read. Later totals grow from what the
   * intervals hold: `liked` may count too the likes its replica has just
   * acknowledged and not yet stored, which no interval holds yet. Only a
   * timeline cut at its latest intervals holds less than `liked` for good.
   */
  load(intervals, liked) {
    this.minutes = new Map();
    let held = 0;
    for (const { start, likes } of intervals ?? []) {
      const at = Date.parse(start);
      if (Number.isFinite(at) && likes > 0) {
        const minute = minuteOf(at);
        this.minutes.set(minute, (this.minutes.get(minute) ?? 0) + likes);
        held += likes;
      }
    }
    const cut = (intervals?.length ?? 0) >= MAX_INTERVALS;
    this.total = cut && Number.isFinite(liked) ? liked : held;
  }

  /**
   * Counts the growth up to `total` (a talk's total, as an event brings it)
   * in the minute holding `atMs`; true if the counts changed. An older,
   * lower total is not news.
   */
  grow(total, atMs) {
    if (this.total === null || !Number.isFinite(total) || !Number.isFinite(atMs)) return false;
    if (total <= this.total) return false;
    const minute = minuteOf(atMs);
    this.minutes.set(minute, (this.minutes.get(minute) ?? 0) + total - this.total);
    this.total = total;
    return true;
  }

  /** [minute start, likes] in order, minutes with likes only. */
  entries() {
    return [...this.minutes.entries()].sort((a, b) => a[0] - b[0]);
  }
}

/**
 * What the chart shows for `counts` of a talk from `startTime` to `endTime`
 * (RFC 3339, optional): a bar per minute over the talk's slot when every
 * like falls in it (or there are none yet), else over the minutes from the
 * first like to the last (at least `MIN_SPAN_MINUTES` up to the last).
 * `{ from, to, bars: [{ start, likes }], max, total, peak }`, times in ms;
 * `bars` is empty when there is nothing to draw.
 */
export function chartOf(counts, { startTime, endTime } = {}) {
  const liked = counts.entries();
  const start = Date.parse(startTime);
  const end = Date.parse(endTime);
  const slot = Number.isFinite(start) && Number.isFinite(end) && end > start;
  const inSlot = slot && liked.every(([minute]) => minute >= minuteOf(start) && minute < end);
  let from;
  let to;
  if (inSlot) {
    from = minuteOf(start);
    to = minuteOf(end - 1) + MINUTE_MS;
  } else if (liked.length > 0) {
    to = liked[liked.length - 1][0] + MINUTE_MS;
    from = Math.min(liked[0][0], to - MIN_SPAN_MINUTES * MINUTE_MS);
  } else {
    return { from: null, to: null, bars: [], max: 0, total: 0, peak: null };
  }
  const bars = [];
  for (let minute = from; minute < to; minute += MINUTE_MS) {
    bars.push({ start: minute, likes: counts.minutes.get(minute) ?? 0 });
  }
  let peak = null;
  let total = 0;
  for (const bar of bars) {
    total += bar.likes;
    if (bar.likes > 0 && (peak === null || bar.likes > peak.likes)) peak = bar;
  }
  return { from, to, bars, max: peak?.likes ?? 0, total, peak };
}

/**
 * "16:31" for the instant `ms`, on the venue's clock when its UTC offset is
 * known (from the talk's times), else on the viewer's.
 */
export function clockLabel(ms, offset, locale) {
  const format = new Intl.DateTimeFormat(locale, {
    hour: 'numeric',
    minute: '2-digit',
    ...(offset === null ? {} : { timeZone: 'UTC' }),
  });
  return format.format(new Date(offset === null ? ms : ms + offset));
}

/** What a screen reader hears of a chart, and what the card says under it. */
export function chartSummary(chart, offset, locale, format = new Intl.NumberFormat('en')) {
  if (chart.peak === null) return 'No likes yet';
  const n = chart.peak.likes;
  const likes = `${format.format(n)} ${n === 1 ? 'like' : 'likes'}`;
  return `Most liked at ${clockLabel(chart.peak.start, offset, locale)}: ${likes} that minute`;
}
