//! The observer on a real store: growth is published, history is not, a
//! bucket written after the window has passed still reaches the counters
//! and the timeline, and its reads do not grow with talks or subscribers.

use chrono::{TimeZone, Utc};
use likes::clock::Clock;
use likes::listener::{Interest, Listener};
use likes::model::{Like, LikeId, ServerId, TalkId};
use likes::observer::{ObserveSettings, Observer};
use likes::store::{
    FlushBatch, FlushReport, LikeStore, Observation, SlotCount, SqliteStore, StoreError,
    StoreOptions,
};
use likes::timeline::{Every, Interval, Timelines};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

/// `n` likes of `talk`, made half a second before `second`.
fn likes(talk: i32, from: usize, n: usize, second: i64) -> Vec<Like> {
    (from..from + n)
        .map(|i| Like {
            id: LikeId::for_request(TalkId(talk), &format!("l{i}"), Some("m")),
            talk: TalkId(talk),
            liker: format!("l{i}"),
            created_at: Utc.timestamp_opt(second - 1, 500_000_000).unwrap(),
        })
        .collect()
}

/// The observers' wall clock here: it moves with tokio's paused clock.
fn clock() -> Clock {
    Clock::starting_at(UNIX_EPOCH + Duration::from_secs(1_790_000_000))
}

/// A flush at `second` of `n` likes of `talk` made just before it.
fn batch(server: &str, second: i64, (talk, from, n): (i32, usize, usize)) -> FlushBatch {
    FlushBatch {
        server: ServerId::new(server).unwrap(),
        second,
        likes: Arc::new(likes(talk, from, n, second)),
    }
}

#[tokio::test(start_paused = true)]
async fn history_is_a_starting_point_and_late_buckets_are_caught_by_the_totals_and_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn LikeStore> = Arc::new(
        SqliteStore::open(&dir.path().join("likes.db"), &StoreOptions::default())
            .await
            .unwrap(),
    );
    let clock = clock();
    let now = clock.second();
    store.flush(batch("a", now, (1, 0, 7))).await.unwrap();

    let listener = Listener::new([TalkId(1), TalkId(2)]);
    let settings = ObserveSettings {
        interval: Duration::from_secs(1),
        window: Duration::from_secs(3),
    };
    let timelines = Timelines::new([TalkId(1), TalkId(2)]);
    let mut observer = Observer::new(
        store.clone(),
        listener.clone(),
        ServerId::new("observer").unwrap(),
        settings,
    )
    .with_clock(clock)
    .keeping(timelines.clone());
    let mut subscription = listener.subscribe(TalkId(1), Interest::default()).unwrap();
    assert!(
        observer.observe().await.unwrap().is_empty(),
        "history is not news"
    );
    assert_eq!(listener.total(TalkId(1)), Some(7));
    let minute = |second: i64| second.div_euclid(60) * 60;
    let seven = vec![Interval {
        start: minute(now - 1),
        likes: 7,
    }];
    assert_eq!(
        timelines.intervals(TalkId(1), Every::MINUTE),
        Some(seven),
        "but it is the timeline"
    );
    assert_eq!(timelines.intervals(TalkId(2), Every::MINUTE), Some(vec![]));

    // In the window: published by the next read.
    store.flush(batch("b", now, (1, 100, 2))).await.unwrap();
    let changes = observer.observe().await.unwrap();
    assert_eq!(changes.iter().map(|c| c.delta).sum::<u64>(), 2);
    let delta = subscription.next().await.unwrap();
    assert_eq!((delta.likes, delta.total), (2, 9));
    assert_eq!(timelines.sum(TalkId(1)), Some(9));

    // Far behind the window: only the totals can show it.
    store
        .flush(batch("c", now - 600, (1, 200, 5)))
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
    let timeline = timelines.intervals(TalkId(1), Every::MINUTE).unwrap();
    assert_eq!(timeline.iter().map(|i| i.likes).sum::<u64>(), 14);
    assert_eq!(
        (timeline[0].start, timeline[0].likes),
        (minute(now - 601), 5),
        "the late likes are in the minute they were made"
    );
}

/// A store that counts the observer's reads.
struct CountingStore {
    inner: Arc<dyn LikeStore>,
    observes: AtomicU64,
    with_totals: AtomicU64,
    timeline_reads: AtomicU64,
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
    async fn timelines(&self, talks: &[TalkId]) -> Result<Vec<SlotCount>, StoreError> {
        self.timeline_reads.fetch_add(1, Ordering::Relaxed);
        self.inner.timelines(talks).await
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
        timeline_reads: AtomicU64::new(0),
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
    let timelines = Timelines::new(talks.clone());
    let mut observer = Observer::new(
        store.clone(),
        listener.clone(),
        ServerId::new("observer").unwrap(),
        settings,
    )
    .with_clock(clock)
    .keeping(timelines.clone());
    let now = clock.second();
    for tick in 0..26 {
        let talk = 1 + (tick % 200) as i32;
        store
            .flush(batch("a", now + tick, (talk, tick as usize * 10, 3)))
            .await
            .unwrap();
        observer.observe().await.unwrap();
        let talk = TalkId(talk);
        assert_eq!(timelines.sum(talk), listener.total(talk), "tick {tick}");
        tokio::time::advance(Duration::from_secs(1)).await;
    }
    assert_eq!(
        store.observes.load(Ordering::Relaxed),
        26,
        "one read a tick"
    );
    // The first read seeds from the totals; then one in every 13 (window / interval).
    assert_eq!(store.with_totals.load(Ordering::Relaxed), 2);
    assert_eq!(
        store.timeline_reads.load(Ordering::Relaxed),
        1,
        "every timeline is read whole once, at the start"
    );
    assert_eq!(store.other_reads.load(Ordering::Relaxed), 0);
    drop(subscriptions);
}

/// A store whose reads answer at once, empty, and note when they came.
#[derive(Default)]
struct TimedReads {
    at: std::sync::Mutex<Vec<Duration>>,
    start: std::sync::OnceLock<tokio::time::Instant>,
}

#[async_trait::async_trait]
impl LikeStore for TimedReads {
    async fn flush(&self, _: FlushBatch) -> Result<FlushReport, StoreError> {
        Ok(FlushReport::default())
    }
    async fn observe(
        &self,
        _: i64,
        with_totals: bool,
        _: &ServerId,
    ) -> Result<Observation, StoreError> {
        let start = *self.start.get_or_init(tokio::time::Instant::now);
        self.at.lock().unwrap().push(start.elapsed());
        Ok(Observation {
            totals: with_totals.then(HashMap::new),
            ..Observation::default()
        })
    }
    async fn report_audience(
        &self,
        _: &ServerId,
        _: i64,
        _: &[(TalkId, u64)],
    ) -> Result<(), StoreError> {
        Ok(())
    }
    async fn totals(&self) -> Result<HashMap<TalkId, u64>, StoreError> {
        Ok(HashMap::new())
    }
    async fn timelines(&self, _: &[TalkId]) -> Result<Vec<SlotCount>, StoreError> {
        Ok(Vec::new())
    }
    async fn count_likes(&self, _: TalkId) -> Result<u64, StoreError> {
        Ok(0)
    }
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
    async fn export(
        &self,
        _: likes::store::TimeRange,
        _: tokio::sync::mpsc::Sender<likes::store::Exported>,
    ) -> Result<(), StoreError> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn the_observer_reads_once_an_interval_after_its_flush_lands_and_by_a_quarter() {
    let ms = Duration::from_millis;
    let store = Arc::new(TimedReads::default());
    let settings = ObserveSettings {
        interval: Duration::from_secs(1),
        window: Duration::from_secs(3),
    };
    // The clock starts on a whole second: the intervals start at 1 s, 2 s, …
    let clock = clock();
    let (landed_tx, landed) = tokio::sync::watch::channel(UNIX_EPOCH);
    let observer = Observer::new(
        store.clone(),
        Listener::new([TalkId(1)]),
        ServerId::new("observer").unwrap(),
        settings,
    )
    .with_clock(clock)
    .following(landed);
    let shutdown = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(observer.run(shutdown.clone()));
    let start = tokio::time::Instant::now();
    let tick = |n: u64| UNIX_EPOCH + Duration::from_secs(1_790_000_000 + n);
    let land = async |at: u64, of: u64| {
        tokio::time::sleep_until(start + ms(at)).await;
        landed_tx.send_replace(tick(of));
    };

    // Interval 1: its flush lands 10 ms in; the read waits a twentieth.
    land(1_010, 1).await;
    // Interval 2: it lands 100 ms in; the read follows it at once.
    land(2_100, 2).await;
    // Interval 3: a flush landing past the quarter is read with the
    // next interval's; the read comes a quarter in.
    land(3_300, 3).await;
    // Interval 4: a flush announced again for interval 3 reads nothing.
    land(4_020, 3).await;
    tokio::time::sleep_until(start + ms(4_900)).await;
    shutdown.cancel();
    task.await.unwrap();
    let reads = store.at.lock().unwrap().clone();
    assert_eq!(reads, [ms(0), ms(1_050), ms(2_105), ms(3_250), ms(4_250)]);
}
