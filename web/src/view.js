// The page's DOM: talk cards grouped by day, and what each card shows of
// its counter, its audience, its likes per minute and the taps on its
// button. Built with DOM calls, so no inline script or style is ever
// needed (the server's CSP forbids both).

import { groupByDay, timeLabel, watchingLabel } from './talks.js';
import { MinuteCounts, chartOf, chartSummary, clockLabel, offsetMs } from './timeline.js';

const SVG = 'http://www.w3.org/2000/svg';
const count = new Intl.NumberFormat('en');

/** How long "Sent" stays under a button once every tap is acknowledged. */
const SENT_SHOWN_MS = 2500;

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null));
  return node;
}

/** A decorative 24×24 icon of one path. */
function icon(className, d) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', className);
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', d);
  svg.append(path);
  return svg;
}

const heart = () => icon('heart', 'M12 20.6 4.3 12.9a4.9 4.9 0 0 1 6.9-6.9l.8.8.8-.8a4.9 4.9 0 0 1 6.9 6.9Z');
const eye = () =>
  icon('eye', 'M12 5C6.6 5 2.9 9 1.5 12c1.4 3 5.1 7 10.5 7s9.1-4 10.5-7C21.1 9 17.4 5 12 5Zm0 11a4 4 0 1 1 0-8 4 4 0 0 1 0 8Zm0-2.2a1.8 1.8 0 1 0 0-3.6 1.8 1.8 0 0 0 0 3.6Z');

function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

/** Height of the chart's drawing, in its own units. */
const CHART_HEIGHT = 40;

/**
 * A talk's likes per minute as a small bar chart over its slot (or the
 * minutes it was liked in), with the times at both ends and the busiest
 * minute spelled out beneath.
 */
class Chart {
  constructor(talk, locale) {
    this.talk = talk;
    this.locale = locale;
    this.offset = offsetMs(talk.startTime);
    this.counts = new MinuteCounts();
    this.bars = svg('svg', { class: 'bars', preserveAspectRatio: 'none', role: 'img' });
    this.from = el('span', { class: 'from' });
    this.to = el('span', { class: 'to' });
    this.summary = el('p', { class: 'peak' });
    this.element = el(
      'figure',
      { class: 'timeline' },
      this.bars,
      el('div', { class: 'axis', 'aria-hidden': 'true' }, this.from, this.to),
      this.summary,
    );
    this.element.hidden = true;
  }

  /** A fresh `timeline` read, with the `liked` read beside it. */
  load(intervals, liked) {
    this.counts.load(intervals, liked);
    this.draw();
  }

  /** A new total from the live counter, published at `atMs`. */
  grow(total, atMs) {
    if (this.counts.grow(total, atMs)) this.draw();
  }

  draw() {
    const chart = chartOf(this.counts, this.talk);
    this.element.hidden = chart.bars.length === 0;
    if (this.element.hidden) return;
    const label = (ms) => clockLabel(ms, this.offset, this.locale);
    const summary = chartSummary(chart, this.offset, this.locale, count);
    this.bars.setAttribute('viewBox', `0 0 ${chart.bars.length} ${CHART_HEIGHT}`);
    this.bars.setAttribute(
      'aria-label',
      `Likes per minute from ${label(chart.from)} to ${label(chart.to)}. ${summary}.`,
    );
    const rects = [];
    chart.bars.forEach((bar, i) => {
      if (bar.likes === 0) return;
      const height = Math.max((bar.likes / chart.max) * CHART_HEIGHT, 2);
      const rect = svg('rect', {
        class: 'bar',
        x: i + 0.15,
        width: 0.7,
        y: CHART_HEIGHT - height,
        height,
        'data-minute': new Date(bar.start).toISOString(),
        'data-likes': bar.likes,
      });
      const title = svg('title');
      title.textContent = `${label(bar.start)} · ${count.format(bar.likes)} ${bar.likes === 1 ? 'like' : 'likes'}`;
      rect.append(title);
      rects.push(rect);
    });
    this.bars.replaceChildren(...rects);
    this.from.textContent = label(chart.from);
    this.to.textContent = label(chart.to);
    this.summary.textContent = summary;
  }
}

/** One talk's card, and the handles to update it. */
class Card {
  constructor(talk, headingLevel, locale, onLike) {
    const id = `talk-${talk.sessionId}`;
    const time = timeLabel(talk.startTime, talk.endTime, locale);
    const meta = el(
      'p',
      { class: 'meta' },
      time ? el('time', { datetime: talk.startTime, text: time }) : null,
      talk.room ? el('span', { class: 'room', text: talk.room }) : null,
    );
    // Not a live region: the audience changes all the time, and announcing
    // it would drown a screen reader as the counters would.
    this.watchingText = el('span', { text: '' });
    this.watching = el('p', { class: 'watching' }, eye(), this.watchingText);
    this.watching.hidden = true;
    this.number = el('span', { class: 'number', text: count.format(0) });
    this.unit = el('span', { class: 'unit', text: 'likes' });
    // Not announced until this visitor likes the talk: two dozen counters
    // moving every second would drown a screen reader.
    this.counter = el(
      'p',
      { class: 'count', id: `${id}-count`, 'aria-live': 'off', 'aria-atomic': 'true' },
      this.number,
      ' ',
      this.unit,
    );
    this.button = el(
      'button',
      { type: 'button', class: 'like', 'aria-label': `Like ${talk.title}`, 'aria-describedby': `${id}-count` },
      heart(),
      el('span', { text: 'Like' }),
    );
    this.button.addEventListener('click', () => {
      this.counter.setAttribute('aria-live', 'polite');
      // Restart the tap animation even on rapid taps.
      this.button.classList.remove('tapped');
      void this.button.offsetWidth;
      this.button.classList.add('tapped');
      onLike(talk.sessionId);
    });
    this.note = el('p', { class: 'note' });
    this.title = talk.title;
    this.total = null;
    this.chart = new Chart(talk, locale);
    this.element = el(
      'article',
      { class: 'talk', 'aria-labelledby': `${id}-title`, 'data-session-id': String(talk.sessionId) },
      el('div', { class: 'head' }, meta.childElementCount ? meta : null, this.watching),
      el(`h${headingLevel}`, { class: 'title', id: `${id}-title`, text: talk.title }),
      this.chart.element,
      el('div', { class: 'actions' }, this.button, this.note, this.counter),
    );
  }

  /** A fresh `timeline` read of the talk, with its `liked` read beside it. */
  setTimeline(intervals, liked) {
    this.chart.load(intervals, liked);
  }

  /**
   * Shows a total; a lower one than shown is an older reading, not news.
   * Its growth goes into the chart's minute of `atMs`, when it was published.
   */
  setTotal(total, atMs = null) {
    if (atMs !== null) this.chart.grow(total, atMs);
    if (this.total !== null && total <= this.total) return;
    const grew = this.total !== null;
    this.total = total;
    this.number.textContent = count.format(total);
    this.unit.textContent = total === 1 ? 'like' : 'likes';
    if (grew) {
      this.counter.classList.remove('bump');
      void this.counter.offsetWidth;
      this.counter.classList.add('bump');
    }
  }

  /** Shows how many watch the talk now (it goes up and down). */
  setWatching(watching) {
    if (!Number.isFinite(watching)) return;
    this.watchingText.textContent = watchingLabel(watching, count);
    this.watching.hidden = false;
  }

  /** What the taps on this card are doing (see TapSender's onUpdate). */
  setTaps({ pending, retrying }, event) {
    clearTimeout(this.noteTimer);
    this.note.classList.remove('error', 'sent');
    if (event.kind === 'failed') {
      this.note.classList.add('error');
      this.note.textContent = `Not sent: ${event.message}`;
    } else if (pending > 0) {
      this.note.textContent = retrying ? `+${pending} waiting to retry` : `+${pending} sending`;
    } else if (event.kind === 'sent') {
      this.note.classList.add('sent');
      this.note.textContent = 'Sent ✓';
      this.noteTimer = setTimeout(() => (this.note.textContent = ''), SENT_SHOWN_MS);
    } else {
      this.note.textContent = '';
    }
  }
}

/**
 * Renders the talks into `container`, replacing what was there, and returns
 * their cards by sessionId.
 */
export function renderTalks(container, sortedTalks, { locale, onLike }) {
  const cards = new Map();
  const groups = groupByDay(sortedTalks, locale);
  const headed = !(groups.length === 1 && groups[0].day === null);
  const sections = groups.map((group) => {
    const grid = el('div', { class: 'grid' });
    for (const talk of group.talks) {
      const card = new Card(talk, headed ? 3 : 2, locale, onLike);
      cards.set(talk.sessionId, card);
      grid.append(card.element);
    }
    return el(
      'section',
      { class: 'day' },
      headed ? el('h2', { class: 'day-title', text: group.label }) : null,
      grid,
    );
  });
  if (sections.length === 0) sections.push(el('p', { class: 'empty', text: 'No talks yet.' }));
  container.replaceChildren(...sections);
  return cards;
}
