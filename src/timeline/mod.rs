//! Each talk's timeline as this replica knows it: its likes per slot of
//! creation time (`SLOT_SECONDS`), summed over all replicas. Only the
//! observer writes it, from its reads of the store (`observer`); resolvers
//! cut it into intervals (`intervals`), so no request ever reads the store
//! for it, however many clients ask.

mod intervals;

pub use intervals::{Every, Interval, MAX_INTERVALS, intervals};

use crate::model::{Second, TalkId};
use crate::store::SlotCount;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, PoisonError, RwLock};

/// The catalogue's timelines, shared by the observer (which writes) and the
/// resolvers (which read). Cheap to clone; no lock is held across `.await`.
#[derive(Clone, Debug)]
pub struct Timelines {
    state: Arc<RwLock<State>>,
}

#[derive(Debug, Default)]
struct State {
    /// Whether every talk's whole timeline has been read once.
    loaded: bool,
    talks: HashMap<TalkId, Slots>,
}

/// One talk's likes per slot start, and their sum.
#[derive(Debug, Default)]
struct Slots {
    likes: BTreeMap<Second, u64>,
    sum: u64,
    /// How far its total exceeded its slots when last read whole: likes
    /// the store holds no slot for (stored before it kept timelines), which
    /// no read will find.
    unslotted: u64,
}

impl Slots {
    /// Sets a slot to what a read found, unless an earlier read found more
    /// (a slot's count only ever grows).
    fn set(&mut self, start: Second, likes: u64) {
        let slot = self.likes.entry(start).or_default();
        if likes > *slot {
            self.sum += likes - *slot;
            *slot = likes;
        }
    }
}

impl Timelines {
    /// Empty timelines for these talks, not loaded yet.
    pub fn new(talks: impl IntoIterator<Item = TalkId>) -> Self {
        let talks = talks.into_iter().map(|t| (t, Slots::default())).collect();
        Self {
            state: Arc::new(RwLock::new(State {
                loaded: false,
                talks,
            })),
        }
    }

    /// The talks it keeps.
    pub fn talks(&self) -> Vec<TalkId> {
        let mut talks: Vec<TalkId> = self.read(|state| state.talks.keys().copied().collect());
        talks.sort_unstable();
        talks
    }

    /// Whether every talk's whole timeline has been read.
    pub fn is_loaded(&self) -> bool {
        self.read(|state| state.loaded)
    }

    /// Applies some slots a read found: each slot of a kept talk is set to
    /// its count.
    pub fn apply(&self, slots: &[SlotCount]) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        for slot in slots {
            if let Some(talk) = state.talks.get_mut(&slot.talk) {
                talk.set(slot.start, slot.likes);
            }
        }
    }

    /// Applies a read of every slot of `talks`, made after their totals
    /// were `totals`, and counts the timelines as loaded (the first such
    /// read must cover every talk). A talk whose slots still fall short of
    /// its total holds likes without slots; `short_of` allows for them.
    pub fn apply_whole(
        &self,
        talks: &[TalkId],
        slots: &[SlotCount],
        totals: &HashMap<TalkId, u64>,
    ) {
        self.apply(slots);
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        for talk in talks {
            if let Some(kept) = state.talks.get_mut(talk) {
                let total = totals.get(talk).copied().unwrap_or(0);
                kept.unslotted = total.saturating_sub(kept.sum);
            }
        }
        state.loaded = true;
    }

    /// The talks whose slots (and likes without slots) add up to less than
    /// `totals` says they hold: some of their likes landed in slots no read
    /// has covered since.
    pub fn short_of(&self, totals: &HashMap<TalkId, u64>) -> Vec<TalkId> {
        let mut short: Vec<TalkId> = self.read(|state| {
            state
                .talks
                .iter()
                .filter(|(talk, slots)| {
                    totals
                        .get(talk)
                        .is_some_and(|&n| n > slots.sum + slots.unslotted)
                })
                .map(|(talk, _)| *talk)
                .collect()
        });
        short.sort_unstable();
        short
    }

    /// The talks that held likes without slots when last read whole: a
    /// recount of the store (`likes migrate`) may have given them slots
    /// since, which only another whole read finds.
    pub fn unslotted(&self) -> Vec<TalkId> {
        let mut talks: Vec<TalkId> = self.read(|state| {
            let held = state.talks.iter().filter(|(_, slots)| slots.unslotted > 0);
            held.map(|(talk, _)| *talk).collect()
        });
        talks.sort_unstable();
        talks
    }

    /// A talk's timeline cut into intervals of `every`; `None` before the
    /// first whole read, or for a talk outside the catalogue.
    pub fn intervals(&self, talk: TalkId, every: Every) -> Option<Vec<Interval>> {
        self.read(|state| {
            let slots = state.talks.get(&talk).filter(|_| state.loaded)?;
            Some(intervals(&slots.likes, every))
        })
    }

    /// A talk's likes over its whole timeline, once loaded.
    pub fn sum(&self, talk: TalkId) -> Option<u64> {
        self.read(|state| {
            let slots = state.talks.get(&talk).filter(|_| state.loaded)?;
            Some(slots.sum)
        })
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.state.read().unwrap_or_else(PoisonError::into_inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(talk: i32, start: Second, likes: u64) -> SlotCount {
        SlotCount {
            talk: TalkId(talk),
            start,
            likes,
        }
    }

    #[test]
    fn nothing_is_answered_before_the_first_whole_read() {
        let timelines = Timelines::new([TalkId(1)]);
        timelines.apply(&[slot(1, 0, 3)]);
        assert_eq!(timelines.intervals(TalkId(1), Every::MINUTE), None);
        timelines.apply_whole(&[TalkId(1)], &[], &HashMap::new());
        assert_eq!(
            timelines.intervals(TalkId(1), Every::MINUTE),
            Some(vec![Interval { start: 0, likes: 3 }])
        );
        assert_eq!(timelines.intervals(TalkId(2), Every::MINUTE), None);
    }

    #[test]
    fn a_read_sets_slots_and_never_takes_likes_back() {
        let timelines = Timelines::new([TalkId(1), TalkId(2)]);
        let all = [TalkId(1), TalkId(2)];
        let read = [slot(1, 0, 3), slot(1, 10, 1), slot(9, 0, 5)];
        timelines.apply_whole(&all, &read, &HashMap::new());
        timelines.apply(&[slot(1, 10, 4), slot(1, 0, 2)]);
        assert_eq!(timelines.sum(TalkId(1)), Some(7), "slot 0 stays at 3");
        assert_eq!(timelines.sum(TalkId(2)), Some(0));
        assert_eq!(timelines.sum(TalkId(9)), None, "not in the catalogue");
    }

    #[test]
    fn a_talk_is_short_when_its_slots_add_up_to_less_than_its_total() {
        let all = [TalkId(1), TalkId(2), TalkId(3)];
        let timelines = Timelines::new(all);
        timelines.apply_whole(&all, &[slot(1, 0, 3), slot(2, 0, 5)], &HashMap::new());
        let totals = HashMap::from([(TalkId(1), 4), (TalkId(2), 5), (TalkId(3), 1)]);
        assert_eq!(timelines.short_of(&totals), [TalkId(1), TalkId(3)]);
        let ahead = HashMap::from([(TalkId(1), 2)]);
        assert!(
            timelines.short_of(&ahead).is_empty(),
            "a total behind is no gap"
        );
    }

    #[test]
    fn likes_stored_without_slots_do_not_make_a_talk_short_for_ever() {
        let timelines = Timelines::new([TalkId(1)]);
        // The store holds 10 likes of talk 1, but slots for only 4 of them.
        let totals = HashMap::from([(TalkId(1), 10)]);
        timelines.apply_whole(&[TalkId(1)], &[slot(1, 0, 4)], &totals);
        assert!(timelines.short_of(&totals).is_empty());
        timelines.apply(&[slot(1, 10, 2)]);
        let grown = HashMap::from([(TalkId(1), 12)]);
        assert!(
            timelines.short_of(&grown).is_empty(),
            "the new likes have slots"
        );
        let more = HashMap::from([(TalkId(1), 13)]);
        assert_eq!(timelines.short_of(&more), [TalkId(1)]);
        assert_eq!(timelines.unslotted(), [TalkId(1)]);
        // Read whole again once the store has slots for all of them.
        timelines.apply_whole(&[TalkId(1)], &[slot(1, 0, 4), slot(1, 20, 9)], &more);
        assert!(timelines.unslotted().is_empty());
        assert!(timelines.short_of(&more).is_empty());
    }
}
