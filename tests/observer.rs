//! The observer on a real store: growth is published, history is not, a
//! bucket written after the window has passed still reaches the counters,
//! and its reads do not grow with talks or subscribers.

use chrono::Utc;
use likes::clock::Clock;
use likes::listener::{Interest, Listener};
use likes::model::{Like, LikeId, ServerId, TalkId};
use likes::observer::{ObserveSettings, Observer};
use likes::store::{
    FlushBatch, FlushReport, LikeStore, Observation, SqliteStore, StoreError, StoreOptions,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

fn likes(talk: i32, from: usize, n: usize) -> Arc<Vec<Like>> {
    Arc::new(
        (from..from + n)
            .map(|i| Like {
                id: LikeId::for_request(TalkId(talk), &format!("l{i}"), Some("m")),
                talk: TalkId(talk),
                liker: format!("l{i}"),
                created_at: Utc::now(),
            })
            .collect(),
    )
}

/// The observers' wall clock here: it moves with tokio's paused clock.
fn clock() -> Clock {
    Clock::starting_at(UNIX_EPOCH + Duration::from_secs(1_790_000_000))
}

fn batch(server: &str, second: i64, likes: Arc<Vec<Like>>) -> FlushBatch {
    FlushBatch {
        server: ServerId::new(server).unwrap(),
        second,
        likes,
    }
}

#[tokio::test(start_paused = true)]
async fn history_is_a_starting_point_and_late_buckets_are_caught_by_the_totals() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn LikeStore> = Arc::new(
        SqliteStore::open(&dir.path().join("likes.db"), &StoreOptions::default())
            .await
            .unwrap(),
    );
    let clock = clock();
    let now = clock.second();
    store.flush(batch("a", now, likes(1, 0, 7))).await.unwrap();

    let listener = Listener::new([TalkId(1), TalkId(2)]);
    let settings = ObserveSettings {
        interval: Duration::from_secs(1),
        window: Duration::from_secs(3),
    };
    let mut observer = Observer::new(
        store.clone(),
        listener.clone(),
        ServerId::new("observer").unwrap(),
        settings,
    )
    .with_clock(clock);
    let mut subscription = listener.subscribe(TalkId(1), Interest::default()).unwrap();
    assert!(
        observer.observe().await.unwrap().is_empty(),
        "history is not news"
    );
    assert_eq!(listener.total(TalkId(1)), Some(7));

    // In the window: published by the next read.
    store
        .flush(batch("b", now, likes(1, 100, 2)))
        .await
        .unwrap();
    let changes = observer.observe().await.unwrap();
    assert_eq!(changes.iter().map(|c| c.delta).sum::<u64>(), 2);
    let delta = subscription.next().await.unwrap();
    assert_eq!((delta.likes, delta.total), (2, 9));

    // Far behind the window: only the totals can show it.
    store
        .flush(batch("c", now - 600, likes(1, 200, 5)))
        .await
        .unwrap();
    let mut caught = 0;
    for _ in 0..3 {
        caught += observer
            .observe()
            .await
            .unwrap()
            .iter()
            .map(|c| c.late)
            .sum::<u64>();
    }
    assert_eq!(caught, 5);
    let delta = subscription.next().await.unwrap();
    assert_eq!((delta.likes, delta.total), (5, 14));
    assert_eq!(listener.total(TalkId(1)), Some(14));
    assert_eq!(store.count_likes(TalkId(1)).await.unwrap(), 14);
}

/// A store that counts the observer's reads.
struct CountingStore {
    inner: Arc<dyn LikeStore>,
    observes: AtomicU64,
    with_totals: AtomicU64,
    other_reads: AtomicU64,
}

#[async_trait::async_trait]
impl LikeStore for CountingStore {
    async fn flush(&self, batch: FlushBatch) -> Result<FlushReport, StoreError> {
        self.inner.flush(batch).await
    }
    async fn observe(
        &self,
        since: i64,
        with_totals: bool,
        own: &ServerId,
    ) -> Result<Observation, StoreError> {
        self.observes.fetch_add(1, Ordering::Relaxed);
        if with_totals {
            self.with_totals.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.observe(since, with_totals, own).await
    }
    async fn report_audience(
        &self,
        server: &ServerId,
        second: i64,
        audience: &[(TalkId, u64)],
    ) -> Result<(), StoreError> {
        self.inner.report_audience(server, second, audience).await
    }
    async fn totals(&self) -> Result<HashMap<TalkId, u64>, StoreError> {
        self.other_reads.fetch_add(1, Ordering::Relaxed);
        self.inner.totals().await
    }
    async fn count_likes(&self, talk: TalkId) -> Result<u64, StoreError> {
        self.other_reads.fetch_add(1, Ordering::Relaxed);
        self.inner.count_likes(talk).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.other_reads.fetch_add(1, Ordering::Relaxed);
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

#[tokio::test(start_paused = true)]
async fn each_tick_is_one_store_read_whatever_the_talks_and_subscribers() {
    let dir = tempfile::tempdir().unwrap();
    let inner = SqliteStore::open(&dir.path().join("likes.db"), &StoreOptions::default())
        .await
        .unwrap();
    let store = Arc::new(CountingStore {
        inner: Arc::new(inner),
        observes: AtomicU64::new(0),
        with_totals: AtomicU64::new(0),
        other_reads: AtomicU64::new(0),
    });
    let talks: Vec<TalkId> = (1..=200).map(TalkId).collect();
    let listener = Listener::new(talks.clone());
    let subscriptions: Vec<_> = talks
        .iter()
        .cycle()
        .take(5_000)
        .map(|&talk| listener.subscribe(talk, Interest::default()).unwrap())
        .collect();
    let settings = ObserveSettings {
        interval: Duration::from_secs(1),
        window: Duration::from_secs(13),
    };
    let clock = clock();
    let mut observer = Observer::new(
        store.clone(),
        listener.clone(),
        ServerId::new("observer").unwrap(),
        settings,
    )
    .with_clock(clock);
    let now = clock.second();
    for tick in 0..26 {
        let talk = 1 + (tick % 200) as i32;
        store
            .flush(batch("a", now + tick, likes(talk, tick as usize * 10, 3)))
            .await
            .unwrap();
        observer.observe().await.unwrap();
        tokio::time::advance(Duration::from_secs(1)).await;
    }
    assert_eq!(
        store.observes.load(Ordering::Relaxed),
        26,
        "one read a tick"
    );
    // The first read seeds from the totals; then one in every 13 (window / interval).
    assert_eq!(store.with_totals.load(Ordering::Relaxed), 2);
    assert_eq!(store.other_reads.load(Ordering::Relaxed), 0);
    drop(subscriptions);
}
