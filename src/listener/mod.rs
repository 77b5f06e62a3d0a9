//! The listener: per-talk fan-out of published counts to subscribers. It
//! owns one `watch` channel per catalogue talk holding the talk's total and
//! its audience (subscribers over all replicas); a subscriber keeps the last
//! total it reported and turns each newer total into a delta. A slow
//! subscriber therefore gets one merged delta, never a dropped one, and
//! costs one receiver however far behind it is. A subscriber may resume
//! from a total it saw before: its first delta then covers the gap. The
//! listener's receivers are also this replica's audience, which the storer
//! reports with its flushes. It does not read the store.
//!
//! Beside each published total it keeps this replica's own likes the total
//! does not hold yet (`own`), told by the storer: every reader on this
//! replica, query or subscriber, counts every like it acknowledged.

mod own;

use crate::model::TalkId;
use chrono::{DateTime, Utc};
use own::{Own, Unstored};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Per-talk published totals, shared by the observer (writer) and the
/// GraphQL layer (readers). Cheap to clone.
#[derive(Clone)]
pub struct Listener {
    /// One channel per talk, held here for the process's life.
    talks: Arc<HashMap<TalkId, Talk>>,
    /// When the observer last read the store (set by the observer, read by
    /// `/metrics`); until then, when the listener was made.
    read_at: Arc<Mutex<Instant>>,
}

/// One talk's channel, and its likes acknowledged and not yet stored.
struct Talk {
    /// Its count is `None` until the observer's first read sets the
    /// starting totals. Receivers belong to subscriptions and are dropped
    /// when they end.
    sender: watch::Sender<Count>,
    /// Shared with the talk's subscriptions, which read it with the count.
    unstored: Arc<Unstored>,
}

/// What one talk's channel holds: the published count, and this replica's
/// stored likes it does not hold yet. Only a published change wakes
/// subscribers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Count {
    published: Option<Published>,
    own: Own,
}

impl Count {
    /// The published count with the total as this replica's readers see
    /// it: with every like this replica acknowledged that it lacks
    /// (`unstored` of them not stored yet), read under the channel's lock.
    fn read(&self, unstored: &Unstored) -> Option<Published> {
        self.published.map(|published| Published {
            total: published.total + self.own.unseen(unstored.get()),
            ..published
        })
    }
}

/// A talk's published count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Published {
    /// The first total published: the starting point of subscriptions made
    /// before it was known.
    start: u64,
    /// The latest total.
    total: u64,
    /// Subscribers of the talk over all replicas, as last read.
    watching: u64,
    /// When the latest total or audience was published.
    at: PublishedAt,
}

/// When a total was published, as RFC 3339 text (UTC, microseconds),
/// written once: every subscriber of the talk sends the same text, and
/// thousands of them must not each format it again.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublishedAt {
    text: [u8; Self::MAX_TEXT],
    len: u8,
}

impl PublishedAt {
    /// Longest text: chrono's years end at ±262,143, as
    /// `+262143-12-31T23:59:59.999999Z`.
    const MAX_TEXT: usize = 32;

    fn of(time: DateTime<Utc>) -> Self {
        let formatted = time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let mut text = [0; Self::MAX_TEXT];
        let len = formatted.len().min(Self::MAX_TEXT);
        text[..len].copy_from_slice(&formatted.as_bytes()[..len]);
        Self {
            text,
            len: len as u8,
        }
    }

    pub fn now() -> Self {
        Self::of(Utc::now())
    }

    /// The time as RFC 3339 text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::fmt::Debug for PublishedAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An increase of a talk's count (or a change of its audience), as a
/// subscriber sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delta {
    /// Likes since this subscriber's previous delta (or since it subscribed,
    /// or since the total it resumed from).
    pub likes: u64,
    /// The talk's total over all servers.
    pub total: u64,
    /// Subscribers of the talk over all replicas.
    pub watching: u64,
    /// When this replica published that total.
    pub published_at: PublishedAt,
}

/// What a subscriber wants to hear besides growth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Interest {
    /// Resume from this total: the first delta comes as soon as the talk's
    /// total is at least this much (at once, if it already is), with the
    /// growth since it, even zero.
    pub since: Option<u64>,
    /// Also a delta (with no likes) when only the audience changed.
    pub audience: bool,
}

/// One subscriber's view of one talk.
pub struct Subscription {
    totals: watch::Receiver<Count>,
    unstored: Arc<Unstored>,
    /// The total this subscriber last reported (or started from).
    last: Option<u64>,
    /// The audience this subscriber last reported (or saw on subscribing).
    watching: Option<u64>,
    interest: Interest,
}

impl Listener {
    /// A listener for these talks, with no totals published yet.
    pub fn new(talks: impl IntoIterator<Item = TalkId>) -> Self {
        let talks = talks
            .into_iter()
            .map(|talk| {
                let channel = Talk {
                    sender: watch::Sender::new(Count::default()),
                    unstored: Arc::default(),
                };
                (talk, channel)
            })
            .collect();
        Self {
            talks: Arc::new(talks),
            read_at: Arc::new(Mutex::new(Instant::now())),
        }
    }

    /// Records that the published totals are as of a store read made now.
    pub fn mark_read(&self) {
        *self.read_at.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    /// How old the published totals are: the time since the observer's last
    /// successful read (or since start, before the first).
    pub fn staleness(&self) -> Duration {
        self.read_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed()
    }

    /// Publishes a talk's new total, which holds `own` of this replica's
    /// running total of the talk; ignored for talks outside the catalogue.
    pub fn publish(&self, talk: TalkId, total: u64, own: u64) {
        if let Some(Talk { sender, .. }) = self.talks.get(&talk) {
            sender.send_if_modified(|current| {
                current.own.published(own);
                match &mut current.published {
                    Some(published) if published.total == total => false,
                    Some(published) => {
                        published.total = total;
                        published.at = PublishedAt::now();
                        true
                    }
                    None => {
                        current.published = Some(Published {
                            start: total,
                            total,
                            watching: 0,
                            at: PublishedAt::now(),
                        });
                        true
                    }
                }
            });
        }
    }

    /// Sets every talk's starting total, and how much of this replica's
    /// running total it holds (absent talks: zero).
    pub fn seed(&self, totals: &HashMap<TalkId, u64>, own: &HashMap<TalkId, u64>) {
        for (talk, Talk { sender, .. }) in self.talks.iter() {
            let at = |counts: &HashMap<TalkId, u64>| counts.get(talk).copied().unwrap_or(0);
            sender.send_if_modified(|current| {
                current.own.seed(at(own));
                false
            });
            self.publish(*talk, at(totals), at(own));
        }
    }

    /// Whether the observer's first read has set the starting totals.
    pub fn seeded(&self) -> bool {
        self.talks
            .values()
            .next()
            .is_none_or(|talk| talk.sender.borrow().published.is_some())
    }

    /// A like of `talk` was acknowledged before being stored: this
    /// replica's readers count it from now on. Wakes no subscriber and
    /// takes no lock: one atomic add.
    pub fn acknowledged(&self, talk: TalkId) {
        if let Some(channel) = self.talks.get(&talk) {
            channel.unstored.acknowledged();
        }
    }

    /// A flush committed likes of `talk`: `acknowledged` of them had been
    /// acknowledged already, and the store holds `running_total` of this
    /// replica's likes of the talk. Wakes no subscriber: the next
    /// publication carries them.
    pub fn stored(&self, talk: TalkId, acknowledged: u64, running_total: u64) {
        if let Some(Talk { sender, unstored }) = self.talks.get(&talk) {
            sender.send_if_modified(|current| {
                // Both under the lock readers read them under.
                unstored.stored(acknowledged);
                current.own.stored(running_total);
                false
            });
        }
    }

    /// Publishes every talk's audience over all replicas (absent talks have
    /// none); ignored until the totals are seeded.
    pub fn publish_audience(&self, watching: &HashMap<TalkId, u64>) {
        for (talk, Talk { sender, .. }) in self.talks.iter() {
            let count = watching.get(talk).copied().unwrap_or(0);
            sender.send_if_modified(|current| match &mut current.published {
                Some(published) if published.watching != count => {
                    published.watching = count;
                    published.at = PublishedAt::now();
                    true
                }
                _ => false,
            });
        }
    }

    /// The talk's total as this replica's readers see it, once the observer
    /// has read the store: the published total and every like this replica
    /// acknowledged that it does not hold yet.
    pub fn total(&self, talk: TalkId) -> Option<u64> {
        let channel = self.talks.get(&talk)?;
        let count = channel.sender.borrow().read(&channel.unstored);
        count.map(|published| published.total)
    }

    /// The talk's published audience over all replicas, once the observer
    /// has read the store.
    pub fn watching(&self, talk: TalkId) -> Option<u64> {
        self.published(talk).map(|published| published.watching)
    }

    fn published(&self, talk: TalkId) -> Option<Published> {
        self.talks
            .get(&talk)
            .and_then(|channel| channel.sender.borrow().published)
    }

    /// Subscribes to a talk; `None` if the catalogue does not have it.
    pub fn subscribe(&self, talk: TalkId, interest: Interest) -> Option<Subscription> {
        let channel = self.talks.get(&talk)?;
        let mut totals = channel.sender.subscribe();
        let now = totals.borrow_and_update().read(&channel.unstored);
        Some(Subscription {
            totals,
            unstored: channel.unstored.clone(),
            last: now.map(|published| published.total),
            watching: now.map(|published| published.watching),
            interest,
        })
    }

    /// This replica's subscribers per talk, for the talks that have some.
    pub fn audience(&self) -> Vec<(TalkId, u64)> {
        let mut audience: Vec<_> = self
            .talks
            .iter()
            .map(|(talk, channel)| (*talk, channel.sender.receiver_count() as u64))
            .filter(|(_, count)| *count > 0)
            .collect();
        audience.sort_unstable();
        audience
    }

    /// Live subscriptions over all talks.
    pub fn all_subscribers(&self) -> usize {
        let counts = self.talks.values().map(|talk| talk.sender.receiver_count());
        counts.sum()
    }

    /// Live subscriptions to a talk.
    pub fn subscribers(&self, talk: TalkId) -> usize {
        self.talks
            .get(&talk)
            .map_or(0, |channel| channel.sender.receiver_count())
    }
}

impl Subscription {
    /// Waits for the talk's total to grow (or its audience to change, if of
    /// interest) and returns the growth since the previous delta, merging
    /// any number of publications. A resumed subscription's first delta is
    /// the growth since the total it resumed from. `None` once the listener
    /// is gone.
    pub async fn next(&mut self) -> Option<Delta> {
        loop {
            if let Some(since) = self.interest.since {
                let now = self.totals.borrow_and_update().read(&self.unstored);
                if let Some(published) = now
                    && published.total >= since
                {
                    self.interest.since = None;
                    return Some(self.report(published, since));
                }
                self.totals.changed().await.ok()?;
                continue;
            }
            self.totals.changed().await.ok()?;
            let Some(published) = self.totals.borrow_and_update().read(&self.unstored) else {
                continue;
            };
            let before = self.last.unwrap_or(published.start);
            let heard = self.interest.audience && self.watching != Some(published.watching);
            if published.total > before || heard {
                return Some(self.report(published, before));
            }
            self.last = Some(published.total.max(before));
        }
    }

    /// The delta from `before` to `published`, now reported.
    fn report(&mut self, published: Published, before: u64) -> Delta {
        self.last = Some(published.total);
        self.watching = Some(published.watching);
        Delta {
            likes: published.total.saturating_sub(before),
            total: published.total,
            watching: published.watching,
            published_at: published.at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::SubsecRound;
    use std::time::Duration;

    /// The next delta's likes and total, if one comes within 50 ms.
    async fn next_soon(sub: &mut Subscription) -> Option<(u64, u64)> {
        tokio::time::timeout(Duration::from_millis(50), sub.next())
            .await
            .ok()
            .flatten()
            .map(|delta| (delta.likes, delta.total))
    }

    #[tokio::test]
    async fn this_replicas_readers_count_its_likes_before_the_observer_does() {
        let listener = Listener::new([TalkId(1)]);
        listener.seed(
            &HashMap::from([(TalkId(1), 40)]),
            &HashMap::from([(TalkId(1), 10)]),
        );
        let mut sub = listener.subscribe(TalkId(1), Interest::default()).unwrap();
        listener.acknowledged(TalkId(1));
        listener.acknowledged(TalkId(1));
        assert_eq!(listener.total(TalkId(1)), Some(42));
        assert_eq!(
            next_soon(&mut sub).await,
            None,
            "an acknowledgement wakes no one"
        );
        listener.stored(TalkId(1), 2, 12);
        // Another replica's like and both of these in one read.
        listener.publish(TalkId(1), 43, 12);
        assert_eq!(next_soon(&mut sub).await, Some((3, 43)));
        assert_eq!(listener.total(TalkId(1)), Some(43));
        listener.acknowledged(TalkId(1));
        listener.publish_audience(&HashMap::from([(TalkId(1), 1)]));
        let mut late = listener.subscribe(TalkId(1), Interest::default()).unwrap();
        listener.publish(TalkId(1), 44, 12);
        assert_eq!(
            next_soon(&mut late).await,
            Some((1, 45)),
            "its own like was counted"
        );
    }

    #[tokio::test]
    async fn a_slow_subscriber_gets_one_merged_delta() {
        let listener = Listener::new([TalkId(1)]);
        listener.seed(&HashMap::new(), &HashMap::new());
        let mut sub = listener.subscribe(TalkId(1), Interest::default()).unwrap();
        for total in 1..=100 {
            listener.publish(TalkId(1), total, 0);
        }
        assert_eq!(next_soon(&mut sub).await, Some((100, 100)));
        assert_eq!(next_soon(&mut sub).await, None);
    }

    #[tokio::test]
    async fn the_first_totals_are_a_starting_point_not_a_delta() {
        let listener = Listener::new([TalkId(1)]);
        let mut sub = listener.subscribe(TalkId(1), Interest::default()).unwrap();
        listener.seed(&HashMap::from([(TalkId(1), 40)]), &HashMap::new());
        assert_eq!(next_soon(&mut sub).await, None);
        listener.publish(TalkId(1), 42, 0);
        assert_eq!(next_soon(&mut sub).await, Some((2, 42)));
    }

    #[tokio::test]
    async fn a_subscriber_from_before_the_first_totals_misses_no_growth() {
        let listener = Listener::new([TalkId(1)]);
        let mut sub = listener.subscribe(TalkId(1), Interest::default()).unwrap();
        listener.seed(&HashMap::from([(TalkId(1), 40)]), &HashMap::new());
        listener.publish(TalkId(1), 43, 0);
        assert_eq!(next_soon(&mut sub).await, Some((3, 43)));
    }

    #[tokio::test]
    async fn a_delta_says_when_its_total_was_published() {
        let listener = Listener::new([TalkId(1)]);
        listener.seed(&HashMap::new(), &HashMap::new());
        let mut sub = listener.subscribe(TalkId(1), Interest::default()).unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let before = Utc::now();
        listener.publish(TalkId(1), 1, 0);
        let after = Utc::now();
        let delta = sub.next().await.unwrap();
        let text = delta.published_at.as_str();
        let published = DateTime::parse_from_rfc3339(text).unwrap();
        assert!((before.trunc_subsecs(6)..=after).contains(&published));
        assert!(text.ends_with('Z') && text.len() == 27, "{text}");
    }

    #[test]
    fn a_publication_time_keeps_its_whole_text_at_the_ends_of_time() {
        for time in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
            let text = time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
            assert_eq!(PublishedAt::of(time).as_str(), text);
        }
    }

    #[tokio::test]
    async fn subscribers_of_other_talks_hear_nothing() {
        let listener = Listener::new([TalkId(1), TalkId(2)]);
        listener.seed(&HashMap::new(), &HashMap::new());
        let mut other = listener.subscribe(TalkId(2), Interest::default()).unwrap();
        listener.publish(TalkId(1), 5, 0);
        assert_eq!(next_soon(&mut other).await, None);
        assert!(listener.subscribe(TalkId(3), Interest::default()).is_none());
    }

    #[tokio::test]
    async fn a_resumed_subscription_hears_the_gap_at_once() {
        let listener = Listener::new([TalkId(1)]);
        listener.seed(&HashMap::from([(TalkId(1), 40)]), &HashMap::new());
        let resume = |since| Interest {
            since: Some(since),
            audience: false,
        };
        let mut behind = listener.subscribe(TalkId(1), resume(33)).unwrap();
        assert_eq!(next_soon(&mut behind).await, Some((7, 40)));
        let mut level = listener.subscribe(TalkId(1), resume(40)).unwrap();
        assert_eq!(next_soon(&mut level).await, Some((0, 40)));
        listener.publish(TalkId(1), 45, 0);
        assert_eq!(next_soon(&mut behind).await, Some((5, 45)));
        assert_eq!(next_soon(&mut level).await, Some((5, 45)));
    }

    #[tokio::test]
    async fn a_subscription_resumed_ahead_waits_for_this_replica_to_catch_up() {
        let listener = Listener::new([TalkId(1)]);
        let mut ahead = listener
            .subscribe(
                TalkId(1),
                Interest {
                    since: Some(50),
                    audience: false,
                },
            )
            .unwrap();
        assert_eq!(next_soon(&mut ahead).await, None, "nothing read yet");
        listener.seed(&HashMap::from([(TalkId(1), 48)]), &HashMap::new());
        assert_eq!(next_soon(&mut ahead).await, None, "behind the client");
        listener.publish(TalkId(1), 52, 0);
        assert_eq!(next_soon(&mut ahead).await, Some((2, 52)));
        listener.publish(TalkId(1), 53, 0);
        assert_eq!(next_soon(&mut ahead).await, Some((1, 53)));
    }

    #[tokio::test]
    async fn only_subscribers_who_ask_hear_the_audience_change() {
        let listener = Listener::new([TalkId(1), TalkId(2)]);
        listener.seed(&HashMap::new(), &HashMap::new());
        let watching = Interest {
            since: None,
            audience: true,
        };
        let mut curious = listener.subscribe(TalkId(1), watching).unwrap();
        let mut plain = listener.subscribe(TalkId(1), Interest::default()).unwrap();
        listener.publish_audience(&HashMap::from([(TalkId(1), 2)]));
        let delta = tokio::time::timeout(Duration::from_millis(50), curious.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!((delta.likes, delta.total, delta.watching), (0, 0, 2));
        assert_eq!(next_soon(&mut plain).await, None);
        listener.publish(TalkId(1), 3, 0);
        let delta = plain.next().await.unwrap();
        assert_eq!((delta.likes, delta.watching), (3, 2));
        assert_eq!(listener.watching(TalkId(1)), Some(2));
        assert_eq!(listener.watching(TalkId(2)), Some(0));
    }

    #[test]
    fn the_audience_is_the_talks_with_receivers() {
        let listener = Listener::new([TalkId(1), TalkId(2), TalkId(3)]);
        let _a = listener.subscribe(TalkId(3), Interest::default()).unwrap();
        let _b = listener.subscribe(TalkId(3), Interest::default()).unwrap();
        let _c = listener.subscribe(TalkId(1), Interest::default()).unwrap();
        assert_eq!(listener.audience(), vec![(TalkId(1), 1), (TalkId(3), 2)]);
    }

    #[test]
    fn an_ended_subscription_frees_its_receiver() {
        let listener = Listener::new([TalkId(1)]);
        let sub = listener.subscribe(TalkId(1), Interest::default()).unwrap();
        assert_eq!(listener.subscribers(TalkId(1)), 1);
        drop(sub);
        assert_eq!(listener.subscribers(TalkId(1)), 0);
    }
}
