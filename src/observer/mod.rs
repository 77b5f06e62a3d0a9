//! The observer: every interval it reads all servers' buckets and audience
//! reports over the sliding window from the `LikeStore` (with the per-talk
//! totals once per window length, in the same snapshot), feeds them to the
//! pure `Window`, and publishes each talk's new total and audience to the
//! `Listener`. It never writes.

mod window;

pub use window::{Change, Window};

use crate::clock::Clock;
use crate::freshness::Freshness;
use crate::listener::Listener;
use crate::model::ServerId;
use crate::schedule;
use crate::store::{LikeStore, StoreError};
use crate::telemetry as names;
use std::sync::Arc;
use std::time::Duration;
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
        let per_window = settings.window.as_secs_f64() / settings.interval.as_secs_f64().max(1e-3);
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
        }
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
        Ok(changes)
    }

    /// Reads at once, then every interval, a quarter of an interval after
    /// the replicas' flushes (see `schedule`), until `shutdown` is cancelled.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let interval = self.settings.interval;
        let mut ticks = schedule::aligned(&self.clock, interval, interval / 4);
        let mut failing = false;
        loop {
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
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
        }
    }
}
