// The talk list's order, day groups, time labels and audience.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { groupByDay, pageLocale, sortTalks, timeLabel, venueTime, watchingLabel } from '../../src/talks.js';

const talk = (sessionId, startTime = null, endTime = null) => ({ sessionId, title: `T${sessionId}`, startTime, endTime });

test('talks are ordered by start instant, then id, untimed last', () => {
  const sorted = sortTalks([
    talk(5),
    talk(4, '2026-05-14T11:00:00+02:00'),
    talk(3, '2026-05-14T10:00:00+02:00'),
    talk(2, '2026-05-14T09:00:00+01:00'), // the same instant as 3
    talk(1),
  ]);
  assert.deepEqual(sorted.map((t) => t.sessionId), [2, 3, 4, 1, 5]);
});

test('times are the venue clock whatever the viewer zone', () => {
  assert.equal(timeLabel('2026-05-14T10:00:00+09:00', '2026-05-14T10:40:00+09:00', 'en-GB'), '10:00–10:40');
  assert.equal(timeLabel('2026-05-14T23:30:00-07:00', null, 'en-GB'), '23:30');
  assert.equal(timeLabel(null, '2026-05-14T10:40:00Z', 'en-GB'), '');
  assert.match(timeLabel('2026-05-14T13:05:00Z', '2026-05-14T13:45:00Z', 'en-US'), /^1:05\s?–\s?1:45\sPM$/);
});

test('talks split into days by the venue date', () => {
  const sorted = sortTalks([
    talk(1, '2026-05-14T23:30:00+09:00'),
    talk(2, '2026-05-15T09:00:00+09:00'),
    talk(3, '2026-05-15T10:00:00+09:00'),
    talk(4),
  ]);
  const groups = groupByDay(sorted, 'en-GB');
  assert.deepEqual(
    groups.map((g) => [g.day, g.label, g.talks.map((t) => t.sessionId)]),
    [
      ['2026-05-14', 'Thursday 14 May', [1]],
      ['2026-05-15', 'Friday 15 May', [2, 3]],
      [null, 'More talks', [4]],
    ],
  );
});

test('bad or missing times are no times', () => {
  for (const bad of [null, undefined, '', '10am', '2026-05-14', '2026-13-45T10:00:00Z x']) {
    assert.equal(venueTime(bad), null, String(bad));
  }
  assert.equal(venueTime('2026-05-14T10:00:00.250Z').day, '2026-05-14');
});

test('dates speak the visitor English variant, else British', () => {
  assert.equal(pageLocale(['de-DE', 'en-US']), 'en-US');
  assert.equal(pageLocale(['en']), 'en');
  assert.equal(pageLocale(['fr-FR', 'enx']), 'en-GB');
  assert.equal(pageLocale(undefined), 'en-GB');
});

test('the audience is counted in people, one person alone', () => {
  assert.equal(watchingLabel(1), '1 person watching');
  assert.equal(watchingLabel(12), '12 people watching');
  assert.equal(watchingLabel(0), '0 people watching');
  assert.equal(watchingLabel(1234), '1,234 people watching');
  assert.equal(watchingLabel(-3), '0 people watching');
});
