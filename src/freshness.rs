//! Ack→push delay (`likes_ack_to_push_seconds`) of the likes this replica
//! acknowledged. After each successful flush the storer notes, per talk,
//! the acknowledgement times of the likes it stored and the bucket second
//! they count in; when the observer publishes growth of that bucket, that
//! many of them (oldest first) are measured, each from its own
//! acknowledgement. `Ledger` is the plain-data core (no clock, no I/O);
//! `Freshness` shares it between the storer and the observer.

use crate::model::{Like, OwnGrowth, Second, TalkId};
use crate::telemetry as names;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

/// Stored likes waiting for their publication, and publications waiting
/// for their note, by (bucket second, talk). The two meet in either order:
/// the observer can read a commit before the storer has noted it.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Acknowledgement times (Unix seconds) of stored likes not yet seen
    /// published, oldest first.
    noted: BTreeMap<(Second, TalkId), VecDeque<f64>>,
    /// How many likes `noted` holds.
    held: usize,
    /// Own growth published before its flush was noted.
    credit: HashMap<(Second, TalkId), u64>,
}

/// Most likes kept noted (8 bytes each): half a minute at 30,000 likes a
/// second, while reads normally take them within two. Beyond it the oldest
/// buckets are dropped unmeasured (an observer that has not read for that
/// long has paged already).
const MAX_NOTED: usize = 1_000_000;

impl Ledger {
    /// Notes the acknowledgement times `acks` (oldest first) of likes of
    /// `talk` a flush stored into bucket `second`. Likes already published
    /// are measured at once: `record(ack)` for each.
    pub fn stored(
        &mut self,
        second: Second,
        talk: TalkId,
        acks: impl IntoIterator<Item = f64>,
        mut record: impl FnMut(f64),
    ) {
        let key = (second, talk);
        let mut acks = acks.into_iter();
        if let Some(credit) = self.credit.remove(&key) {
            let mut matched = 0;
            for ack in acks
                .by_ref()
                .take(usize::try_from(credit).unwrap_or(usize::MAX))
            {
                record(ack);
                matched += 1;
            }
            if credit > matched {
                self.credit.insert(key, credit - matched);
            }
        }
        let noted = self.noted.entry(key).or_default();
        let before = noted.len();
        noted.extend(acks);
        self.held += noted.len() - before;
        if noted.is_empty() {
            self.noted.remove(&key);
        }
        while self.held > MAX_NOTED {
            if let Some((_, dropped)) = self.noted.pop_first() {
                self.held -= dropped.len();
            }
        }
    }

    /// Takes up to `wanted` of a bucket's noted likes, oldest first,
    /// recording each; returns how many it took.
    fn take(&mut self, key: (Second, TalkId), wanted: u64, record: &mut impl FnMut(f64)) -> u64 {
        let Some(noted) = self.noted.get_mut(&key) else {
            return 0;
        };
        let n = noted
            .len()
            .min(usize::try_from(wanted).unwrap_or(usize::MAX));
        noted.drain(..n).for_each(&mut *record);
        self.held -= n;
        if noted.is_empty() {
            self.noted.remove(&key);
        }
        n as u64
    }

    /// The observer published growth of this replica's bucket: measures
    /// that many noted likes; growth not noted yet becomes credit.
    pub fn published(&mut self, growth: OwnGrowth, mut record: impl FnMut(f64)) {
        let key = (growth.second, growth.talk);
        let taken = self.take(key, growth.likes, &mut record);
        if growth.likes > taken {
            *self.credit.entry(key).or_default() += growth.likes - taken;
        }
    }

    /// The observer published `late` likes of `talk` found only through the
    /// totals: buckets older than the window's lower bound `since`. Measures
    /// up to that many noted likes of such buckets, oldest first.
    pub fn published_late(
        &mut self,
        talk: TalkId,
        late: u64,
        since: Second,
        mut record: impl FnMut(f64),
    ) {
        let keys: Vec<(Second, TalkId)> = self
            .noted
            .range(..(since, TalkId(i32::MIN)))
            .map(|(key, _)| *key)
            .filter(|(_, t)| *t == talk)
            .collect();
        let mut wanted = late;
        for key in keys {
            if wanted == 0 {
                break;
            }
            wanted -= self.take(key, wanted, &mut record);
        }
    }

    /// Forgets notes and credits of buckets before `second`: their growth
    /// was published, or never will be (a like the store already had
    /// counts in no bucket). Returns how many noted likes go unmeasured.
    pub fn forget_before(&mut self, second: Second) -> u64 {
        self.credit.retain(|(s, _), _| *s >= second);
        let kept = self.noted.split_off(&(second, TalkId(i32::MIN)));
        let dropped: usize = std::mem::replace(&mut self.noted, kept)
            .values()
            .map(VecDeque::len)
            .sum();
        self.held -= dropped;
        dropped as u64
    }

    /// Likes noted and not yet seen published.
    pub fn unpublished(&self) -> u64 {
        self.held as u64
    }
}

/// The ledger shared by the storer (which notes flushes) and the observer
/// (which notes publications); records into `likes_ack_to_push_seconds`.
/// Cheap to clone.
#[derive(Clone, Default)]
pub struct Freshness {
    ledger: Arc<Mutex<Ledger>>,
}

impl Freshness {
    /// Notes the likes of a batch (oldest first, as the buffer hands them
    /// out) a flush just stored into bucket `second`.
    pub fn stored(&self, second: Second, batch: &[Like]) {
        let mut per_talk: HashMap<TalkId, Vec<f64>> = HashMap::new();
        for like in batch {
            let ack = like.created_at.timestamp_micros() as f64 / 1e6;
            per_talk.entry(like.talk).or_default().push(ack);
        }
        let now = now_seconds();
        let mut ledger = self.lock();
        for (talk, acks) in per_talk {
            ledger.stored(second, talk, acks, |ack| observe(now - ack));
        }
    }

    /// Measures what one observer read published: the growth of this
    /// replica's buckets, and per talk the likes found only through the
    /// totals (`late`, below `since`). A read with the totals counted every
    /// like stored before it, so after one, what is still noted below
    /// `since` will never be published and is forgotten.
    pub fn published(
        &self,
        own: &[OwnGrowth],
        late: impl IntoIterator<Item = (TalkId, u64)>,
        since: Second,
        with_totals: bool,
    ) {
        let now = now_seconds();
        let record = |ack: f64| observe(now - ack);
        let mut ledger = self.lock();
        for growth in own {
            ledger.published(*growth, record);
        }
        for (talk, likes) in late {
            ledger.published_late(talk, likes, since, record);
        }
        if with_totals {
            ledger.forget_before(since);
        }
    }

    /// Likes stored and not yet seen published.
    pub fn unpublished(&self) -> u64 {
        self.lock().unpublished()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn now_seconds() -> f64 {
    chrono::Utc::now().timestamp_micros() as f64 / 1e6
}

/// `ACK_TO_PUSH`, looked up once: a publication may record thousands.
fn observe(age: f64) {
    static HISTOGRAM: std::sync::OnceLock<metrics::Histogram> = std::sync::OnceLock::new();
    HISTOGRAM
        .get_or_init(|| metrics::histogram!(names::ACK_TO_PUSH))
        .record(age.max(0.0));
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: TalkId = TalkId(1);

    fn grew(second: Second, likes: u64) -> OwnGrowth {
        OwnGrowth {
            second,
            talk: T,
            likes,
        }
    }

    fn recorded(f: impl FnOnce(&mut dyn FnMut(f64))) -> Vec<f64> {
        let mut seen = Vec::new();
        f(&mut |ack| seen.push(ack));
        seen
    }

    fn unseen(_: f64) {
        panic!("nothing is published yet")
    }

    #[test]
    fn a_buckets_growth_measures_that_many_of_its_likes_oldest_first() {
        let mut ledger = Ledger::default();
        ledger.stored(101, T, [100.2, 100.5, 100.9], unseen);
        ledger.stored(102, T, [101.1, 101.4], unseen);
        assert_eq!(
            recorded(|r| ledger.published(grew(102, 2), r)),
            [101.1, 101.4]
        );
        assert_eq!(
            recorded(|r| ledger.published(grew(101, 2), r)),
            [100.2, 100.5]
        );
        assert_eq!(ledger.unpublished(), 1);
    }

    #[test]
    fn growth_read_before_its_flush_is_noted_is_measured_when_it_is() {
        let mut ledger = Ledger::default();
        assert!(recorded(|r| ledger.published(grew(101, 2), r)).is_empty());
        let seen = recorded(|r| ledger.stored(101, T, [100.5, 100.6, 100.7], r));
        assert_eq!(seen, [100.5, 100.6]);
        assert_eq!(ledger.unpublished(), 1);
    }

    #[test]
    fn a_like_the_store_had_already_shifts_no_other_flushs_measure() {
        // A flush of 3 likes, one of which the store had: its bucket grows
        // by 2 only. The third stays noted until forgotten; the next
        // flush's likes are measured by their own bucket.
        let mut ledger = Ledger::default();
        ledger.stored(101, T, [100.0, 100.1, 100.2], |_| {});
        ledger.stored(102, T, [101.5], |_| {});
        assert_eq!(
            recorded(|r| ledger.published(grew(101, 2), r)),
            [100.0, 100.1]
        );
        assert_eq!(recorded(|r| ledger.published(grew(102, 1), r)), [101.5]);
        assert_eq!(ledger.forget_before(102), 1, "the stale note is dropped");
        assert_eq!(ledger.unpublished(), 0);
    }

    #[test]
    fn late_growth_takes_only_buckets_before_the_window() {
        let mut ledger = Ledger::default();
        ledger.stored(60, T, [50.0, 50.5], |_| {});
        ledger.stored(96, T, [95.0], |_| {});
        let seen = recorded(|r| ledger.published_late(T, 20, 90, r));
        assert_eq!(seen, [50.0, 50.5], "the bucket inside the window waits");
        assert_eq!(ledger.unpublished(), 1);
    }

    #[test]
    fn other_talks_notes_are_untouched() {
        let mut ledger = Ledger::default();
        ledger.stored(60, TalkId(2), [50.0, 50.1], |_| {});
        ledger.published(grew(60, 3), |_| {});
        ledger.published_late(T, 3, 100, |_| {});
        assert_eq!(ledger.unpublished(), 2);
    }

    #[test]
    fn credits_and_notes_are_forgotten_by_age_and_bounded_in_number() {
        let mut ledger = Ledger::default();
        ledger.published(grew(10, 4), |_| {});
        assert_eq!(ledger.forget_before(11), 0);
        assert!(
            recorded(|r| ledger.stored(10, T, [9.0], r)).is_empty(),
            "an expired credit matches nothing"
        );
        ledger.stored(11, T, vec![0.0; MAX_NOTED], |_| {});
        assert_eq!(
            ledger.unpublished(),
            MAX_NOTED as u64,
            "the oldest bucket went"
        );
        assert!(recorded(|r| ledger.published(grew(10, 1), r)).is_empty());
    }
}
