//! The wall clock the storer and the observer read: bucket seconds, window
//! ends and the phase of their ticks. In service it is the system clock,
//! which every replica shares. A clock that starts at a given wall time and
//! then moves with tokio's clock lets a test pause time and advance it
//! (`tokio::time::pause`), ticks, timeouts and seconds alike.

use crate::model::Second;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// Where the wall time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// `wall` at tokio's instant `at`, then moving with tokio's clock.
    Following {
        /// The wall time at `at`.
        wall: SystemTime,
        /// The tokio instant it was read at.
        at: Instant,
    },
}

impl Clock {
    /// A clock that reads `wall` now and then moves with tokio's clock:
    /// when tokio's time is paused, it stands still or jumps with it.
    pub fn starting_at(wall: SystemTime) -> Self {
        Self::Following {
            wall,
            at: Instant::now(),
        }
    }

    /// The wall time now.
    pub fn now(&self) -> SystemTime {
        match self {
            Self::System => SystemTime::now(),
            Self::Following { wall, at } => *wall + at.elapsed(),
        }
    }

    /// Time from now until the wall time `at`; zero once it has passed.
    pub fn until(&self, at: SystemTime) -> Duration {
        at.duration_since(self.now()).unwrap_or_default()
    }

    /// The whole seconds since the Unix epoch now.
    pub fn second(&self) -> Second {
        let since_epoch = self.now().duration_since(UNIX_EPOCH);
        let seconds = since_epoch.unwrap_or(Duration::ZERO).as_secs();
        Second::try_from(seconds).unwrap_or(Second::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_clock_started_at_a_wall_time_moves_with_paused_time() {
        let start = UNIX_EPOCH + Duration::from_millis(1_790_000_000_900);
        let clock = Clock::starting_at(start);
        assert_eq!(clock.second(), 1_790_000_000);
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(clock.second(), 1_790_000_001);
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert_eq!(clock.now(), start + Duration::from_millis(3_600_100));
    }
}
