//! Ticks aligned to the wall clock, so that every replica flushes at the
//! same instants, and when each observer reads: once its own flush of the
//! interval has landed and the other replicas' have most likely landed too
//! (`Settle`, learnt from the reads), and at a quarter of the interval at
//! the latest. A like then waits at most one flush interval to be stored
//! and, once stored, about as long as flushes take to land to be read.

use crate::clock::Clock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::{Instant, Interval, MissedTickBehavior};

/// Least time an observer waits after its own flush lands before it reads:
/// the other replicas' timers fire a little apart.
pub const MIN_SETTLE: Duration = Duration::from_millis(5);

/// An interval whose ticks fall `offset` after each multiple of `period`
/// since the Unix epoch on `clock` (`offset < period`). A tick missed
/// because the previous one's work ran long is taken late, and the next
/// keeps the grid.
pub fn aligned(clock: &Clock, period: Duration, offset: Duration) -> Interval {
    let wait = until_next(clock.now(), period, offset);
    let mut ticks = tokio::time::interval_at(Instant::now() + wait, period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    ticks
}

/// The start of the interval `now` falls in: the last multiple of `period`
/// since the Unix epoch at or before it.
pub fn start_of(now: SystemTime, period: Duration) -> SystemTime {
    let period_ns = period.as_nanos().max(1);
    let since_epoch = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let start = since_epoch - since_epoch % period_ns;
    UNIX_EPOCH + Duration::from_nanos(u64::try_from(start).unwrap_or(u64::MAX))
}

/// The start of the interval after the one `now` falls in.
pub fn next_start(now: SystemTime, period: Duration) -> SystemTime {
    start_of(now, period) + period.max(Duration::from_nanos(1))
}

/// How long into each interval an observer waits before it reads, learnt
/// from its reads. It starts at a twentieth of the interval; a read that
/// finds growth of a bucket from before the interval's second shows that a
/// flush landed after the previous read, and doubles the wait; each read
/// that finds none takes a thirty-second of the way back to the start.
/// The wait stays between a twentieth and a quarter of the interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settle {
    wait: Duration,
    floor: Duration,
    cap: Duration,
}

impl Settle {
    /// The starting wait for intervals of `period`.
    pub fn new(period: Duration) -> Self {
        Self {
            wait: period / 20,
            floor: period / 20,
            cap: period / 4,
        }
    }

    /// The wait now.
    pub fn wait(&self) -> Duration {
        self.wait
    }

    /// The latest an interval's read may come after its start.
    pub fn cap(&self) -> Duration {
        self.cap
    }

    /// When to read in the interval starting at `tick`: the wait after it,
    /// and `MIN_SETTLE` after this replica's flush of the interval landed
    /// (`landed`, if it has), whichever is later; never after the cap.
    pub fn read_at(&self, tick: SystemTime, landed: Option<SystemTime>) -> SystemTime {
        let settled = tick + self.wait;
        let after_own = landed.map_or(settled, |landed| landed + MIN_SETTLE);
        settled.max(after_own).min(tick + self.cap)
    }

    /// Learns from a read whether a flush had landed after the one before.
    pub fn learn(&mut self, found_late: bool) {
        self.wait = if found_late {
            (self.wait * 2).min(self.cap)
        } else {
            self.wait - (self.wait - self.floor) / 32
        };
    }
}

/// Time from `now` to the next instant that is `offset` past a multiple of
/// `period`; never zero, at most `period`.
fn until_next(now: SystemTime, period: Duration, offset: Duration) -> Duration {
    let period_ns = period.as_nanos().max(1);
    let since_epoch = now
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let phase = (since_epoch + period_ns - offset.as_nanos() % period_ns) % period_ns;
    let wait = period_ns - phase;
    Duration::from_nanos(u64::try_from(wait).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn waits_until_the_next_multiple_plus_the_offset() {
        let second = Duration::from_secs(1);
        let ms = Duration::from_millis;
        assert_eq!(until_next(at(1_000_100), second, ms(0)), ms(900));
        assert_eq!(until_next(at(1_000_100), second, ms(250)), ms(150));
        assert_eq!(until_next(at(1_000_300), second, ms(250)), ms(950));
        assert_eq!(until_next(at(1_000_250), second, ms(250)), ms(1000));
        assert_eq!(until_next(at(1_000_000), second, ms(0)), ms(1000));
        assert_eq!(until_next(at(1_000_040), ms(100), ms(25)), ms(85));
    }

    #[test]
    fn an_offset_of_a_period_or_more_wraps() {
        let second = Duration::from_secs(1);
        let ms = Duration::from_millis;
        assert_eq!(
            until_next(at(1_000_100), second, ms(1250)),
            until_next(at(1_000_100), second, ms(250))
        );
    }

    #[test]
    fn an_interval_starts_at_the_last_multiple_of_its_period() {
        let second = Duration::from_secs(1);
        let ms = Duration::from_millis;
        assert_eq!(start_of(at(1_000_999), second), at(1_000_000));
        assert_eq!(start_of(at(1_000_000), second), at(1_000_000));
        assert_eq!(next_start(at(1_000_000), second), at(1_001_000));
        assert_eq!(next_start(at(1_000_999), second), at(1_001_000));
        assert_eq!(start_of(at(1_000_140), ms(100)), at(1_000_100));
        assert_eq!(next_start(at(1_000_140), ms(100)), at(1_000_200));
    }

    #[test]
    fn a_read_waits_a_twentieth_and_for_its_own_flush_within_a_quarter() {
        let settle = Settle::new(Duration::from_secs(1));
        let tick = at(1_000_000);
        assert_eq!(settle.read_at(tick, None), at(1_000_050));
        assert_eq!(settle.read_at(tick, Some(at(1_000_010))), at(1_000_050));
        assert_eq!(
            settle.read_at(tick, Some(at(1_000_100))),
            at(1_000_100) + MIN_SETTLE
        );
        assert_eq!(settle.read_at(tick, Some(at(1_000_400))), at(1_000_250));
    }

    #[test]
    fn late_flushes_double_the_wait_up_to_a_quarter_and_it_eases_back() {
        let ms = Duration::from_millis;
        let mut settle = Settle::new(Duration::from_secs(1));
        settle.learn(true);
        assert_eq!(settle.wait(), ms(100));
        settle.learn(true);
        settle.learn(true);
        assert_eq!(settle.wait(), ms(250), "never past a quarter");
        settle.learn(false);
        assert!(settle.wait() < ms(250) && settle.wait() > ms(240));
        for _ in 0..1_000 {
            settle.learn(false);
        }
        assert!(settle.wait() >= ms(50) && settle.wait() < ms(51));
    }
}
