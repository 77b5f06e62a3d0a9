// A talk's likes per minute: loaded, grown live, and charted over its slot
// or over the minutes it was liked in.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MIN_SPAN_MINUTES, MinuteCounts, chartOf, chartSummary, clockLabel, offsetMs } from '../../src/timeline.js';

const at = (text) => Date.parse(text);
const slot = { startTime: '2026-05-14T16:00:00+02:00', endTime: '2026-05-14T16:05:00+02:00' };

function loaded(intervals, liked) {
  const counts = new MinuteCounts();
  counts.load(intervals, liked);
  return counts;
}

test('offsets are read from the talk times', () => {
  assert.equal(offsetMs('2026-05-14T16:00:00+02:00'), 2 * 3_600_000);
  assert.equal(offsetMs('2026-05-14T16:00:00-03:30'), -3.5 * 3_600_000);
  assert.equal(offsetMs('2026-05-14T16:00:00Z'), 0);
  assert.equal(offsetMs(null), null);
  assert.equal(offsetMs('16:00'), null);
});

test('a chart spans the talk slot when every like falls in it', () => {
  const counts = loaded(
    [
      { start: '2026-05-14T14:01:00Z', likes: 3 },
      { start: '2026-05-14T14:02:00Z', likes: 0 },
      { start: '2026-05-14T14:03:00Z', likes: 7 },
    ],
    10,
  );
  const chart = chartOf(counts, slot);
  assert.deepEqual(chart.bars.map((b) => b.likes), [0, 3, 0, 7, 0]);
  assert.equal(chart.from, at('2026-05-14T14:00:00Z'));
  assert.equal(chart.to, at('2026-05-14T14:05:00Z'));
  assert.equal(chart.max, 7);
  assert.equal(chart.total, 10);
  assert.equal(chartSummary(chart, offsetMs(slot.startTime), 'en-GB'), 'Most liked at 16:03: 7 likes that minute');
});

test('a chart spans the liked minutes when some fall outside the slot, or without one', () => {
  const counts = loaded(
    [
      { start: '2026-05-14T14:04:00Z', likes: 1 },
      { start: '2026-05-14T14:05:00Z', likes: 0 },
      { start: '2026-05-14T15:06:00Z', likes: 2 },
    ],
    3,
  );
  for (const times of [slot, {}]) {
    const chart = chartOf(counts, times);
    assert.equal(chart.bars.length, 63);
    assert.equal(chart.from, at('2026-05-14T14:04:00Z'));
    assert.equal(chart.to, at('2026-05-14T15:07:00Z'));
    assert.deepEqual(chart.bars.filter((b) => b.likes > 0).map((b) => b.likes), [1, 2]);
  }
});

test('a chart of a few liked minutes reaches back to span at least half an hour', () => {
  const counts = loaded([{ start: '2026-12-06T22:26:00Z', likes: 14 }], 14);
  const chart = chartOf(counts, slot);
  assert.equal(chart.bars.length, MIN_SPAN_MINUTES);
  assert.equal(chart.to, at('2026-12-06T22:27:00Z'));
  assert.deepEqual(chart.bars.at(-1), { start: at('2026-12-06T22:26:00Z'), likes: 14 });
  assert.equal(chart.total, 14);
});

test('a talk without likes charts its empty slot, or nothing without one', () => {
  const empty = loaded([], 0);
  assert.equal(chartOf(empty, slot).bars.length, 5);
  assert.equal(chartOf(empty, slot).peak, null);
  assert.equal(chartSummary(chartOf(empty, slot), 0, 'en-GB'), 'No likes yet');
  assert.deepEqual(chartOf(empty, {}).bars, []);
});

test('events grow the minute they were published in, by the growth of the total', () => {
  const counts = loaded([{ start: '2026-05-14T14:01:00Z', likes: 3 }], 3);
  assert.equal(counts.grow(5, at('2026-05-14T14:01:40Z')), true);
  assert.equal(counts.grow(4, at('2026-05-14T14:02:10Z')), false, 'an older total');
  assert.equal(counts.grow(9, at('2026-05-14T14:02:10Z')), true);
  assert.deepEqual(counts.entries(), [
    [at('2026-05-14T14:01:00Z'), 5],
    [at('2026-05-14T14:02:00Z'), 4],
  ]);
  const unloaded = new MinuteCounts();
  assert.equal(unloaded.grow(5, at('2026-05-14T14:01:40Z')), false, 'no base to grow from');
});

test('a fresh read replaces what grew live', () => {
  const counts = loaded([{ start: '2026-05-14T14:01:00Z', likes: 3 }], 3);
  counts.grow(5, at('2026-05-14T14:02:00Z'));
  counts.load(
    [
      { start: '2026-05-14T14:01:00Z', likes: 4 },
      { start: '2026-05-14T14:02:00Z', likes: 1 },
    ],
    5,
  );
  assert.deepEqual(counts.entries().map(([, n]) => n), [4, 1]);
  assert.equal(counts.grow(6, at('2026-05-14T14:02:30Z')), true);
  assert.deepEqual(counts.entries().map(([, n]) => n), [4, 2]);
});

test("likes acknowledged and not yet stored grow the current minute from what the timeline holds", () => {
  // liked (4) counts a like of this replica that no interval holds yet.
  const counts = loaded([{ start: '2026-05-14T14:01:00Z', likes: 3 }], 4);
  assert.equal(counts.grow(4, at('2026-05-14T14:02:05Z')), true);
  assert.deepEqual(counts.entries().map(([, n]) => n), [3, 1]);
});

test('a timeline cut at its latest intervals grows from liked', () => {
  const intervals = Array.from({ length: 1440 }, (_, i) => ({
    start: new Date(at('2026-05-14T00:00:00Z') + i * 60_000).toISOString(),
    likes: 1,
  }));
  const counts = loaded(intervals, 5000);
  counts.grow(5002, at('2026-05-15T00:00:10Z'));
  assert.equal(counts.minutes.get(at('2026-05-15T00:00:00Z')), 2);
});

test('clock labels follow the venue offset, or the viewer without one', () => {
  assert.equal(clockLabel(at('2026-05-14T14:03:00Z'), 2 * 3_600_000, 'en-GB'), '16:03');
  assert.match(clockLabel(at('2026-05-14T14:03:00Z'), 0, 'en-US'), /^2:03\sPM$/);
});
