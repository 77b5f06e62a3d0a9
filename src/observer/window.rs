//! The observer's window arithmetic, as plain data: given successive reads of
//! all servers' buckets over a sliding window (and, now and then, the
//! per-talk totals from the same snapshot), it works out how much each
//! talk's count grew since the last read. No I/O, no clock.
//!
//! A bucket keeps growing while its server flushes into it, and servers
//! flush the same second at different moments, so each bucket's last seen
//! count is kept while it is inside the window and only its growth counts.
//! Growth the window cannot see (a bucket written after it slid past) shows
//! up as totals above what was published; the next read with totals
//! publishes that difference, so counts converge exactly.
//!
//! It also keeps how much of its own server's running totals the published
//! totals hold, so that replica can add the likes it took that are not in
//! them yet (read your writes).

use crate::model::{OwnGrowth, Second, ServerId, TalkId};
use crate::store::Observation;
use std::collections::{BTreeMap, HashMap};

/// A talk whose count grew.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The talk.
    pub talk: TalkId,
    /// Growth since the previous change of this talk.
    pub delta: u64,
    /// The talk's total over all servers after this change.
    pub total: u64,
    /// The part of `delta` found only through the totals (buckets that were
    /// written after the window had passed them).
    pub late: u64,
    /// The own server's running total of the talk that `total` holds.
    pub own: u64,
}

/// Sliding-window state of one observer.
#[derive(Debug, Default)]
pub struct Window {
    /// Last seen count of each bucket inside the window.
    seen: HashMap<(Second, TalkId, ServerId), u64>,
    /// Totals published so far, per talk.
    totals: HashMap<TalkId, u64>,
    /// Lower bound of the window; never moves back, so a bucket that left
    /// the window (and is already counted) cannot come back in and count twice.
    since: Second,
    seeded: bool,
    /// The server whose buckets' growth is also reported bucket by bucket.
    own: Option<ServerId>,
    /// That growth, from the last `apply`.
    own_growth: Vec<OwnGrowth>,
    /// Per talk, how much of the own server's running total the published
    /// totals hold.
    own_totals: HashMap<TalkId, u64>,
}

impl Window {
    /// An empty window; the first observation with totals seeds it.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty window that also reports the growth of each of `server`'s
    /// buckets (`own_growth`).
    pub fn for_server(server: ServerId) -> Self {
        Self {
            own: Some(server),
            ..Self::default()
        }
    }

    /// The growth of the own server's buckets found by the last `apply`.
    pub fn own_growth(&self) -> &[OwnGrowth] {
        &self.own_growth
    }

    /// The lower bound of the last read applied.
    pub fn lower_bound(&self) -> Second {
        self.since
    }

    /// The lower bound to read from at `now` for a window of `length` seconds.
    pub fn since(&self, now: Second, length: u64) -> Second {
        let length = i64::try_from(length).unwrap_or(i64::MAX);
        self.since.max(now.saturating_sub(length))
    }

    /// Subscribers per talk over all replicas: the sum of the audience
    /// reports inside the window (of the last `apply`). A replica that
    /// stopped reporting drops out once its last report leaves the window.
    pub fn audience(&self, observation: &Observation) -> HashMap<TalkId, u64> {
        let mut audience = HashMap::new();
        let reports = observation.audience.iter();
        for report in reports.filter(|report| report.second >= self.since) {
            *audience.entry(report.talk).or_default() += report.watching;
        }
        audience
    }

    /// True once an observation with totals has set the starting point.
    pub fn is_seeded(&self) -> bool {
        self.seeded
    }

    /// Published totals per talk.
    pub fn totals(&self) -> &HashMap<TalkId, u64> {
        &self.totals
    }

    /// Per talk, the own server's running total that the published totals
    /// hold.
    pub fn own_totals(&self) -> &HashMap<TalkId, u64> {
        &self.own_totals
    }

    /// Applies a read of every bucket with `second >= since`. The first read
    /// with totals only sets the starting point (what was stored before
    /// this observer began is history, not news) and yields no change; an
    /// unseeded window ignores reads without totals.
    pub fn apply(&mut self, since: Second, observation: &Observation) -> Vec<Change> {
        self.since = self.since.max(since);
        let in_window = observation
            .buckets
            .iter()
            .filter(|b| b.second >= self.since);
        if !self.seeded {
            let Some(totals) = &observation.totals else {
                return Vec::new();
            };
            self.seen = in_window
                .map(|b| ((b.second, b.talk, b.server.clone()), b.likes))
                .collect();
            self.totals = totals.clone();
            if self.own.is_some() {
                self.own_totals = observation.own_totals.clone().unwrap_or_default();
            }
            self.seeded = true;
            return Vec::new();
        }

        self.own_growth.clear();
        let mut grown: BTreeMap<TalkId, (u64, u64)> = BTreeMap::new();
        for bucket in in_window {
            let key = (bucket.second, bucket.talk, bucket.server.clone());
            let seen = self.seen.entry(key).or_insert(0);
            if bucket.likes > *seen {
                let growth = bucket.likes - *seen;
                grown.entry(bucket.talk).or_default().0 += growth;
                if self.own.as_ref() == Some(&bucket.server) {
                    self.own_growth.push(OwnGrowth {
                        second: bucket.second,
                        talk: bucket.talk,
                        likes: growth,
                    });
                    *self.own_totals.entry(bucket.talk).or_default() += growth;
                }
                *seen = bucket.likes;
            }
        }
        let since = self.since;
        self.seen.retain(|(second, _, _), _| *second >= since);
        for (talk, (delta, _)) in &grown {
            *self.totals.entry(*talk).or_default() += delta;
        }

        if let Some(truth) = &observation.totals {
            for (talk, &stored) in truth {
                let published = self.totals.entry(*talk).or_default();
                if stored > *published {
                    let late = stored - *published;
                    *published = stored;
                    let entry = grown.entry(*talk).or_default();
                    entry.0 += late;
                    entry.1 += late;
                }
            }
        }
        // The own server's part of that late growth: a total, like the
        // others, never a delta that could count twice.
        if let (Some(_), Some(own)) = (&self.own, &observation.own_totals) {
            for (talk, &stored) in own {
                let published = self.own_totals.entry(*talk).or_default();
                if stored > *published {
                    *published = stored;
                    grown.entry(*talk).or_default();
                }
            }
        }

        grown
            .into_iter()
            .map(|(talk, (delta, late))| Change {
                talk,
                delta,
                total: self.totals.get(&talk).copied().unwrap_or_default(),
                late,
                own: self.own_totals.get(&talk).copied().unwrap_or_default(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SummaryBucket;

    fn bucket(second: Second, talk: i32, server: &str, likes: u64) -> SummaryBucket {
        SummaryBucket {
            second,
            talk: TalkId(talk),
            server: ServerId::new(server).unwrap(),
            likes,
        }
    }

    fn read(buckets: Vec<SummaryBucket>) -> Observation {
        Observation {
            buckets,
            ..Observation::default()
        }
    }

    fn read_with_totals(buckets: Vec<SummaryBucket>, totals: &[(i32, u64)]) -> Observation {
        Observation {
            buckets,
            totals: Some(totals.iter().map(|&(t, n)| (TalkId(t), n)).collect()),
            ..Observation::default()
        }
    }

    fn seeded() -> Window {
        let mut window = Window::new();
        assert_eq!(window.apply(90, &read_with_totals(vec![], &[])), vec![]);
        window
    }

    fn change(talk: i32, delta: u64, total: u64, late: u64) -> Change {
        Change {
            talk: TalkId(talk),
            delta,
            total,
            late,
            own: 0,
        }
    }

    #[test]
    fn a_window_with_its_own_server_reports_that_servers_growth_by_bucket() {
        let mut window = Window::for_server(ServerId::new("a").unwrap());
        window.apply(90, &read_with_totals(vec![], &[]));
        let changes = window.apply(
            90,
            &read(vec![bucket(100, 1, "a", 3), bucket(100, 1, "b", 2)]),
        );
        assert_eq!(
            changes,
            vec![Change {
                own: 3,
                ..change(1, 5, 5, 0)
            }]
        );
        let own = |second, likes| OwnGrowth {
            second,
            talk: TalkId(1),
            likes,
        };
        assert_eq!(window.own_growth(), [own(100, 3)]);
        let changes = window.apply(
            91,
            &read(vec![bucket(100, 1, "a", 4), bucket(101, 1, "a", 2)]),
        );
        assert_eq!(
            changes,
            vec![Change {
                own: 6,
                ..change(1, 3, 8, 0)
            }]
        );
        assert_eq!(window.own_growth(), [own(100, 1), own(101, 2)]);
        window.apply(92, &read(vec![bucket(101, 1, "b", 1)]));
        assert_eq!(window.own_growth(), [], "another server's growth");
    }

    #[test]
    fn the_own_servers_published_total_follows_its_buckets_and_its_late_totals() {
        let mut window = Window::for_server(ServerId::new("a").unwrap());
        let start = Observation {
            own_totals: Some(HashMap::from([(TalkId(1), 40)])),
            ..read_with_totals(vec![], &[(1, 70)])
        };
        window.apply(90, &start);
        assert_eq!(window.own_totals()[&TalkId(1)], 40, "seeded with history");
        let changes = window.apply(
            90,
            &read(vec![bucket(100, 1, "a", 3), bucket(100, 1, "b", 2)]),
        );
        assert_eq!(changes[0].own, 43);
        // A flush of "a" landed behind the window (5 likes), another of "b"
        // too (1): only the totals tell, and the own part is its own total.
        let behind = Observation {
            own_totals: Some(HashMap::from([(TalkId(1), 48)])),
            ..read_with_totals(vec![bucket(100, 1, "a", 3)], &[(1, 81)])
        };
        let changes = window.apply(91, &behind);
        assert_eq!(changes.len(), 1);
        assert_eq!(
            (changes[0].delta, changes[0].late, changes[0].own),
            (6, 6, 48)
        );
        assert_eq!(window.apply(92, &behind), vec![], "caught up once");
    }

    #[test]
    fn servers_flushing_the_same_second_at_different_times_each_count_once() {
        let mut window = seeded();
        let a = bucket(100, 1, "a", 3);
        assert_eq!(
            window.apply(90, &read(vec![a.clone()])),
            vec![change(1, 3, 3, 0)]
        );
        let b = bucket(100, 1, "b", 2);
        assert_eq!(
            window.apply(91, &read(vec![a.clone(), b.clone()])),
            vec![change(1, 2, 5, 0)]
        );
        assert_eq!(
            window.apply(92, &read(vec![a, b])),
            vec![],
            "no growth, no change"
        );
    }

    #[test]
    fn a_bucket_growing_over_several_reads_counts_only_its_growth() {
        let mut window = seeded();
        window.apply(90, &read(vec![bucket(100, 1, "a", 3)]));
        assert_eq!(
            window.apply(91, &read(vec![bucket(100, 1, "a", 7)])),
            vec![change(1, 4, 7, 0)]
        );
    }

    #[test]
    fn a_bucket_arriving_late_within_the_window_is_counted() {
        let mut window = seeded();
        window.apply(95, &read(vec![bucket(104, 1, "a", 1)]));
        // Server b's bucket for second 97 shows up only now, 8 s late.
        let late = vec![bucket(104, 1, "a", 1), bucket(97, 1, "b", 4)];
        assert_eq!(window.apply(95, &read(late)), vec![change(1, 4, 5, 0)]);
    }

    #[test]
    fn a_bucket_arriving_after_the_window_is_caught_by_the_totals() {
        let mut window = seeded();
        window.apply(95, &read(vec![bucket(100, 1, "a", 2)]));
        // Second 80 is written after the window passed it: the bucket read
        // never returns it, so only the totals can tell.
        assert_eq!(
            window.apply(96, &read(vec![bucket(100, 1, "a", 2)])),
            vec![]
        );
        let with_totals = read_with_totals(vec![bucket(100, 1, "a", 2)], &[(1, 8)]);
        assert_eq!(window.apply(97, &with_totals), vec![change(1, 6, 8, 6)]);
        // The catch-up is not repeated.
        let again = read_with_totals(vec![bucket(100, 1, "a", 2)], &[(1, 8)]);
        assert_eq!(window.apply(98, &again), vec![]);
    }

    #[test]
    fn totals_that_match_the_window_add_nothing() {
        let mut window = seeded();
        let obs = read_with_totals(
            vec![bucket(100, 1, "a", 2), bucket(100, 2, "a", 5)],
            &[(1, 2), (2, 5)],
        );
        assert_eq!(
            window.apply(95, &obs),
            vec![change(1, 2, 2, 0), change(2, 5, 5, 0)]
        );
    }

    #[test]
    fn a_skipped_tick_loses_nothing() {
        let mut window = seeded();
        window.apply(90, &read(vec![bucket(100, 1, "a", 1)]));
        // Reads for seconds 101 and 102 never happened; 103 sees all three.
        let after_gap = vec![
            bucket(100, 1, "a", 1),
            bucket(101, 1, "a", 2),
            bucket(102, 1, "a", 3),
            bucket(103, 1, "b", 4),
        ];
        assert_eq!(
            window.apply(93, &read(after_gap)),
            vec![change(1, 9, 10, 0)]
        );
    }

    #[test]
    fn a_restarted_observer_publishes_growth_not_history() {
        let history = vec![bucket(100, 1, "a", 5), bucket(101, 2, "b", 3)];
        let mut window = Window::new();
        assert_eq!(
            window.apply(91, &read(history.clone())),
            vec![],
            "unseeded without totals"
        );
        assert!(!window.is_seeded());
        let first = read_with_totals(history, &[(1, 50), (2, 3)]);
        assert_eq!(window.apply(91, &first), vec![]);
        assert_eq!(window.totals()[&TalkId(1)], 50);
        let grown = vec![
            bucket(100, 1, "a", 6),
            bucket(101, 2, "b", 3),
            bucket(102, 2, "a", 1),
        ];
        assert_eq!(
            window.apply(92, &read(grown)),
            vec![change(1, 1, 51, 0), change(2, 1, 4, 0)]
        );
    }

    #[test]
    fn buckets_leaving_the_window_never_count_again() {
        let mut window = seeded();
        window.apply(95, &read(vec![bucket(96, 1, "a", 2)]));
        window.apply(97, &read(vec![]));
        // The clock steps back: the window does not, so second 96 stays out.
        assert_eq!(window.since(90, 10), 97);
        assert_eq!(window.apply(80, &read(vec![bucket(96, 1, "a", 2)])), vec![]);
        assert_eq!(window.totals()[&TalkId(1)], 2);
    }

    #[test]
    fn the_audience_sums_the_reports_inside_the_window() {
        use crate::store::Watchers;
        let mut window = seeded();
        let report = |second, talk, server: &str, watching| Watchers {
            second,
            talk: TalkId(talk),
            server: ServerId::new(server).unwrap(),
            watching,
        };
        let observation = Observation {
            audience: vec![
                report(100, 1, "a", 3),
                report(101, 1, "b", 4),
                report(101, 2, "b", 1),
                report(94, 1, "gone", 50),
            ],
            ..Observation::default()
        };
        window.apply(95, &observation);
        let audience = window.audience(&observation);
        assert_eq!(audience, HashMap::from([(TalkId(1), 7), (TalkId(2), 1)]));
    }
}
