//! Like rates per liker (`uuid`) and per client address, on `governor`'s
//! keyed GCRA limiters. A rate such as `20/s` allows a burst of 20 and then
//! one like every 50 ms. Idle keys are forgotten by `run`, so a flood of
//! fresh liker ids costs memory only while it lasts.

use super::client::network_of;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A configured rate: `N/s`, `N/min`, `N/h`, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Likes allowed per `per`; `None` when unlimited.
    count: Option<NonZeroU32>,
    per: Duration,
}

impl Rate {
    /// No limit.
    pub const OFF: Rate = Rate {
        count: None,
        per: Duration::from_secs(1),
    };

    /// `count` likes per second, with a burst of `count`.
    pub fn per_second(count: u32) -> Self {
        Self {
            count: NonZeroU32::new(count),
            per: Duration::from_secs(1),
        }
    }

    /// A limiter for one holder of this rate, such as a connection, that
    /// says how long to wait when it refuses; `None` when off.
    pub fn limiter(&self) -> Option<Limiter> {
        self.quota().map(|quota| Limiter {
            limiter: DefaultDirectRateLimiter::direct(quota),
            clock: DefaultClock::default(),
        })
    }

    fn quota(&self) -> Option<Quota> {
        let count = self.count?;
        let period = self.per / count.get();
        Some(Quota::with_period(period.max(Duration::from_nanos(1)))?.allow_burst(count))
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(Self::OFF);
        }
        let bad = || format!("{text:?} is not a rate like 20/s, 600/min or off");
        let (count, unit) = text.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let per = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        let count = NonZeroU32::new(count)
            .ok_or_else(|| format!("{text:?}: a rate must allow at least 1 (or be off)"))?;
        Ok(Self {
            count: Some(count),
            per,
        })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.count {
            None => f.write_str("off"),
            Some(count) => match self.per.as_secs() {
                60 => write!(f, "{count}/min"),
                3600 => write!(f, "{count}/h"),
                _ => write!(f, "{count}/s"),
            },
        }
    }
}

/// One holder's allowance under a `Rate`.
pub struct Limiter {
    limiter: DefaultDirectRateLimiter,
    clock: DefaultClock,
}

impl Limiter {
    /// Takes one from the allowance, or says how long until there is one.
    pub fn check(&self) -> Result<(), Duration> {
        self.limiter
            .check()
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// Which limit refused a like, and when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// This liker sent too many likes.
    Liker {
        /// Wait at least this long.
        retry_after: Duration,
    },
    /// This client address sent too many likes.
    Address {
        /// Wait at least this long.
        retry_after: Duration,
    },
}

/// The per-liker and per-address limiters of one process.
pub struct RateLimits {
    per_liker: Option<DefaultKeyedRateLimiter<String>>,
    per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    clock: DefaultClock,
}

/// How often idle keys are forgotten.
const FORGET_EVERY: Duration = Duration::from_secs(30);

impl RateLimits {
    /// Limiters for these rates (`Rate::OFF` disables one).
    pub fn new(per_liker: Rate, per_address: Rate) -> Self {
        Self {
            per_liker: per_liker.quota().map(DefaultKeyedRateLimiter::keyed),
            per_address: per_address.quota().map(DefaultKeyedRateLimiter::keyed),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one like from the address's and the liker's allowance, or says
    /// which is spent. The address is checked first, so a flood of fresh
    /// liker ids from one address is stopped before it costs a key each.
    pub fn check(&self, liker: &str, address: Option<IpAddr>) -> Result<(), Limited> {
        if let (Some(limiter), Some(address)) = (&self.per_address, address) {
            limiter
                .check_key(&network_of(address))
                .map_err(|not_until| Limited::Address {
                    retry_after: not_until.wait_time_from(self.clock.now()),
                })?;
        }
        if let Some(limiter) = &self.per_liker {
            limiter
                .check_key(&liker.to_owned())
                .map_err(|not_until| Limited::Liker {
                    retry_after: not_until.wait_time_from(self.clock.now()),
                })?;
        }
        Ok(())
    }

    /// Keys currently remembered (likers plus addresses).
    pub fn tracked(&self) -> usize {
        self.per_liker.as_ref().map_or(0, |l| l.len())
            + self.per_address.as_ref().map_or(0, |l| l.len())
    }

    /// Forgets keys whose allowance is full again; they behave as new.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.per_liker {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(limiter) = &self.per_address {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Forgets idle keys every 30 s until `shutdown` is cancelled.
    pub async fn run(self: std::sync::Arc<Self>, shutdown: CancellationToken) {
        let mut ticks = tokio::time::interval(FORGET_EVERY);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticks.tick() => self.forget_idle(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_print() {
        assert_eq!("20/s".parse::<Rate>().unwrap(), Rate::per_second(20));
        assert_eq!("600/min".parse::<Rate>().unwrap().to_string(), "600/min");
        assert_eq!("off".parse::<Rate>().unwrap(), Rate::OFF);
        assert_eq!(Rate::OFF.to_string(), "off");
        for bad in ["20", "0/s", "x/s", "20/fortnight", ""] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn a_liker_gets_its_burst_then_is_refused_and_others_are_not() {
        let limits = RateLimits::new(Rate::per_second(3), Rate::OFF);
        for _ in 0..3 {
            assert_eq!(limits.check("alice", None), Ok(()));
        }
        let Err(Limited::Liker { retry_after }) = limits.check("alice", None) else {
            panic!("the fourth like in a burst of three passed")
        };
        assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_millis(334));
        assert_eq!(limits.check("bob", None), Ok(()));
    }

    #[test]
    fn an_address_is_limited_across_likers() {
        let limits = RateLimits::new(Rate::OFF, Rate::per_second(2));
        let address: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(limits.check("a", Some(address)), Ok(()));
        assert_eq!(limits.check("b", Some(address)), Ok(()));
        assert!(matches!(
            limits.check("c", Some(address)),
            Err(Limited::Address { .. })
        ));
        assert_eq!(
            limits.check("c", Some("203.0.113.8".parse().unwrap())),
            Ok(())
        );
        assert_eq!(
            limits.check("c", None),
            Ok(()),
            "no address, no address limit"
        );
    }

    #[test]
    fn ipv6_addresses_of_one_network_share_a_limit() {
        let limits = RateLimits::new(Rate::OFF, Rate::per_second(1));
        let first: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let sibling: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let elsewhere: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(limits.check("a", Some(first)), Ok(()));
        assert!(limits.check("b", Some(sibling)).is_err());
        assert_eq!(limits.check("c", Some(elsewhere)), Ok(()));
    }

    #[test]
    fn one_holders_limiter_gives_its_burst_then_says_how_long_to_wait() {
        let limiter = "3/s".parse::<Rate>().unwrap().limiter().unwrap();
        for _ in 0..3 {
            assert_eq!(limiter.check(), Ok(()));
        }
        let wait = limiter.check().unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(334),
            "{wait:?}"
        );
        assert!(Rate::OFF.limiter().is_none());
    }

    #[test]
    fn ipv4_clients_of_a_dual_stack_listener_have_their_own_allowance() {
        let limits = RateLimits::new(Rate::OFF, Rate::per_second(1));
        let first: IpAddr = "::ffff:127.0.0.2".parse().unwrap();
        let second: IpAddr = "::ffff:127.0.0.3".parse().unwrap();
        assert!(limits.check("a", Some(first)).is_ok());
        assert!(limits.check("b", Some(first)).is_err());
        assert!(limits.check("c", Some(second)).is_ok());
    }

    #[test]
    fn off_limits_nothing_and_tracks_nothing() {
        let limits = RateLimits::new(Rate::OFF, Rate::OFF);
        for n in 0..1000 {
            assert_eq!(limits.check(&n.to_string(), None), Ok(()));
        }
        assert_eq!(limits.tracked(), 0);
    }
}
