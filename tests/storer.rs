//! The storer against a store that fails, loses commits, hangs or is slow:
//! acknowledged likes are delayed, never dropped, and stored exactly once.

use async_trait::async_trait;
use chrono::Utc;
use likes::clock::Clock;
use likes::config::Ack;
use likes::model::{Like, LikeId, Second, ServerId, TalkId};
use likes::store::{
    FlushBatch, FlushReport, LikeStore, Observation, SqliteStore, StoreError, StoreOptions,
};
use likes::storer::{AckSettings, FlushSettings, NotStored, Pending, Receipt, Refusal, Storer};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};
use tempfile::TempDir;

/// How the next flush tries go wrong.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    None,
    /// Fail without writing.
    Refuse,
    /// Write, then report a failure (the answer was lost).
    LoseAnswer,
    /// Never answer.
    Hang,
    /// Answer after a pause.
    Slow(Duration),
}

/// A SQLite store with faults injected into `flush`.
struct FaultyStore {
    inner: SqliteStore,
    fault: Mutex<(Fault, usize)>,
    active: AtomicUsize,
    most_active: AtomicUsize,
    tries: AtomicUsize,
    audience_reports: AtomicUsize,
    _dir: TempDir,
}

impl FaultyStore {
    async fn new() -> Arc<Self> {
        let dir = tempfile::tempdir().unwrap();
        let inner = SqliteStore::open(&dir.path().join("likes.db"), &StoreOptions::default())
            .await
            .unwrap();
        Arc::new(Self {
            inner,
            fault: Mutex::new((Fault::None, 0)),
            active: AtomicUsize::new(0),
            most_active: AtomicUsize::new(0),
            tries: AtomicUsize::new(0),
            audience_reports: AtomicUsize::new(0),
            _dir: dir,
        })
    }

    /// The next `times` tries suffer `fault` (`usize::MAX`: until changed).
    fn inject(&self, fault: Fault, times: usize) {
        *self.fault.lock().unwrap() = (fault, times);
    }

    fn next_fault(&self) -> Fault {
        let mut fault = self.fault.lock().unwrap();
        if fault.1 == 0 {
            return Fault::None;
        }
        fault.1 = fault.1.saturating_sub(1);
        fault.0
    }

    async fn stored(&self) -> u64 {
        let totals = self.inner.totals().await.unwrap();
        let rows: u64 = futures_sum(&self.inner, totals.keys().copied().collect()).await;
        let counted: u64 = totals.values().sum();
        assert_eq!(rows, counted, "totals disagree with the like rows");
        rows
    }
}

async fn futures_sum(store: &SqliteStore, talks: Vec<TalkId>) -> u64 {
    let mut sum = 0;
    for talk in talks {
        sum += store.count_likes(talk).await.unwrap();
    }
    sum
}

struct ActiveGuard<'a>(&'a AtomicUsize);
impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl LikeStore for FaultyStore {
    async fn flush(&self, batch: FlushBatch) -> Result<FlushReport, StoreError> {
        self.tries.fetch_add(1, Ordering::SeqCst);
        let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_active.fetch_max(now, Ordering::SeqCst);
        let _guard = ActiveGuard(&self.active);
        match self.next_fault() {
            Fault::None => self.inner.flush(batch).await,
            Fault::Refuse => Err(StoreError::Unavailable("injected refusal".into())),
            Fault::LoseAnswer => {
                self.inner.flush(batch).await?;
                Err(StoreError::Unavailable("injected lost answer".into()))
            }
            Fault::Hang => std::future::pending().await,
            Fault::Slow(pause) => {
                tokio::time::sleep(pause).await;
                self.inner.flush(batch).await
            }
        }
    }

    async fn observe(
        &self,
        since: Second,
        with_totals: bool,
        own: &ServerId,
    ) -> Result<Observation, StoreError> {
        self.inner.observe(since, with_totals, own).await
    }

    async fn report_audience(
        &self,
        server: &ServerId,
        second: i64,
        audience: &[(TalkId, u64)],
    ) -> Result<(), StoreError> {
        self.audience_reports.fetch_add(1, Ordering::SeqCst);
        self.inner.report_audience(server, second, audience).await
    }

    async fn totals(&self) -> Result<HashMap<TalkId, u64>, StoreError> {
        self.inner.totals().await
    }

    async fn count_likes(&self, talk: TalkId) -> Result<u64, StoreError> {
        self.inner.count_likes(talk).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    async fn export(
        &self,
        range: likes::store::TimeRange,
        rows: tokio::sync::mpsc::Sender<likes::store::Exported>,
    ) -> Result<(), StoreError> {
        self.inner.export(range, rows).await
    }
}

fn settings() -> FlushSettings {
    FlushSettings {
        interval: Duration::from_millis(50),
        try_timeout: Duration::from_millis(500),
        hard_timeout: Duration::from_millis(1500),
        max_batch: 1_000,
        max_buffered: 10_000,
        max_buffered_bytes: usize::MAX,
        shutdown_grace: Duration::from_secs(2),
    }
}

/// The wall clock of the storers here: it moves with tokio's paused clock.
fn clock() -> Clock {
    Clock::starting_at(UNIX_EPOCH + Duration::from_secs(1_790_000_000))
}

fn storer(store: &Arc<FaultyStore>, settings: FlushSettings) -> Storer {
    Storer::new(store.clone(), ServerId::new("test").unwrap(), settings).with_clock(clock())
}

fn like(n: usize) -> Like {
    Like {
        id: LikeId::for_request(TalkId(1 + (n % 3) as i32), "liker", Some(&n.to_string())),
        talk: TalkId(1 + (n % 3) as i32),
        liker: "liker".into(),
        created_at: Utc::now(),
    }
}

fn accept_all(storer: &Storer, range: std::ops::Range<usize>) {
    for n in range {
        assert!(matches!(storer.accept(like(n)), Ok(Receipt::Now)));
    }
}

#[tokio::test(start_paused = true)]
async fn a_failing_flush_keeps_its_likes_and_tries_again() {
    let store = FaultyStore::new().await;
    let storer = storer(&store, settings());
    accept_all(&storer, 0..50);
    store.inject(Fault::Refuse, 2);
    let outcome = storer.flush().await;
    assert_eq!(
        (outcome.stored, outcome.left),
        (50, 0),
        "retried within the flush"
    );
    assert!(store.tries.load(Ordering::SeqCst) >= 3);

    accept_all(&storer, 50..80);
    store.inject(Fault::Refuse, usize::MAX);
    let outcome = storer.flush().await;
    assert_eq!(
        (outcome.stored, outcome.left),
        (0, 30),
        "past the hard timeout"
    );
    assert_eq!(storer.buffered(), 30, "nothing dropped");
    accept_all(&storer, 80..90);

    store.inject(Fault::None, 0);
    let outcome = storer.flush().await;
    assert_eq!((outcome.stored, outcome.left), (40, 0));
    assert_eq!(store.stored().await, 90);
}

#[tokio::test(start_paused = true)]
async fn a_flush_whose_answer_was_lost_is_replayed_without_duplicates() {
    let store = FaultyStore::new().await;
    let storer = storer(&store, settings());
    accept_all(&storer, 0..40);
    store.inject(Fault::LoseAnswer, 1);
    let outcome = storer.flush().await;
    assert_eq!(
        (outcome.stored, outcome.duplicates),
        (0, 40),
        "the replay found them stored"
    );
    assert_eq!(store.stored().await, 40);
    assert_eq!(storer.buffered(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_hanging_store_is_cut_off_by_the_try_timeout() {
    let store = FaultyStore::new().await;
    let storer = storer(
        &store,
        FlushSettings {
            hard_timeout: Duration::from_secs(5),
            ..settings()
        },
    );
    accept_all(&storer, 0..10);
    store.inject(Fault::Hang, 2);
    let started = tokio::time::Instant::now();
    let outcome = storer.flush().await;
    // Two tries cut off at 500 ms and the pauses after them (100 and 200
    // ms), far below the hard timeout.
    assert_eq!(started.elapsed(), Duration::from_millis(1300));
    assert_eq!(outcome.stored, 10);
    assert_eq!(store.stored().await, 10);
}

#[tokio::test(start_paused = true)]
async fn a_busy_store_is_not_cut_off_between_batches() {
    let store = FaultyStore::new().await;
    let storer = storer(
        &store,
        FlushSettings {
            max_batch: 10,
            try_timeout: Duration::from_secs(1),
            hard_timeout: Duration::from_secs(3),
            ..settings()
        },
    );
    accept_all(&storer, 0..100);
    // Each batch takes most of a try; ten of them do not fit in the hard
    // timeout. Batches end at 0.6, 1.2, 1.8 and 2.4 s; after the fourth, a
    // whole try no longer fits before 3 s.
    store.inject(Fault::Slow(Duration::from_millis(600)), usize::MAX);
    let outcome = storer.flush().await;
    let tries = store.tries.load(Ordering::SeqCst);
    assert_eq!(outcome.stored, 40, "{outcome:?}");
    assert_eq!(outcome.left, 0, "nothing failed: {outcome:?}");
    assert_eq!(tries as u64 * 10, outcome.stored, "every try succeeded");
    assert!(!storer.store_failing(), "a busy store is not a failing one");
    assert_eq!(
        storer.buffered() as u64,
        100 - outcome.stored,
        "the rest waits"
    );
}

#[tokio::test(start_paused = true)]
async fn flushes_never_overlap() {
    let store = FaultyStore::new().await;
    let storer = storer(&store, settings());
    store.inject(Fault::Slow(Duration::from_millis(150)), usize::MAX);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(storer.clone().run(shutdown.clone()));
    for round in 0..10 {
        accept_all(&storer, round * 10..round * 10 + 10);
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    shutdown.cancel();
    assert_eq!(task.await.unwrap(), 0);
    assert!(store.tries.load(Ordering::SeqCst) >= 3);
    assert_eq!(store.most_active.load(Ordering::SeqCst), 1);
    assert_eq!(store.stored().await, 100);
}

#[tokio::test(start_paused = true)]
async fn a_full_buffer_refuses_new_likes_and_keeps_the_old() {
    let store = FaultyStore::new().await;
    let storer = storer(
        &store,
        FlushSettings {
            max_buffered: 5,
            ..settings()
        },
    );
    accept_all(&storer, 0..5);
    assert!(matches!(storer.accept(like(5)), Err(Refusal::Full)));
    assert!(
        matches!(storer.accept(like(0)), Ok(Receipt::Now)),
        "a retry"
    );
    storer.flush().await;
    assert!(matches!(storer.accept(like(5)), Ok(Receipt::Now)));
    storer.flush().await;
    assert_eq!(store.stored().await, 6);
}

#[tokio::test(start_paused = true)]
async fn shutdown_drains_everything_and_then_refuses() {
    let store = FaultyStore::new().await;
    let storer = storer(
        &store,
        FlushSettings {
            interval: Duration::from_secs(3600),
            ..settings()
        },
    );
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(storer.clone().run(shutdown.clone()));
    tokio::time::sleep(Duration::from_millis(20)).await;
    accept_all(&storer, 0..2_500);
    store.inject(Fault::Refuse, 3);
    shutdown.cancel();
    assert_eq!(task.await.unwrap(), 0, "every like stored");
    assert_eq!(store.stored().await, 2_500);
    assert!(matches!(storer.accept(like(9_999)), Err(Refusal::Closed)));
}

#[tokio::test(start_paused = true)]
async fn shutdown_with_the_store_down_reports_exactly_what_was_not_stored() {
    let store = FaultyStore::new().await;
    let storer = storer(
        &store,
        FlushSettings {
            interval: Duration::from_secs(3600),
            shutdown_grace: Duration::from_millis(600),
            ..settings()
        },
    );
    accept_all(&storer, 0..30);
    store.inject(Fault::Refuse, usize::MAX);
    assert_eq!(storer.close_and_drain(Duration::from_millis(600)).await, 30);
    assert_eq!(store.stored().await, 0);
}

#[tokio::test(start_paused = true)]
async fn likes_held_across_skipped_ticks_land_in_one_bucket_of_the_flush_second() {
    let store = FaultyStore::new().await;
    let clock = clock();
    let storer =
        Storer::new(store.clone(), ServerId::new("test").unwrap(), settings()).with_clock(clock);
    accept_all(&storer, 0..9);
    // No flush for over two seconds: the ticks in between were skipped.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    accept_all(&storer, 9..12);
    let before = clock.second();
    storer.flush().await;
    let after = clock.second();
    let seen = store
        .observe(before - 5, true, &ServerId::new("test").unwrap())
        .await
        .unwrap();
    let counted: u64 = seen.buckets.iter().map(|b| b.likes).sum();
    assert_eq!(counted, 12);
    assert!(
        seen.buckets
            .iter()
            .all(|b| (before..=after).contains(&b.second))
    );
    assert_eq!(seen.totals.unwrap().values().sum::<u64>(), 12);
}

#[tokio::test(start_paused = true)]
async fn a_flush_dropped_midway_puts_its_batch_back() {
    let store = FaultyStore::new().await;
    let storer = storer(&store, settings());
    accept_all(&storer, 0..25);
    store.inject(Fault::Hang, 1);
    let cut = tokio::time::timeout(Duration::from_millis(100), storer.flush()).await;
    assert!(cut.is_err(), "the flush should still have been hanging");
    assert_eq!(storer.buffered(), 25);
    let outcome = storer.flush().await;
    assert_eq!(outcome.stored, 25);
    assert_eq!(store.stored().await, 25);
}

#[tokio::test(start_paused = true)]
async fn the_audience_is_reported_after_each_flush_once_when_gone_and_none_at_shutdown() {
    let store = FaultyStore::new().await;
    let clock = clock();
    let audience = Arc::new(Mutex::new(vec![(TalkId(1), 3), (TalkId(2), 1)]));
    let source = audience.clone();
    let storer = Storer::new(store.clone(), ServerId::new("test").unwrap(), settings())
        .with_clock(clock)
        .reporting(Arc::new(move || source.lock().unwrap().clone()));
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(storer.clone().run(shutdown.clone()));
    let read = || async {
        let seen = store
            .observe(clock.second() - 1, false, &ServerId::new("test").unwrap())
            .await
            .unwrap();
        let mut audience: Vec<_> = seen.audience.iter().map(|w| (w.talk, w.watching)).collect();
        audience.sort();
        audience
    };

    // Reported on the first tick (50 ms), renewed on every one after.
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(read().await, [(TalkId(1), 3), (TalkId(2), 1)]);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        read().await,
        [(TalkId(1), 3), (TalkId(2), 1)],
        "still fresh"
    );
    *audience.lock().unwrap() = vec![(TalkId(2), 2)];
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(read().await, [(TalkId(2), 2)]);
    // Gone: reported once, then not renewed.
    audience.lock().unwrap().clear();
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(read().await, []);
    let reports = store.audience_reports.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(store.audience_reports.load(Ordering::SeqCst), reports);

    // At shutdown, however many are still connected, it reports none.
    *audience.lock().unwrap() = vec![(TalkId(1), 9)];
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(read().await, [(TalkId(1), 9)]);
    shutdown.cancel();
    assert_eq!(task.await.unwrap(), 0);
    assert_eq!(read().await, []);
}

/// A storer that answers likes once stored (`--ack stored`), with a bound
/// of 5 s and a linger of 10 ms.
fn storing(store: &Arc<FaultyStore>, settings: FlushSettings) -> Storer {
    storer(store, settings).acknowledging(AckSettings {
        ack: Ack::Stored,
        timeout: Duration::from_secs(5),
        linger: Duration::from_millis(10),
    })
}

/// What a like waiting for its flush hears.
fn waiting(storer: &Storer, n: usize) -> Pending {
    match storer.accept(like(n)) {
        Ok(Receipt::Later(pending)) => pending,
        other => panic!("like {n} does not wait for its flush: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn likes_waiting_for_their_flush_share_one_commit_after_the_linger() {
    let store = FaultyStore::new().await;
    let storer = storing(
        &store,
        FlushSettings {
            interval: Duration::from_secs(1),
            ..settings()
        },
    );
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(storer.clone().run(shutdown.clone()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = tokio::time::Instant::now();
    let pending: Vec<Pending> = (0..30).map(|n| waiting(&storer, n)).collect();
    let heard = futures_util::future::join_all(pending.into_iter().map(Pending::stored)).await;
    assert!(heard.iter().all(Result::is_ok), "{heard:?}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(10) && waited < Duration::from_millis(100),
        "answered after {waited:?}, not after the 10 ms linger"
    );
    assert_eq!(store.tries.load(Ordering::SeqCst), 1, "one commit for all");
    assert_eq!(store.stored().await, 30);
    // Stored lately: a retry is acknowledged at once.
    assert!(matches!(storer.accept(like(3)), Ok(Receipt::Now)));
    shutdown.cancel();
    assert_eq!(task.await.unwrap(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_like_not_stored_within_its_bound_hears_so_and_its_retry_stores_it_once() {
    let store = FaultyStore::new().await;
    let storer = storing(&store, settings());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(storer.clone().run(shutdown.clone()));
    store.inject(Fault::Hang, usize::MAX);
    let started = tokio::time::Instant::now();
    assert_eq!(
        waiting(&storer, 7).stored().await,
        Err(NotStored::Late(Duration::from_secs(5)))
    );
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert_eq!(storer.buffered(), 1, "held, and still tried");
    // The caller retries, with the same clientMutationId: the same like.
    let retry = waiting(&storer, 7);
    store.inject(Fault::None, 0);
    assert_eq!(retry.stored().await, Ok(()));
    assert_eq!(store.stored().await, 1);
    shutdown.cancel();
    assert_eq!(task.await.unwrap(), 0);
}

#[tokio::test(start_paused = true)]
async fn at_shutdown_a_waiting_like_is_stored_and_answered_or_told_it_was_not() {
    // The store answers slowly: the flush under way at shutdown stores it.
    let store = FaultyStore::new().await;
    let storer = storing(&store, settings());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(storer.clone().run(shutdown.clone()));
    store.inject(Fault::Slow(Duration::from_millis(300)), 1);
    let stored = tokio::spawn(waiting(&storer, 1).stored());
    tokio::time::sleep(Duration::from_millis(100)).await;
    shutdown.cancel();
    assert_eq!(stored.await.unwrap(), Ok(()));
    assert_eq!(task.await.unwrap(), 0);
    assert_eq!(store.stored().await, 1);

    // The store is down for the whole grace: the caller hears so before it
    // ends, well within its own bound.
    let store = FaultyStore::new().await;
    let storer = storing(&store, settings());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(storer.clone().run(shutdown.clone()));
    store.inject(Fault::Refuse, usize::MAX);
    let started = tokio::time::Instant::now();
    let unstored = tokio::spawn(waiting(&storer, 2).stored());
    tokio::time::sleep(Duration::from_millis(100)).await;
    shutdown.cancel();
    assert_eq!(unstored.await.unwrap(), Err(NotStored::Stopped));
    let grace = settings().shutdown_grace;
    assert!(started.elapsed() < grace + Duration::from_millis(100));
    assert_eq!(task.await.unwrap(), 1);
    assert_eq!(store.stored().await, 0);
}
