// The talk list as the page shows it: order, grouping by day, the time
// labels and the audience's. Pure functions of the `sessions` answer; no
// DOM, no clock.

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * The wall-clock time written in an RFC 3339 string, i.e. the local time
 * at the venue (the server keeps the catalogue's offset). Returned as a Date
 * whose UTC fields hold that wall clock, so formatting it with
 * `timeZone: 'UTC'` shows the venue's time whatever the viewer's zone.
 * Also returns the instant, for ordering. Null for a missing or bad value.
 */
export function venueTime(text) {
  const m = typeof text === 'string' ? RFC3339.exec(text) : null;
  if (!m) return null;
  const [, y, mo, d, h, mi, s = '0'] = m;
  const wall = new Date(Date.UTC(+y, +mo - 1, +d, +h, +mi, +s));
  const instant = Date.parse(text);
  if (Number.isNaN(wall.getTime()) || Number.isNaN(instant)) return null;
  return { wall, instant, day: `${y}-${mo}-${d}` };
}

/** Talks by start time (talks without one last), then by id. */
export function sortTalks(sessions) {
  const key = (s) => venueTime(s.startTime)?.instant ?? Infinity;
  return [...sessions].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka !== kb) return ka < kb ? -1 : 1;
    return a.sessionId - b.sessionId;
  });
}

/**
 * Splits sorted talks into days: `[{ day, label, talks }]`, in order; talks
 * without a start time form a last group whose `day` is null.
 */
export function groupByDay(sorted, locale) {
  const groups = [];
  for (const talk of sorted) {
    const start = venueTime(talk.startTime);
    const day = start ? start.day : null;
    let group = groups[groups.length - 1];
    if (!group || group.day !== day) {
      group = { day, label: start ? dayLabel(start.wall, locale) : 'More talks', talks: [] };
      groups.push(group);
    }
    group.talks.push(talk);
  }
  return groups;
}

/** "Thursday 14 May" (in the viewer's locale) for a venue wall-clock date. */
export function dayLabel(wall, locale) {
  return new Intl.DateTimeFormat(locale, {
    weekday: 'long',
    day: 'numeric',
    month: 'long',
    timeZone: 'UTC',
  }).format(wall);
}

/** "10:00–10:40" (or "10:00" without an end), in the venue's local time. */
export function timeLabel(startTime, endTime, locale) {
  const start = venueTime(startTime);
  if (!start) return '';
  const format = new Intl.DateTimeFormat(locale, {
    hour: 'numeric',
    minute: '2-digit',
    timeZone: 'UTC',
  });
  const end = venueTime(endTime);
  if (!end || end.wall < start.wall) return format.format(start.wall);
  return format.formatRange(start.wall, end.wall);
}

/**
 * The locale for dates and times: the page is in English, so the visitor's
 * English variant (en-US shows 12-hour times), else British English.
 */
export function pageLocale(languages) {
  return (languages ?? []).find((tag) => /^en(-|$)/i.test(tag)) ?? 'en-GB';
}

/** "1 person watching", "12 people watching" ("1,234" with `format`). */
export function watchingLabel(watching, format = new Intl.NumberFormat('en')) {
  const n = Math.max(0, Math.trunc(watching));
  return `${format.format(n)} ${n === 1 ? 'person' : 'people'} watching`;
}
