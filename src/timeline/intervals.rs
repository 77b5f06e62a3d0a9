//! Cutting a talk's slots into the intervals `Session.timeline` answers:
//! aligned to the epoch, in order, without gaps from the interval of its
//! first like to that of its last, at most `MAX_INTERVALS` of them. Pure
//! arithmetic: no clock, no store.

use crate::model::{SLOT_SECONDS, Second};
use std::collections::BTreeMap;

/// The most intervals a timeline holds: the latest ones.
pub const MAX_INTERVALS: usize = 1_440;

/// Every `every` must divide this, so that every hour starts an interval.
const HOUR: Second = 3_600;

/// The length of a timeline's intervals: a multiple of `SLOT_SECONDS` that
/// divides an hour (10, 20, 30, 60, … 3,600 seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Every(Second);

impl Every {
    /// One minute, `Session.timeline`'s default.
    pub const MINUTE: Self = Self(60);

    /// `seconds` as an interval length, or why it cannot be one.
    pub fn new(seconds: i64) -> Result<Self, String> {
        if seconds > 0 && seconds % SLOT_SECONDS == 0 && HOUR % seconds == 0 {
            Ok(Self(seconds))
        } else {
            Err(format!(
                "every must be a number of seconds that is a multiple of {SLOT_SECONDS} \
                 and divides {HOUR} (10, 20, 30, 60, … 3600), not {seconds}"
            ))
        }
    }

    /// The length in seconds.
    pub fn seconds(self) -> Second {
        self.0
    }

    /// The start of the interval holding second `at`.
    fn start_of(self, at: Second) -> Second {
        at.div_euclid(self.0) * self.0
    }
}

/// One interval of a timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    /// Its first second since the epoch.
    pub start: Second,
    /// Likes created in it.
    pub likes: u64,
}

/// The intervals of `every` seconds covering `slots` (likes per slot start):
/// from the interval of the first slot to that of the last, those with no
/// likes included, keeping only the latest `MAX_INTERVALS`.
pub fn intervals(slots: &BTreeMap<Second, u64>, every: Every) -> Vec<Interval> {
    let (Some((&first, _)), Some((&last, _))) = (slots.first_key_value(), slots.last_key_value())
    else {
        return Vec::new();
    };
    let last = every.start_of(last);
    let earliest = last - (MAX_INTERVALS as Second - 1) * every.seconds();
    let first = every.start_of(first).max(earliest);
    let count = ((last - first) / every.seconds() + 1) as usize;
    let mut cut: Vec<Interval> = (0..count)
        .map(|i| Interval {
            start: first + i as Second * every.seconds(),
            likes: 0,
        })
        .collect();
    for (&start, &likes) in slots.range(first..) {
        let index = ((every.start_of(start) - first) / every.seconds()) as usize;
        cut[index].likes += likes;
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Second = 1_790_000_040; // 2026-09-21 14:14:00 UTC, a whole minute

    fn slots(pairs: &[(Second, u64)]) -> BTreeMap<Second, u64> {
        pairs.iter().copied().collect()
    }

    fn pairs(cut: &[Interval]) -> Vec<(Second, u64)> {
        cut.iter().map(|i| (i.start, i.likes)).collect()
    }

    #[test]
    fn only_multiples_of_ten_that_divide_an_hour_are_lengths() {
        for ok in [10, 20, 30, 40, 50, 60, 90, 120, 300, 600, 900, 1800, 3600] {
            assert_eq!(Every::new(ok).map(Every::seconds), Ok(ok));
        }
        for bad in [0, -60, 5, 15, 25, 70, 7200, 3610, i64::MAX, i64::MIN] {
            let error = Every::new(bad).unwrap_err();
            assert!(error.contains(&format!("not {bad}")), "{error}");
        }
    }

    #[test]
    fn a_talk_without_likes_has_no_intervals() {
        assert!(intervals(&BTreeMap::new(), Every::MINUTE).is_empty());
    }

    #[test]
    fn slots_add_up_per_minute_aligned_to_the_epoch_with_empty_minutes_listed() {
        let cut = intervals(
            &slots(&[(T + 10, 2), (T + 50, 3), (T + 60, 1), (T + 190, 4)]),
            Every::MINUTE,
        );
        assert_eq!(
            pairs(&cut),
            [(T, 5), (T + 60, 1), (T + 120, 0), (T + 180, 4)]
        );
        assert_eq!(T % 60, 0);
    }

    #[test]
    fn a_coarser_length_sums_more_slots_and_a_finer_one_keeps_them_apart() {
        let talk = slots(&[(T, 1), (T + 10, 2), (T + 3_590, 3)]);
        let hourly = intervals(&talk, Every::new(3_600).unwrap());
        let hour = T.div_euclid(3_600) * 3_600;
        assert_eq!(pairs(&hourly), [(hour, 3), (hour + 3_600, 3)]);
        let tens = intervals(&talk, Every::new(10).unwrap());
        assert_eq!(tens.len(), 360);
        assert_eq!(tens.iter().map(|i| i.likes).sum::<u64>(), 6);
        assert_eq!(pairs(&tens[..2]), [(T, 1), (T + 10, 2)]);
    }

    #[test]
    fn only_the_latest_intervals_are_kept_and_a_coarser_length_reaches_further() {
        // One like an hour before the last, ten seconds apart: 361 slots.
        let talk = slots(&[(T - 3_600, 7), (T, 1)]);
        let tens = intervals(&talk, Every::new(10).unwrap());
        assert_eq!(tens.len(), 361);
        let day_apart = slots(&[(T - 86_400, 7), (T, 1)]);
        let minutes = intervals(&day_apart, Every::MINUTE);
        assert_eq!(minutes.len(), MAX_INTERVALS);
        assert_eq!(minutes.last().unwrap().start, T);
        assert_eq!(minutes[0].start, T - 1_439 * 60);
        assert_eq!(
            minutes.iter().map(|i| i.likes).sum::<u64>(),
            1,
            "the first like is cut"
        );
        let hours = intervals(&day_apart, Every::new(3_600).unwrap());
        assert_eq!(
            hours.iter().map(|i| i.likes).sum::<u64>(),
            8,
            "an hour's reach is 60 days"
        );
        assert_eq!(hours.len(), 25);
    }
}
