//! Splitting one flush into commits that each stay within a store's limits
//! (Cloud Spanner: 80,000 mutations and 100 MiB per commit). Pure
//! arithmetic: backends say what a row costs, this says where to cut.

use crate::model::{Like, Second, TalkId, slot_of};
use std::collections::HashSet;
use std::ops::Range;

/// The most one commit may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitLimits {
    /// Mutations, counted as the store counts them (Spanner: cells written,
    /// including secondary index entries).
    pub max_mutations: u64,
    /// Bytes of data written.
    pub max_bytes: u64,
}

impl CommitLimits {
    /// Cloud Spanner's limits per commit.
    pub const SPANNER: Self = Self {
        max_mutations: 80_000,
        max_bytes: 100 * 1024 * 1024,
    };
}

/// What one flush writes, per row kind, in the store's own units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteCost {
    /// Mutations per like row.
    pub mutations_per_like: u64,
    /// Bytes per like row, besides the liker id.
    pub bytes_per_like: u64,
    /// Mutations per talk in a commit (its bucket and totals rows).
    pub mutations_per_talk: u64,
    /// Bytes per talk in a commit.
    pub bytes_per_talk: u64,
    /// Mutations per (talk, timeline slot) in a commit (its timeline row).
    pub mutations_per_slot: u64,
    /// Bytes per (talk, timeline slot) in a commit.
    pub bytes_per_slot: u64,
}

impl WriteCost {
    fn like(&self, like: &Like) -> (u64, u64) {
        (
            self.mutations_per_like,
            self.bytes_per_like + like.liker.len() as u64,
        )
    }
}

/// Cuts `likes` into consecutive ranges, in order, each of which fits in
/// one commit: its likes, one bucket and one totals row per talk it
/// touches, and one timeline row per (talk, slot) it touches. Every range holds at least one like, so a like too large for
/// any commit gets a commit of its own (and the store's refusal).
pub fn plan(likes: &[Like], limits: CommitLimits, cost: &WriteCost) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut mutations = 0;
    let mut bytes = 0;
    let mut talks: HashSet<TalkId> = HashSet::new();
    let mut slots: HashSet<(TalkId, Second)> = HashSet::new();
    for (i, like) in likes.iter().enumerate() {
        let slot = (like.talk, slot_of(like.created_at));
        let (mut add_mutations, mut add_bytes) = cost.like(like);
        if !talks.contains(&like.talk) {
            add_mutations += cost.mutations_per_talk;
            add_bytes += cost.bytes_per_talk;
        }
        if !slots.contains(&slot) {
            add_mutations += cost.mutations_per_slot;
            add_bytes += cost.bytes_per_slot;
        }
        let fits = mutations + add_mutations <= limits.max_mutations
            && bytes + add_bytes <= limits.max_bytes;
        if !fits && i > start {
            ranges.push(start..i);
            start = i;
            talks.clear();
            slots.clear();
            (add_mutations, add_bytes) = cost.like(like);
            add_mutations += cost.mutations_per_talk + cost.mutations_per_slot;
            add_bytes += cost.bytes_per_talk + cost.bytes_per_slot;
            mutations = 0;
            bytes = 0;
        }
        talks.insert(like.talk);
        slots.insert(slot);
        mutations += add_mutations;
        bytes += add_bytes;
    }
    if start < likes.len() {
        ranges.push(start..likes.len());
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LikeId;
    use chrono::{TimeZone, Utc};

    fn like(talk: i32, liker: &str) -> Like {
        Like {
            id: LikeId::for_request(TalkId(talk), liker, None),
            talk: TalkId(talk),
            liker: liker.to_owned(),
            created_at: Utc::now(),
        }
    }

    const COST: WriteCost = WriteCost {
        mutations_per_like: 5,
        bytes_per_like: 10,
        mutations_per_talk: 8,
        bytes_per_talk: 20,
        mutations_per_slot: 0,
        bytes_per_slot: 0,
    };

    fn roomy(max_mutations: u64) -> CommitLimits {
        CommitLimits {
            max_mutations,
            max_bytes: u64::MAX,
        }
    }

    #[test]
    fn a_batch_within_the_limits_is_one_commit() {
        let likes: Vec<Like> = (0..3).map(|_| like(1, "a")).collect();
        // 3 likes × 5 + 1 talk × 8 = 23.
        assert_eq!(plan(&likes, roomy(23), &COST), vec![0..3]);
    }

    #[test]
    fn one_mutation_over_the_limit_starts_a_new_commit() {
        let likes: Vec<Like> = (0..3).map(|_| like(1, "a")).collect();
        assert_eq!(plan(&likes, roomy(22), &COST), vec![0..2, 2..3]);
    }

    #[test]
    fn each_commit_pays_again_for_the_talks_it_touches() {
        // Talks 1, 2, 1: 13 + 13 + 5 = 31 in one commit; with 30 the third
        // like moves to a commit of its own, which pays for talk 1 again.
        let likes = vec![like(1, "a"), like(2, "b"), like(1, "c")];
        assert_eq!(plan(&likes, roomy(31), &COST), vec![0..3]);
        assert_eq!(plan(&likes, roomy(30), &COST), vec![0..2, 2..3]);
    }

    #[test]
    fn long_liker_ids_cut_by_bytes() {
        let likes = vec![like(1, &"x".repeat(50)), like(1, &"y".repeat(50))];
        let limits = CommitLimits {
            max_mutations: u64::MAX,
            max_bytes: 20 + 60 + 60,
        };
        assert_eq!(plan(&likes, limits, &COST), vec![0..2]);
        let tighter = CommitLimits {
            max_bytes: 20 + 60 + 59,
            ..limits
        };
        assert_eq!(plan(&likes, tighter, &COST), vec![0..1, 1..2]);
    }

    #[test]
    fn every_like_is_in_exactly_one_commit_that_fits() {
        let likes: Vec<Like> = (0..1_000)
            .map(|n| like(n % 7, &"z".repeat((n % 13) as usize + 1)))
            .collect();
        let limits = CommitLimits {
            max_mutations: 200,
            max_bytes: 600,
        };
        let ranges = plan(&likes, limits, &COST);
        let mut next = 0;
        for range in &ranges {
            assert_eq!(range.start, next, "ranges are consecutive");
            assert!(!range.is_empty());
            next = range.end;
            let chunk = &likes[range.clone()];
            let talks: HashSet<TalkId> = chunk.iter().map(|l| l.talk).collect();
            let mutations = chunk.len() as u64 * 5 + talks.len() as u64 * 8;
            let bytes: u64 = chunk.iter().map(|l| 10 + l.liker.len() as u64).sum::<u64>()
                + talks.len() as u64 * 20;
            assert!(mutations <= 200 && bytes <= 600, "{range:?} fits");
        }
        assert_eq!(next, likes.len());
    }

    #[test]
    fn each_slot_of_a_talk_costs_its_timeline_row() {
        let slotted = WriteCost {
            mutations_per_slot: 4,
            ..COST
        };
        let at = |talk: i32, second: i64| Like {
            created_at: Utc.timestamp_opt(second, 0).unwrap(),
            ..like(talk, "a")
        };
        // Two likes of talk 1 in one slot, one in the next: 3 × 5 + 8 + 2 × 4.
        let likes = vec![
            at(1, 1_790_000_000),
            at(1, 1_790_000_009),
            at(1, 1_790_000_010),
        ];
        assert_eq!(plan(&likes, roomy(31), &slotted), vec![0..3]);
        assert_eq!(plan(&likes, roomy(30), &slotted), vec![0..2, 2..3]);
    }

    #[test]
    fn a_like_larger_than_any_commit_still_gets_one() {
        let likes = vec![like(1, "a"), like(1, "b")];
        assert_eq!(plan(&likes, roomy(1), &COST), vec![0..1, 1..2]);
        assert!(plan(&[], roomy(1), &COST).is_empty());
    }
}
