//! One talk's likes taken by this replica that its published total may not
//! hold yet: those acknowledged and not yet stored (`Unstored`, counted up
//! without a lock, once per like), this replica's running total in the
//! store as its flushes read it back, and how much of that running total
//! the published total holds (`Own`). Readers on this replica add the
//! difference, so they read their own writes. No I/O.

use std::sync::atomic::{AtomicU64, Ordering};

/// This replica's stored likes of one talk, against the published total.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Own {
    /// This replica's running total in the store, as its last flush of the
    /// talk read it back.
    stored: u64,
    /// The part of that running total the published total holds.
    published: u64,
}

impl Own {
    /// The published total starts out holding `running_total` of this
    /// replica's likes of the talk, which is all the store holds: no flush
    /// of this replica committed before that read.
    pub(super) fn seed(&mut self, running_total: u64) {
        self.stored = self.stored.max(running_total);
        self.published = self.published.max(running_total);
    }

    /// A flush committed: the store holds `running_total` of this
    /// replica's likes of the talk.
    pub(super) fn stored(&mut self, running_total: u64) {
        self.stored = self.stored.max(running_total);
    }

    /// The published total now holds `running_total` of this replica's
    /// likes of the talk.
    pub(super) fn published(&mut self, running_total: u64) {
        self.published = self.published.max(running_total);
    }

    /// Acknowledged likes, stored or not (`unstored` of them not yet), the
    /// published total does not hold yet.
    pub(super) fn unseen(&self, unstored: u64) -> u64 {
        (self.stored + unstored).saturating_sub(self.published)
    }
}

/// Likes of one talk acknowledged before being stored (`--ack buffered`)
/// and not stored yet. Counted up by every like without a lock; counted
/// down, and read, only where `Own` is written or read under its lock, so
/// a reader never sees a like both stored and unstored, nor neither.
#[derive(Debug, Default)]
pub(super) struct Unstored(AtomicU64);

impl Unstored {
    /// A like was acknowledged before being stored.
    pub(super) fn acknowledged(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
    }

    /// A flush committed `acknowledged` likes that had been acknowledged
    /// already (each now stored, or found stored).
    pub(super) fn stored(&self, acknowledged: u64) {
        let _ = (self.0).fetch_update(Ordering::AcqRel, Ordering::Acquire, |unstored| {
            Some(unstored.saturating_sub(acknowledged))
        });
    }

    /// How many there are now.
    pub(super) fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A published total with this replica's likes, as readers add them up.
    #[derive(Default)]
    struct Talk {
        total: u64,
        own: Own,
        unstored: Unstored,
    }

    impl Talk {
        fn read(&self) -> u64 {
            self.total + self.own.unseen(self.unstored.get())
        }
        fn acknowledged(&self) {
            self.unstored.acknowledged();
        }
        /// A flush stored `acknowledged` likes acknowledged before, and the
        /// running total is then `running`.
        fn stored(&mut self, acknowledged: u64, running: u64) {
            self.unstored.stored(acknowledged);
            self.own.stored(running);
        }
        /// The observer publishes `growth`, `own` of it this replica's,
        /// whose running total is then `running`.
        fn publish(&mut self, growth: u64, running: u64) {
            self.total += growth;
            self.own.published(running);
        }
    }

    #[test]
    fn a_like_counts_from_its_acknowledgement_and_never_twice() {
        let mut talk = Talk {
            total: 10,
            ..Talk::default()
        };
        talk.own.seed(4);
        talk.acknowledged();
        assert_eq!(talk.read(), 11);
        talk.stored(1, 5);
        assert_eq!(talk.read(), 11);
        talk.publish(3, 5);
        assert_eq!(talk.read(), 13, "2 from others");
    }

    #[test]
    fn a_total_read_before_its_flush_is_noted_counts_the_like_once() {
        let mut talk = Talk::default();
        talk.acknowledged();
        talk.acknowledged();
        // The observer read the commit before the storer heard back.
        talk.publish(2, 2);
        assert_eq!(talk.read(), 2);
        talk.stored(2, 2);
        assert_eq!(talk.read(), 2);
    }

    #[test]
    fn a_replayed_flush_reads_back_what_the_unanswered_try_stored() {
        let mut talk = Talk::default();
        for _ in 0..3 {
            talk.acknowledged();
        }
        // The first try committed but its answer was lost; the replay finds
        // all three stored and reads the running total back.
        talk.stored(3, 3);
        assert_eq!(talk.read(), 3);
        talk.publish(3, 3);
        assert_eq!(talk.read(), 3);
    }

    #[test]
    fn a_like_stored_once_acknowledged_counts_only_once_stored() {
        // --ack stored: nothing counts before the flush that stores it.
        let mut talk = Talk::default();
        talk.own.seed(7);
        assert_eq!(talk.read(), 0, "history is in the published total");
        talk.stored(0, 8);
        assert_eq!(talk.read(), 1);
    }

    #[test]
    fn a_retry_that_another_replica_stored_is_counted_until_its_flush() {
        // Acknowledged as new here, found stored by the flush: the one
        // case where the count comes back down.
        let mut talk = Talk::default();
        talk.own.seed(2);
        talk.acknowledged();
        assert_eq!(talk.read(), 1);
        talk.stored(1, 2);
        assert_eq!(talk.read(), 0);
    }

    #[test]
    fn every_reader_sees_counts_that_only_grow() {
        // Acknowledgements, flushes and publications interleaved in every
        // order a replica meets them; no reader's count goes down.
        let mut talk = Talk::default();
        let mut read = 0;
        let mut check = |talk: &Talk| {
            assert!(talk.read() >= read, "{} after {read}", talk.read());
            read = talk.read();
        };
        let mut running = 0;
        for round in 0..50u64 {
            let taken = round % 4;
            for _ in 0..taken {
                talk.acknowledged();
                check(&talk);
            }
            let early = round % 3 == 0;
            if early {
                talk.publish(taken + round % 2, running + taken);
                check(&talk);
            }
            running += taken;
            talk.stored(taken, running);
            check(&talk);
            if !early {
                talk.publish(taken + round % 2, running);
                check(&talk);
            }
        }
        assert_eq!(
            talk.own.unseen(talk.unstored.get()),
            0,
            "everything published"
        );
    }
}
