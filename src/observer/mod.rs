//! The observer: every interval it reads all servers' buckets and audience
//! reports over the sliding window from the `LikeStore` (with the per-talk
//! totals once per window length, and the recent timeline slots, in the
//! same snapshot), feeds them to the pure `Window`, and publishes each
//! talk's new total and audience to the `Listener` and its slots to the
//! `Timelines`. It never writes.

mod window;

pub use window::{Change, Window};

use crate::clock::Clock;
use crate::freshness::Freshness;
use crate::listener::Listener;
use crate::model::ServerId;
use crate::schedule;
use crate::store::{LikeStore, StoreError};
use crate::telemetry as names;
use crate::timeline::Timelines;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// How the observer reads.
#[derive(Debug, Clone)]
pub struct ObserveSettings {
    /// Time between reads.
    pub interval: Duration,
    /// How far back each read looks; must cover every late flush.
    pub window: Duration,
}

/// Reads the store and publishes growth; owned by its task.
pub struct Observer {
    store: Arc<dyn LikeStore>,
    listener: Listener,
    settings: ObserveSettings,
    window: Window,
    /// The replica this observer runs in.
    server: ServerId,
    /// Reads done so far; every `reconcile_every`-th also reads the totals.
    reads: u64,
    reconcile_every: u64,
    /// Where published growth of this replica's own likes is measured
    /// (ack→push); the storer notes its flushes there.
    freshness: Option<Freshness>,
    /// What the window's end and the ticks' phase are read from.
    clock: Clock,
    /// The talks' timelines, kept from each read when set.
    timelines: Option<Timelines>,
    /// Every this many reads, talks that held likes without timeline
    /// slots are read whole again (about once a minute).
    recheck_every: u64,
    /// The start of the last tick this replica's storer has finished
    /// writing; the storer holds the sender for its life.
    landed: Option<watch::Receiver<SystemTime>>,
}

impl Observer {
    /// An observer of `server` publishing to `listener`: with each total,
    /// how much of `server`'s own likes it holds.
    pub fn new(
        store: Arc<dyn LikeStore>,
        listener: Listener,
        server: ServerId,
        settings: ObserveSettings,
    ) -> Self {
        let interval = settings.interval.as_secs_f64().max(1e-3);
        let per_window = settings.window.as_secs_f64() / interval;
        Self {
            store,
            listener,
            reconcile_every: (per_window.floor() as u64).max(1),
            settings,
            window: Window::for_server(server.clone()),
            server,
            reads: 0,
            freshness: None,
            clock: Clock::System,
            timelines: None,
            recheck_every: (60.0 / interval).ceil().max(1.0) as u64,
            landed: None,
        }
    }

    /// Also keeps these timelines: whole at the first read, then from each
    /// read's recent slots; a talk whose slots fall short of its published
    /// total (likes that reached the store long after they were made) is
    /// read whole again, in one more read for all such talks.
    pub fn keeping(mut self, timelines: Timelines) -> Self {
        self.timelines = Some(timelines);
        self
    }

    /// Reads the window's end and the ticks' phase from `clock` (the
    /// system clock by default).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Also measures the ack→push delay of its server's likes, noted by
    /// its storer in `freshness`.
    pub fn measuring(mut self, freshness: Freshness) -> Self {
        self.freshness = Some(freshness);
        self
    }

    /// Reads just after this replica's flushes land, as announced by its
    /// storer's `landed`, instead of only at the schedule's fallback.
    pub fn following(mut self, landed: watch::Receiver<SystemTime>) -> Self {
        self.landed = Some(landed);
        self
    }

    /// One read: applies it to the window and publishes what changed.
    pub async fn observe(&mut self) -> Result<Vec<Change>, StoreError> {
        let now = self.clock.second();
        let since = self.window.since(now, self.settings.window.as_secs());
        let with_totals =
            !self.window.is_seeded() || self.reads.is_multiple_of(self.reconcile_every);
        metrics::counter!(names::STORE_READS).increment(1);
        let read = self
            .store
            .observe(since, with_totals, &self.server)
            .instrument(tracing::info_span!("observe", with_totals));
        let started = std::time::Instant::now();
        let observation =
            tokio::time::timeout(self.settings.interval.max(Duration::from_secs(1)), read)
                .await
                .map_err(|_| StoreError::Timeout)??;
        metrics::histogram!(names::OBSERVE_SECONDS).record(started.elapsed());
        metrics::counter!(names::STORE_ROWS_READ).increment(observation.rows());
        self.listener.mark_read();
        self.reads += 1;
        let was_seeded = self.window.is_seeded();
        let changes = self.window.apply(since, &observation);
        if !was_seeded && self.window.is_seeded() {
            self.listener
                .seed(self.window.totals(), self.window.own_totals());
        }
        self.listener
            .publish_audience(&self.window.audience(&observation));
        for change in &changes {
            if change.late > 0 {
                tracing::warn!(talk = %change.talk, late = change.late,
                    "likes found only through the totals: a flush landed after the window");
            }
            self.listener.publish(change.talk, change.total, change.own);
        }
        if let Some(freshness) = &self.freshness {
            let late = changes.iter().map(|change| (change.talk, change.late));
            freshness.published(
                self.window.own_growth(),
                late,
                self.window.lower_bound(),
                observation.totals.is_some(),
            );
        }
        if let Some(timelines) = &self.timelines {
            timelines.apply(&observation.slots);
            self.complete(timelines).await;
        }
        Ok(changes)
    }

    /// Reads whole the timelines that need it: every talk's until they are
    /// loaded, then those of talks that fall short of their published
    /// total, and about once a minute those that held likes without slots.
    /// A failure leaves them for the next tick.
    async fn complete(&self, timelines: &Timelines) {
        let talks = if timelines.is_loaded() {
            let mut talks = timelines.short_of(self.window.totals());
            if self.reads.is_multiple_of(self.recheck_every) {
                talks.extend(timelines.unslotted());
                talks.sort_unstable();
                talks.dedup();
            }
            talks
        } else {
            timelines.talks()
        };
        if talks.is_empty() {
            return;
        }
        metrics::counter!(names::STORE_READS).increment(1);
        let read = self
            .store
            .timelines(&talks)
            .instrument(tracing::info_span!("timelines", talks = talks.len()));
        let limit = self.settings.interval.max(Duration::from_secs(1));
        match tokio::time::timeout(limit, read).await {
            Ok(Ok(slots)) => timelines.apply_whole(&talks, &slots, self.window.totals()),
            Ok(Err(error)) => tracing::warn!(%error, "reading timelines failed; next tick retries"),
            Err(_) => tracing::warn!("reading timelines timed out; next tick retries"),
        }
    }

    /// Reads at once, then once an interval: once this replica's flush of
    /// the interval has landed (announced by its storer, see `following`)
    /// and the wait `schedule::Settle` learns from the reads has passed,
    /// and a quarter into the interval at the latest, until `shutdown` is
    /// cancelled.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let interval = self.settings.interval;
        let mut settle = schedule::Settle::new(interval);
        let mut landed = self.landed.take();
        let mut failing = false;
        loop {
            let started = schedule::start_of(self.clock.now(), interval);
            match self.observe().await {
                Ok(_) if failing => {
                    failing = false;
                    tracing::info!("observer reads the store again");
                }
                Ok(_) => {}
                Err(error) => {
                    if !failing {
                        tracing::warn!(%error, "observer read failed; counters pause until the store answers");
                    }
                    failing = true;
                }
            }
            let second = started
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| since.as_secs());
            let found_late = self
                .window
                .oldest_growth()
                .is_some_and(|oldest| u64::try_from(oldest).is_ok_and(|oldest| oldest < second));
            settle.learn(found_late);

            let next = schedule::next_start(self.clock.now(), interval);
            let landed_at = tokio::select! {
                biased;
                _ = shutdown.cancelled() => return,
                landed_at = landed_from(&mut landed, next, self.clock) => Some(landed_at),
                _ = tokio::time::sleep(self.clock.until(next + settle.cap())) => None,
            };
            let read_at = settle.read_at(next, landed_at);
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.clock.until(read_at)) => {}
            }
        }
    }
}

/// Waits until `landed` announces a tick at or after `since`, and returns
/// when that was on `clock`; forever without a storer to follow.
async fn landed_from(
    landed: &mut Option<watch::Receiver<SystemTime>>,
    since: SystemTime,
    clock: Clock,
) -> SystemTime {
    if let Some(receiver) = landed
        && receiver.wait_for(|tick| *tick >= since).await.is_ok()
    {
        return clock.now();
    }
    std::future::pending().await
}
