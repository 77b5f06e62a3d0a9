//! The observer on a real store: growth is published, history is not, and a
//! bucket written after the window has passed still reaches the counters.

use chrono::Utc;
use likes::listener::Listener;
use likes::model::{Like, LikeId, ServerId, TalkId};
use likes::observer::{ObserveSettings, Observer};
use likes::store::{FlushBatch, LikeStore, SqliteStore, StoreOptions};
use std::sync::Arc;
use std::time::Duration;

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

fn batch(server: &str, second: i64, likes: Arc<Vec<Like>>) -> FlushBatch {
    FlushBatch {
        server: ServerId::new(server).unwrap(),
        second,
        likes,
    }
}

#[tokio::test]
async fn history_is_a_starting_point_and_late_buckets_are_caught_by_the_totals() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn LikeStore> = Arc::new(
        SqliteStore::open(&dir.path().join("likes.db"), &StoreOptions::default())
            .await
            .unwrap(),
    );
    let now = Utc::now().timestamp();
    store.flush(batch("a", now, likes(1, 0, 7))).await.unwrap();

    let listener = Listener::new([TalkId(1), TalkId(2)]);
    let settings = ObserveSettings {
        interval: Duration::from_secs(1),
        window: Duration::from_secs(3),
    };
    let mut observer = Observer::new(store.clone(), listener.clone(), settings);
    let mut subscription = listener.subscribe(TalkId(1)).unwrap();
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
