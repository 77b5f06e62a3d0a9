//! Ticks aligned to the wall clock, so that every replica flushes at the
//! same instants and every observer reads a fixed time after them. A like
//! then waits at most one flush interval to be stored and, once stored, only
//! the observer's offset to be read, instead of up to a whole extra interval
//! when the two run at unrelated phases.

use crate::clock::Clock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::{Instant, Interval, MissedTickBehavior};

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
}
