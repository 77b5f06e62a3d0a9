//! The storer: `createLike` hands it likes, it buffers them in memory and a
//! task flushes the buffer to the `LikeStore` every interval. It owns retries
//! (per-try timeout, backoff, hard timeout per flush) and the shutdown drain;
//! it never drops an acknowledged like, and never runs two flushes at once.
//!
//! Each flush try writes this server's bucket for the second the try started
//! in, counting only the likes the store had not seen. A like's count thus
//! lands in the bucket of the flush that stored it: a late or skipped tick
//! moves counts to a later bucket and never strands them in a closed one.
//!
//! After each flush it also reports this replica's audience (`audience`
//! decides what is due); at shutdown it reports none, as the subscribers
//! leave.
//!
//! With `--ack stored` a like is answered only once a flush has stored it
//! (`acks`): a like waiting for its answer starts a flush after a short
//! linger, so every like waiting by then shares one commit (group commit).
//! At shutdown, waiters whose like could not be stored are told so.
//!
//! It tells the listener about this replica's own likes (each acknowledged,
//! and each flush's running totals read back), so this replica's readers
//! count them before the observer reads them; flushes then wait for the
//! observer's first read, which is their starting point.

mod acks;
mod audience;
mod buffer;

pub use acks::{NotStored, Pending, Receipt};
pub use audience::AudienceSource;
pub use buffer::{Accepted, Buffer, Refusal};

use crate::clock::Clock;
use crate::config::Ack;
use crate::freshness::Freshness;
use crate::listener::Listener;
use crate::model::{Like, ServerId, TalkId};
use crate::schedule;
use crate::store::{FlushBatch, FlushReport, LikeStore, StoreError};
use crate::telemetry as names;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Stored likes forgotten per hold of the buffer's lock after a flush.
const FORGET_CHUNK: usize = 256;

/// How the storer flushes.
#[derive(Debug, Clone)]
pub struct FlushSettings {
    /// Time between flushes.
    pub interval: Duration,
    /// Deadline of one try.
    pub try_timeout: Duration,
    /// Deadline of one flush over all its tries; unstored likes stay buffered.
    pub hard_timeout: Duration,
    /// Most likes written in one store transaction.
    pub max_batch: usize,
    /// Most likes held in memory (pending plus in flight).
    pub max_buffered: usize,
    /// Most bytes (estimated) held in memory.
    pub max_buffered_bytes: usize,
    /// How long the shutdown drain may keep trying.
    pub shutdown_grace: Duration,
}

/// When likes are answered (`--ack`), and how long an answer that waits
/// for its flush may take.
#[derive(Debug, Clone, Copy)]
pub struct AckSettings {
    /// Buffered or stored.
    pub ack: Ack,
    /// With `Ack::Stored`: the longest a like waits for its flush before
    /// its caller hears `NotStored::Late`.
    pub timeout: Duration,
    /// With `Ack::Stored`: how long a like waiting for its answer may wait
    /// before a flush starts.
    pub linger: Duration,
}

impl Default for AckSettings {
    fn default() -> Self {
        Self {
            ack: Ack::Buffered,
            timeout: Duration::from_secs(5),
            linger: Duration::from_millis(10),
        }
    }
}

/// The result of one flush step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlushOutcome {
    /// Likes newly stored.
    pub stored: u64,
    /// Likes the store already had.
    pub duplicates: u64,
    /// Likes still buffered because the store failed past the hard timeout.
    pub left: usize,
}

/// Handle to the buffer and its flusher. Clones share one buffer.
#[derive(Clone)]
pub struct Storer {
    shared: Arc<Shared>,
}

struct Shared {
    buffer: Mutex<Buffer>,
    store: Arc<dyn LikeStore>,
    server: ServerId,
    settings: FlushSettings,
    /// Set when a flush try fails, cleared when one succeeds.
    failing: AtomicBool,
    /// Where stored batches are noted for the ack→push delay; the observer
    /// holds the other side.
    freshness: Freshness,
    /// What is reported as this replica's audience, if anything.
    audience: Option<audience::Audience>,
    /// Where this replica's own likes are counted for its readers, if
    /// anywhere.
    listener: Option<Listener>,
    /// When likes are answered.
    acks: AckSettings,
    /// Callers waiting for their like's flush (`--ack stored`); locked
    /// after `buffer` when both are held.
    waiting: Mutex<acks::Waiting>,
    /// Woken when a like starts waiting for its flush; the flush task
    /// listens.
    due: tokio::sync::Notify,
    /// What bucket seconds and the ticks' phase are read from.
    clock: Clock,
    /// The start of the last tick whose flush and audience report are done
    /// (landed or given up); the observer holds receivers (`landed`) and
    /// reads just after it changes. Lives as long as the storer.
    landed: watch::Sender<SystemTime>,
}

/// A batch taken from the buffer; goes back to it if dropped unfinished.
struct InFlight<'a> {
    storer: &'a Storer,
    likes: Option<Arc<Vec<Like>>>,
}

impl InFlight<'_> {
    /// The batch, no longer guarded.
    fn take(&mut self) -> Vec<Like> {
        let likes = self.likes.take().expect("taken once");
        Arc::try_unwrap(likes).unwrap_or_else(|shared| (*shared).clone())
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.likes.is_some() {
            let batch = self.take();
            self.storer.buffer().put_back(batch);
        }
    }
}

/// First pause after a failed try; doubles up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

impl Storer {
    /// A storer writing to `store` as `server`.
    pub fn new(store: Arc<dyn LikeStore>, server: ServerId, settings: FlushSettings) -> Self {
        Self {
            shared: Arc::new(Shared {
                buffer: Mutex::new(Buffer::new(
                    settings.max_buffered,
                    settings.max_buffered_bytes,
                )),
                store,
                server,
                settings,
                failing: AtomicBool::new(false),
                freshness: Freshness::default(),
                audience: None,
                listener: None,
                acks: AckSettings::default(),
                waiting: Mutex::new(acks::Waiting::default()),
                due: tokio::sync::Notify::new(),
                clock: Clock::System,
                landed: watch::Sender::new(SystemTime::UNIX_EPOCH),
            }),
        }
    }

    /// Also reports `audience` with each flush. Call before cloning.
    pub fn reporting(mut self, audience: AudienceSource) -> Self {
        self.unshared().audience = Some(audience::Audience::new(audience));
        self
    }

    /// Tells `listener` about this replica's own likes, so its readers count
    /// them at once; flushes wait for its starting totals. Call before
    /// cloning.
    pub fn counting(mut self, listener: Listener) -> Self {
        self.unshared().listener = Some(listener);
        self
    }

    /// Answers likes as `acks` says (buffered by default). Call before
    /// cloning.
    pub fn acknowledging(mut self, acks: AckSettings) -> Self {
        self.unshared().acks = acks;
        self
    }

    /// Reads bucket seconds and the ticks' phase from `clock` (the system
    /// clock by default). Call before cloning.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.unshared().clock = clock;
        self
    }

    fn unshared(&mut self) -> &mut Shared {
        Arc::get_mut(&mut self.shared).expect("a storer not yet shared")
    }

    fn buffer(&self) -> std::sync::MutexGuard<'_, Buffer> {
        self.shared
            .buffer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Buffers a like; a later flush stores it. With `--ack buffered` it is
    /// acknowledged now; with `--ack stored`, once that flush commits (or
    /// now, if this replica stored it lately).
    pub fn accept(&self, like: Like) -> Result<Receipt, Refusal> {
        let (talk, id) = (like.talk, like.id);
        let mut buffer = self.buffer();
        let accepted = buffer.push(like)?;
        match (self.shared.acks.ack, accepted) {
            (Ack::Buffered, Accepted::New) => {
                // Counted before a flush can take it (the buffer's lock is
                // held), so the flush that stores it always finds it counted.
                if let Some(listener) = &self.shared.listener {
                    listener.acknowledged(talk);
                }
                drop(buffer);
                names::count_acknowledged(1);
                Ok(Receipt::Now)
            }
            (Ack::Buffered, _) | (Ack::Stored, Accepted::Stored) => Ok(Receipt::Now),
            (Ack::Stored, Accepted::New | Accepted::Held) => {
                // Registered before a flush can take it: the flush that
                // stores it answers it.
                let heard = self.waiting().wait(id);
                drop(buffer);
                self.shared.due.notify_one();
                Ok(Receipt::Later(Pending::new(
                    heard,
                    self.shared.acks.timeout,
                )))
            }
        }
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, acks::Waiting> {
        self.shared
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Likes held in memory, pending or in flight.
    pub fn buffered(&self) -> usize {
        self.buffer().len()
    }

    /// Estimated bytes held in memory by buffered likes.
    pub fn buffered_bytes(&self) -> usize {
        self.buffer().bytes()
    }

    /// When the oldest like acknowledged and not yet stored was
    /// acknowledged: with `--ack buffered`, the oldest held; with `--ack
    /// stored`, none ever is.
    pub fn oldest_unstored_ack(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        match self.shared.acks.ack {
            Ack::Buffered => self.buffer().oldest(),
            Ack::Stored => None,
        }
    }

    /// True from a failed flush try until the next successful one: the store
    /// is not taking writes.
    pub fn store_failing(&self) -> bool {
        self.shared.failing.load(Ordering::Relaxed)
    }

    /// The ledger this storer notes its stored likes in, for the observer
    /// to measure their ack→push delay.
    pub fn freshness(&self) -> Freshness {
        self.shared.freshness.clone()
    }

    /// The start of the last tick whose writes are done, changed at the end
    /// of each tick's flush and audience report.
    pub fn landed(&self) -> watch::Receiver<SystemTime> {
        self.shared.landed.subscribe()
    }

    /// True once the buffer holds its maximum in likes or (nearly) in
    /// bytes: new likes are refused until a flush frees room.
    pub fn full(&self) -> bool {
        self.buffer().is_full()
    }

    /// True once shutdown has begun: new likes are refused for good.
    pub fn closed(&self) -> bool {
        self.buffer().is_closed()
    }

    /// One flush step: writes what is pending when it starts (and on, while
    /// a full batch or more is waiting), in batches, each with
    /// retries until the hard timeout. A batch that still fails goes back to
    /// the buffer and the step ends; so does the step when less than a try's
    /// time is left before the hard timeout. Cancel-safe: dropping the future puts
    /// the batch in flight back too (replaying it later is harmless).
    pub async fn flush(&self) -> FlushOutcome {
        let deadline = Instant::now() + self.shared.settings.hard_timeout;
        self.flush_until(deadline).await
    }

    async fn flush_until(&self, deadline: Instant) -> FlushOutcome {
        let mut outcome = FlushOutcome::default();
        // What was pending when the flush began; likes that arrive meanwhile
        // wait for the next tick, so a busy replica commits once per tick,
        // not once per burst of arrivals. Only a backlog of a full batch or
        // more is worth flushing on at once (a store falling behind).
        let max_batch = self.shared.settings.max_batch;
        if let Some(listener) = &self.shared.listener
            && !listener.seeded()
            && !self.closed()
        {
            tracing::debug!("the flush waits for the observer's first read");
            return outcome;
        }
        let mut due = self.buffered();
        loop {
            if due == 0 && self.buffered() >= max_batch {
                due = self.buffered();
            }
            let batch = self.buffer().take(max_batch.min(due));
            if batch.is_empty() {
                return outcome;
            }
            due -= batch.len();
            let mut in_flight = InFlight {
                storer: self,
                likes: Some(Arc::new(batch)),
            };
            let likes = in_flight.likes.clone().expect("just set");
            let result = self.store_with_retries(likes, deadline).await;
            let batch = in_flight.take();
            match result {
                Ok((report, second)) => {
                    self.note_stored(&batch, &report);
                    self.shared.freshness.stored(second, &batch);
                    // In parts, so likes arriving meanwhile (on other
                    // threads) wait for the lock a few microseconds, not for
                    // a whole batch; the batch is freed outside the lock.
                    for part in batch.chunks(FORGET_CHUNK) {
                        self.buffer().forget_stored(part);
                        let acknowledged = self.waiting().stored(part);
                        if acknowledged > 0 {
                            names::count_acknowledged(acknowledged);
                        }
                    }
                    drop(batch);
                    outcome.stored += report.inserted;
                    outcome.duplicates += report.duplicates;
                    // Another batch starts only with a whole try's time
                    // left: cut short by the deadline, it would count as a
                    // failed try (and mark the store failing) when the store
                    // is only busy. The backlog waits for the next tick.
                    if Instant::now() + self.shared.settings.try_timeout > deadline {
                        return outcome;
                    }
                }
                Err(error) => {
                    let n = batch.len();
                    self.buffer().put_back(batch);
                    outcome.left = self.buffered();
                    tracing::error!(%error, batch = n, buffered = outcome.left,
                        "flush failed until its hard timeout; the likes stay buffered");
                    return outcome;
                }
            }
        }
    }

    /// Tells the listener that `batch` is stored, per talk: how many of its
    /// likes were acknowledged already, and the running total read back.
    fn note_stored(&self, batch: &[Like], report: &FlushReport) {
        let Some(listener) = &self.shared.listener else {
            return;
        };
        // Likes acknowledged before they were stored (`--ack buffered`).
        let early = u64::from(self.shared.acks.ack == Ack::Buffered);
        let mut per_talk: HashMap<TalkId, u64> = HashMap::new();
        for like in batch {
            *per_talk.entry(like.talk).or_default() += early;
        }
        for (talk, acknowledged) in per_talk {
            let running_total = report.own_totals.get(&talk).copied().unwrap_or(0);
            listener.stored(talk, acknowledged, running_total);
        }
    }

    /// Stores `likes`, trying until `deadline`; returns the report and the
    /// bucket second of the try that succeeded.
    async fn store_with_retries(
        &self,
        likes: Arc<Vec<Like>>,
        deadline: Instant,
    ) -> Result<(FlushReport, crate::model::Second), StoreError> {
        let settings = &self.shared.settings;
        let mut pause = FIRST_BACKOFF;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let second = self.shared.clock.second();
            let batch = FlushBatch {
                server: self.shared.server.clone(),
                second,
                likes: likes.clone(),
            };
            let started = Instant::now();
            let error = match tokio::time::timeout(
                settings.try_timeout.min(left),
                self.shared
                    .store
                    .flush(batch)
                    .instrument(tracing::info_span!("flush", likes = likes.len())),
            )
            .await
            {
                Ok(Ok(report)) => {
                    self.shared.failing.store(false, Ordering::Relaxed);
                    metrics::histogram!(names::FLUSH_SECONDS).record(started.elapsed());
                    metrics::counter!(names::STORED).increment(report.inserted + report.duplicates);
                    metrics::counter!(names::ALREADY_STORED).increment(report.duplicates);
                    metrics::counter!(names::STORE_WRITES).increment(report.commits);
                    metrics::counter!(names::STORE_SUMMARY_ROWS).increment(report.summary_rows);
                    metrics::counter!(names::STORE_TIMELINE_ROWS).increment(report.timeline_rows);
                    metrics::counter!(names::STORE_MUTATIONS).increment(report.mutations);
                    return Ok((report, second));
                }
                Ok(Err(error)) => error,
                Err(_) => StoreError::Timeout,
            };
            self.shared.failing.store(true, Ordering::Relaxed);
            metrics::counter!(names::FLUSH_FAILURES).increment(1);
            tracing::warn!(%error, likes = likes.len(), "flush try failed");
            if Instant::now() + pause >= deadline {
                return Err(error);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_BACKOFF);
        }
    }

    /// Flushes every interval until `shutdown` is cancelled, then refuses
    /// new likes and drains the buffer until `shutdown_grace` after the
    /// cancellation (see `close_and_drain`); returns how many likes could not
    /// be stored. A flush in progress at cancellation is finished, never cut
    /// (its likes would be lost), within its hard timeout. Flushes never
    /// overlap: one runs at a time, and a tick missed meanwhile is skipped.
    /// Ticks fall on multiples of the interval since the Unix epoch, the same
    /// instants on every replica (see `schedule`); the end of each tick's
    /// writes is announced to `landed`'s receivers.
    pub async fn run(self, shutdown: CancellationToken) -> usize {
        let interval = self.shared.settings.interval;
        let mut ticks = schedule::aligned(&self.shared.clock, interval, Duration::ZERO);
        let lingering = self.shared.acks.ack == Ack::Stored;
        // After a flush that left likes unstored, waiting likes wait for the
        // next tick: a failing store is not tried again at once.
        let mut failed = false;
        let cancelled_at = loop {
            let tick = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break Instant::now(),
                _ = ticks.tick() => true,
                _ = self.shared.due.notified(), if lingering && !failed => false,
            };
            if !tick {
                tokio::select! {
                    biased;
                    _ = shutdown.cancelled() => break Instant::now(),
                    _ = tokio::time::sleep(self.shared.acks.linger) => {}
                }
            }
            // A tick's flush tells the observer when it has landed; a
            // lingering flush between ticks does not.
            let landing = tick.then(|| schedule::start_of(self.shared.clock.now(), interval));
            let flush = async {
                let outcome = self.flush().await;
                if let Some(landing) = landing {
                    self.report_audience(false, self.shared.settings.try_timeout)
                        .await;
                    self.shared.landed.send_replace(landing);
                }
                outcome
            };
            tokio::pin!(flush);
            let outcome = tokio::select! {
                outcome = &mut flush => outcome,
                _ = shutdown.cancelled() => {
                    let cancelled_at = Instant::now();
                    flush.await;
                    break cancelled_at;
                }
            };
            failed = outcome.left > 0;
        };
        let grace = self.shared.settings.shutdown_grace;
        // Likes still waiting for their flush are answered before the grace
        // ends and their requests are cut.
        let answers = (grace / 10).min(Duration::from_secs(1));
        let left = (cancelled_at + grace - answers).saturating_duration_since(Instant::now());
        let unstored = self.close_and_drain(left).await;
        let left = (cancelled_at + grace).saturating_duration_since(Instant::now());
        self.report_audience(true, left.min(self.shared.settings.try_timeout))
            .await;
        unstored
    }

    /// Reports this replica's audience (none once `leaving`), if it has a
    /// source, within `timeout`, unless the store is failing. An empty
    /// audience is reported once, not renewed. A failure is only logged:
    /// the next flush reports afresh.
    async fn report_audience(&self, leaving: bool, timeout: Duration) {
        let Some(reports) = &self.shared.audience else {
            return;
        };
        // A store that just refused a flush gets no more writes this tick:
        // the next flush comes sooner, and observers cannot read it either.
        if self.store_failing() && !leaving {
            return;
        }
        let Some(audience) = reports.due(leaving) else {
            return;
        };
        let second = self.shared.clock.second();
        let report = self
            .shared
            .store
            .report_audience(&self.shared.server, second, &audience);
        match tokio::time::timeout(timeout, report).await {
            Ok(Ok(())) => {
                metrics::counter!(names::STORE_WRITES).increment(1);
                reports.reported(&audience);
            }
            Ok(Err(error)) => tracing::debug!(%error, "reporting the audience failed"),
            Err(_) => tracing::debug!("reporting the audience timed out"),
        }
    }

    /// Refuses new likes, then flushes everything held, trying until `grace`
    /// runs out. Returns how many held likes could not be stored (and logs
    /// that number); zero unless the store failed throughout. Likes still
    /// waiting for their flush then hear that they were not stored.
    pub async fn close_and_drain(&self, grace: Duration) -> usize {
        self.buffer().close();
        let deadline = Instant::now() + grace;
        loop {
            let held = self.buffered();
            if held == 0 {
                tracing::info!("storer drained: every acknowledged like is stored");
                return 0;
            }
            if Instant::now() >= deadline {
                let told = self.waiting().give_up();
                match self.shared.acks.ack {
                    Ack::Buffered => tracing::error!(
                        unflushed = held,
                        "shutdown grace ran out with the store failing: {held} acknowledged likes were not stored"
                    ),
                    Ack::Stored => tracing::error!(
                        unflushed = held,
                        answered_unavailable = told,
                        "shutdown grace ran out with the store failing: {held} likes were not stored; \
                         {told} callers still waiting were answered UNAVAILABLE, none had been acknowledged"
                    ),
                }
                return held;
            }
            let try_until = deadline.min(Instant::now() + self.shared.settings.hard_timeout);
            if self.flush_until(try_until).await.left > 0 {
                tokio::time::sleep_until(deadline.min(Instant::now() + FIRST_BACKOFF)).await;
            }
        }
    }
}
