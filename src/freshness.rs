//! Ack→push delay (`likes_ack_to_push_seconds`) of the likes this replica
//! acknowledged. After each successful flush the storer notes, per talk, how
//! many likes it stored and the oldest one's acknowledgement time; when the
//! observer publishes growth of this replica's own buckets, that many likes
//! are taken off the talk's queue (oldest first) and each is recorded as old
//! as the oldest of its flush: an upper bound, never an underestimate.
//! `Ledger` is the plain-data core (no clock, no I/O); `Freshness` shares it.

use crate::model::{Like, TalkId};
use crate::telemetry as names;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

/// Stored likes of one talk not yet seen published, oldest first, with
/// what was published before its likes were noted (a flush's commit can be
/// read by the observer before the storer notes it).
#[derive(Debug, Default)]
struct Queue {
    stored: VecDeque<Stored>,
    /// Published own likes not yet matched with a noted flush.
    credit: u64,
}

/// The likes of one talk in one flush.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stored {
    /// When the flush succeeded, Unix seconds.
    flushed_at: f64,
    /// The oldest like's acknowledgement, Unix seconds.
    oldest_ack: f64,
    likes: u64,
}

/// Per-talk queues of stored, unpublished likes. Bounded: a talk keeps at
/// most `MAX_FLUSHES` flushes (one a second when busy); older ones are
/// dropped unmeasured.
#[derive(Debug, Default)]
pub struct Ledger {
    talks: HashMap<TalkId, Queue>,
}

/// Most flushes a talk's queue keeps: ten minutes of one a second.
const MAX_FLUSHES: usize = 600;

impl Ledger {
    /// Notes `likes` of `talk` stored by a flush that succeeded at
    /// `flushed_at`, the oldest acknowledged at `oldest_ack`. Likes already
    /// published (a credit) are matched at once: `record(oldest_ack, n)`.
    pub fn stored(
        &mut self,
        talk: TalkId,
        likes: u64,
        oldest_ack: f64,
        flushed_at: f64,
        mut record: impl FnMut(f64, u64),
    ) {
        let queue = self.talks.entry(talk).or_default();
        let matched = likes.min(queue.credit);
        queue.credit -= matched;
        if matched > 0 {
            record(oldest_ack, matched);
        }
        if likes > matched {
            if queue.stored.len() == MAX_FLUSHES {
                queue.stored.pop_front();
            }
            queue.stored.push_back(Stored {
                flushed_at,
                oldest_ack,
                likes: likes - matched,
            });
        }
    }

    /// The observer published growth of `talk`: `own` likes in this
    /// replica's buckets inside its window, and `late` likes (any replica's)
    /// found only through the totals, whose buckets are older than `since`
    /// (Unix seconds). Takes own likes off the queue, oldest first (a
    /// shortfall becomes credit), then, of the late ones, those of this
    /// replica's flushes before `since`. Calls `record(oldest_ack, n)`.
    pub fn published(
        &mut self,
        talk: TalkId,
        own: u64,
        late: u64,
        since: f64,
        mut record: impl FnMut(f64, u64),
    ) {
        let queue = self.talks.entry(talk).or_default();
        let mut wanted = own;
        while wanted > 0 {
            let Some(front) = queue.stored.front_mut() else {
                queue.credit += wanted;
                break;
            };
            let taken = take(front, &mut wanted, &mut record);
            if taken {
                queue.stored.pop_front();
            }
        }
        let mut wanted = late;
        while wanted > 0 {
            match queue.stored.front_mut() {
                Some(front) if front.flushed_at < since => {
                    if take(front, &mut wanted, &mut record) {
                        queue.stored.pop_front();
                    }
                }
                _ => break,
            }
        }
    }

    /// Likes noted and not yet published, over all talks.
    pub fn unpublished(&self) -> u64 {
        self.talks
            .values()
            .flat_map(|queue| &queue.stored)
            .map(|stored| stored.likes)
            .sum()
    }
}

/// Takes up to `wanted` likes from `stored`, recording them; true if it is
/// now empty.
fn take(stored: &mut Stored, wanted: &mut u64, record: &mut impl FnMut(f64, u64)) -> bool {
    let n = stored.likes.min(*wanted);
    record(stored.oldest_ack, n);
    stored.likes -= n;
    *wanted -= n;
    stored.likes == 0
}

/// The ledger shared by the storer (writer of flushes) and the observer
/// (writer of publications); records into `likes_ack_to_push_seconds`.
/// Cheap to clone.
#[derive(Clone, Default)]
pub struct Freshness {
    ledger: Arc<Mutex<Ledger>>,
}

impl Freshness {
    /// Notes the likes of a batch a flush just stored.
    pub fn stored(&self, batch: &[Like]) {
        let mut per_talk: HashMap<TalkId, (u64, i64)> = HashMap::new();
        for like in batch {
            let micros = like.created_at.timestamp_micros();
            let entry = per_talk.entry(like.talk).or_insert((0, micros));
            entry.0 += 1;
            entry.1 = entry.1.min(micros);
        }
        let now = now_seconds();
        let mut ledger = self.lock();
        for (talk, (likes, oldest)) in per_talk {
            ledger.stored(talk, likes, oldest as f64 / 1e6, now, |ack, n| {
                observe(now - ack, n)
            });
        }
    }

    /// Records the likes of a publication (see `Ledger::published`).
    pub fn published(&self, talk: TalkId, own: u64, late: u64, since: i64) {
        let now = now_seconds();
        self.lock()
            .published(talk, own, late, since as f64, |ack, n| {
                observe(now - ack, n)
            });
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

fn observe(age: f64, likes: u64) {
    metrics::histogram!(names::ACK_TO_PUSH).record_many(age.max(0.0), likes as usize);
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: TalkId = TalkId(1);

    fn recorded(f: impl FnOnce(&mut dyn FnMut(f64, u64))) -> Vec<(f64, u64)> {
        let mut seen = Vec::new();
        f(&mut |ack, n| seen.push((ack, n)));
        seen
    }

    #[test]
    fn published_likes_are_as_old_as_the_oldest_of_their_flush_oldest_flush_first() {
        let mut ledger = Ledger::default();
        ledger.stored(T, 3, 100.2, 101.0, |_, _| panic!("no credit"));
        ledger.stored(T, 2, 101.1, 102.0, |_, _| panic!("no credit"));
        let seen = recorded(|r| ledger.published(T, 4, 0, 90.0, r));
        assert_eq!(seen, vec![(100.2, 3), (101.1, 1)]);
        assert_eq!(ledger.unpublished(), 1);
    }

    #[test]
    fn growth_read_before_its_flush_is_noted_is_matched_when_it_is() {
        let mut ledger = Ledger::default();
        assert_eq!(recorded(|r| ledger.published(T, 2, 0, 90.0, r)), vec![]);
        let seen = recorded(|r| ledger.stored(T, 3, 100.5, 101.0, r));
        assert_eq!(seen, vec![(100.5, 2)]);
        assert_eq!(ledger.unpublished(), 1);
    }

    #[test]
    fn late_growth_takes_only_flushes_from_before_the_window() {
        let mut ledger = Ledger::default();
        ledger.stored(T, 5, 50.0, 60.0, |_, _| {});
        ledger.stored(T, 5, 95.0, 96.0, |_, _| {});
        let seen = recorded(|r| ledger.published(T, 0, 20, 90.0, r));
        assert_eq!(seen, vec![(50.0, 5)], "the flush inside the window waits");
        assert_eq!(ledger.unpublished(), 5);
    }

    #[test]
    fn other_talks_queues_are_untouched() {
        let mut ledger = Ledger::default();
        ledger.stored(TalkId(2), 5, 50.0, 60.0, |_, _| {});
        ledger.published(T, 3, 0, 0.0, |_, _| {});
        assert_eq!(ledger.unpublished(), 5);
    }

    #[test]
    fn a_talk_keeps_a_bounded_number_of_flushes() {
        let mut ledger = Ledger::default();
        for n in 0..MAX_FLUSHES + 10 {
            ledger.stored(T, 1, n as f64, n as f64, |_, _| {});
        }
        assert_eq!(ledger.unpublished(), MAX_FLUSHES as u64);
        let seen = recorded(|r| ledger.published(T, 1, 0, 0.0, r));
        assert_eq!(seen, vec![(10.0, 1)], "the oldest were dropped");
    }
}
