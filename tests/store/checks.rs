//! The checks of the conformance suite, generic over `LikeStore`: each
//! opens its backend's store and must pass on every backend.

use crate::Backend;
use chrono::{TimeZone, Utc};
use likes::model::{Like, LikeId, Second, ServerId, TalkId};
use likes::store::{
    CommitLimits, FlushBatch, LikeStore, SlotCount, StoreOptions, SummaryBucket, recent_slots_from,
};
use std::collections::HashMap;
use std::sync::Arc;

const NOW: Second = 1_790_000_000;

fn like(talk: i32, n: usize) -> Like {
    Like {
        id: LikeId::for_request(TalkId(talk), &format!("liker-{n}"), Some("m")),
        talk: TalkId(talk),
        liker: format!("liker-{n}"),
        created_at: Utc.timestamp_opt(NOW, n as u32 * 1000).unwrap(),
    }
}

fn batch(server: &str, second: Second, likes: Vec<Like>) -> FlushBatch {
    FlushBatch {
        server: ServerId::new(server).unwrap(),
        second,
        likes: Arc::new(likes),
    }
}

fn server(id: &str) -> ServerId {
    ServerId::new(id).unwrap()
}

fn bucket(second: Second, talk: i32, server: &str, likes: u64) -> SummaryBucket {
    SummaryBucket {
        second,
        talk: TalkId(talk),
        server: ServerId::new(server).unwrap(),
        likes,
    }
}

/// A like of `talk` created at `second` (and `n` milliseconds).
fn like_at(talk: i32, n: usize, second: Second) -> Like {
    Like {
        created_at: Utc.timestamp_opt(second, n as u32 * 1000).unwrap(),
        ..like(talk, n)
    }
}

/// (talk, slot start, likes), in order.
fn slots(mut slots: Vec<SlotCount>) -> Vec<(i32, Second, u64)> {
    slots.sort_by_key(|s| (s.talk, s.start));
    slots.iter().map(|s| (s.talk.0, s.start, s.likes)).collect()
}

/// Each talk's whole timeline, summed.
async fn timeline_sums(store: &dyn LikeStore, talks: &[i32]) -> HashMap<TalkId, u64> {
    let talks: Vec<TalkId> = talks.iter().map(|&t| TalkId(t)).collect();
    let mut sums = HashMap::new();
    for slot in store.timelines(&talks).await.unwrap() {
        *sums.entry(slot.talk).or_default() += slot.likes;
    }
    sums
}

fn sorted(mut buckets: Vec<SummaryBucket>) -> Vec<SummaryBucket> {
    buckets.sort_by(|a, b| (a.second, a.talk, &a.server).cmp(&(b.second, b.talk, &b.server)));
    buckets
}

pub async fn storing_the_same_batch_twice_stores_it_once(backend: &Backend) {
    let store = backend.store().await;
    let likes: Vec<Like> = (0..5).map(|n| like(1, n)).collect();
    let first = store.flush(batch("a", NOW, likes.clone())).await.unwrap();
    assert_eq!((first.inserted, first.duplicates), (5, 0));
    assert_eq!(
        first.summary_rows, 2,
        "one talk: its bucket and totals rows"
    );
    assert_eq!(
        first.mutations,
        backend.mutations(5, 1),
        "as the store counts them"
    );
    let replay = store.flush(batch("a", NOW + 1, likes)).await.unwrap();
    assert_eq!((replay.inserted, replay.duplicates), (0, 5));
    assert_eq!(replay.summary_rows, 0, "nothing new to count");
    assert_eq!(replay.mutations, 0, "nothing new to write");

    assert_eq!(store.count_likes(TalkId(1)).await.unwrap(), 5);
    assert_eq!(
        store.totals().await.unwrap(),
        HashMap::from([(TalkId(1), 5)])
    );
    let seen = store.observe(NOW - 10, false, &server("a")).await.unwrap();
    assert_eq!(
        seen.buckets,
        vec![bucket(NOW, 1, "a", 5)],
        "the replay wrote no bucket"
    );
}

pub async fn a_batch_mixing_new_and_stored_likes_counts_only_the_new(backend: &Backend) {
    let store = backend.store().await;
    store
        .flush(batch("a", NOW, vec![like(1, 0), like(1, 1)]))
        .await
        .unwrap();
    let mixed = vec![like(1, 1), like(1, 2), like(2, 0), like(1, 0)];
    let report = store.flush(batch("b", NOW + 1, mixed)).await.unwrap();
    assert_eq!((report.inserted, report.duplicates), (2, 2));
    assert_eq!(report.summary_rows, 4, "two talks got new likes");
    assert_eq!(
        report.mutations,
        backend.mutations(2, 2),
        "only the commit that stored them counts"
    );
    let totals = store.totals().await.unwrap();
    assert_eq!(totals, HashMap::from([(TalkId(1), 3), (TalkId(2), 1)]));
    let seen = sorted(
        store
            .observe(NOW + 1, true, &server("a"))
            .await
            .unwrap()
            .buckets,
    );
    assert_eq!(
        seen,
        vec![bucket(NOW + 1, 1, "b", 1), bucket(NOW + 1, 2, "b", 1),]
    );
}

pub async fn flushes_in_the_same_second_add_up_in_one_bucket(backend: &Backend) {
    let store = backend.store().await;
    store
        .flush(batch("a", NOW, vec![like(1, 0), like(1, 1)]))
        .await
        .unwrap();
    store
        .flush(batch("a", NOW, vec![like(1, 2)]))
        .await
        .unwrap();
    let seen = store.observe(NOW, true, &server("a")).await.unwrap();
    assert_eq!(seen.buckets, vec![bucket(NOW, 1, "a", 3)]);
    assert_eq!(seen.totals, Some(HashMap::from([(TalkId(1), 3)])));
}

pub async fn each_server_owns_its_own_buckets_and_totals(backend: &Backend) {
    let store = backend.store().await;
    store
        .flush(batch("a", NOW, vec![like(1, 0)]))
        .await
        .unwrap();
    store
        .flush(batch("b", NOW, vec![like(1, 1), like(1, 2)]))
        .await
        .unwrap();
    let seen = store.observe(NOW, true, &server("a")).await.unwrap();
    assert_eq!(
        sorted(seen.buckets),
        vec![bucket(NOW, 1, "a", 1), bucket(NOW, 1, "b", 2),]
    );
    assert_eq!(seen.totals, Some(HashMap::from([(TalkId(1), 3)])));
    assert_eq!(seen.own_totals, Some(HashMap::from([(TalkId(1), 1)])));
    let seen = store.observe(NOW, true, &server("b")).await.unwrap();
    assert_eq!(seen.own_totals, Some(HashMap::from([(TalkId(1), 2)])));
    let seen = store.observe(NOW, false, &server("b")).await.unwrap();
    assert_eq!(seen.own_totals, None, "read with the totals only");
}

pub async fn a_flush_reads_back_its_servers_running_totals_even_when_replayed(backend: &Backend) {
    let store = backend.store().await;
    store
        .flush(batch("b", NOW, vec![like(1, 9), like(3, 9)]))
        .await
        .unwrap();
    let first = store
        .flush(batch("a", NOW, vec![like(1, 0), like(1, 1), like(2, 0)]))
        .await
        .unwrap();
    let own = |pairs: &[(i32, u64)]| {
        pairs
            .iter()
            .map(|&(talk, n)| (TalkId(talk), n))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    assert_eq!(first.own_totals, own(&[(1, 2), (2, 1)]));
    // A replay stores nothing, and still reads back what the first try
    // left; a talk "a" never stored a like of reads 0.
    let replay = store
        .flush(batch(
            "a",
            NOW + 1,
            vec![like(1, 0), like(2, 0), like(3, 9)],
        ))
        .await
        .unwrap();
    assert_eq!(replay.inserted, 0);
    assert_eq!(replay.own_totals, own(&[(1, 2), (2, 1), (3, 0)]));
}

pub async fn the_window_read_returns_only_recent_buckets(backend: &Backend) {
    let store = backend.store().await;
    store
        .flush(batch("a", NOW - 30, vec![like(1, 0)]))
        .await
        .unwrap();
    store
        .flush(batch("a", NOW - 5, vec![like(1, 1)]))
        .await
        .unwrap();
    store
        .flush(batch("a", NOW, vec![like(2, 0)]))
        .await
        .unwrap();
    let seen = sorted(
        store
            .observe(NOW - 10, true, &server("a"))
            .await
            .unwrap()
            .buckets,
    );
    assert_eq!(
        seen,
        vec![bucket(NOW - 5, 1, "a", 1), bucket(NOW, 2, "a", 1),]
    );
    // Totals still count what the window no longer shows.
    assert_eq!(store.totals().await.unwrap()[&TalkId(1)], 2);
}

pub async fn totals_are_read_only_when_asked(backend: &Backend) {
    let store = backend.store().await;
    store
        .flush(batch("a", NOW, vec![like(1, 0)]))
        .await
        .unwrap();
    assert_eq!(
        store
            .observe(NOW, false, &server("a"))
            .await
            .unwrap()
            .totals,
        None
    );
    assert!(
        store
            .observe(NOW, true, &server("a"))
            .await
            .unwrap()
            .totals
            .is_some()
    );
}

pub async fn a_large_batch_is_stored_exactly(backend: &Backend) {
    let store = backend.store().await;
    let likes: Vec<Like> = (0..20_000).map(|n| like(1 + (n % 4) as i32, n)).collect();
    let report = store.flush(batch("a", NOW, likes)).await.unwrap();
    assert_eq!(report.inserted, 20_000);
    if let Backend::Spanner(_) = backend {
        // 5 mutations a like: 100,000 in all, over Spanner's 80,000 a commit.
        assert_eq!(report.commits, 2);
    }
    let totals = store.totals().await.unwrap();
    for talk in 1..=4 {
        assert_eq!(totals[&TalkId(talk)], 5_000);
        assert_eq!(store.count_likes(TalkId(talk)).await.unwrap(), 5_000);
    }
}

pub async fn a_fresh_store_is_empty_and_answers(backend: &Backend) {
    let store = backend.store().await;
    store.ping().await.unwrap();
    assert!(store.totals().await.unwrap().is_empty());
    let seen = store.observe(0, true, &server("a")).await.unwrap();
    assert!(seen.buckets.is_empty());
    assert_eq!(seen.totals, Some(HashMap::new()));
    assert_eq!(store.count_likes(TalkId(1)).await.unwrap(), 0);
}

pub async fn a_like_twice_in_one_batch_is_stored_once(backend: &Backend) {
    let store = backend.store().await;
    let report = store
        .flush(batch("a", NOW, vec![like(1, 0), like(1, 0), like(1, 1)]))
        .await
        .unwrap();
    assert_eq!((report.inserted, report.duplicates), (2, 1));
    assert_eq!(store.count_likes(TalkId(1)).await.unwrap(), 2);
    assert_eq!(
        store.totals().await.unwrap(),
        HashMap::from([(TalkId(1), 2)])
    );
}

pub async fn a_named_like_retried_later_and_a_replayed_random_one_are_stored_once(
    backend: &Backend,
) {
    let store = backend.store().await;
    let random = Like {
        id: LikeId::for_request(TalkId(1), "liker-r", None),
        ..like(1, 1)
    };
    let first = vec![like(1, 0), random.clone()];
    store.flush(batch("a", NOW, first.clone())).await.unwrap();
    // The client retries its mutation a second later: a new like value
    // with the same (named) id. The random one comes again only in a
    // replay of its flush, unchanged.
    let retried = Like {
        created_at: Utc.timestamp_opt(NOW + 1, 0).unwrap(),
        ..like(1, 0)
    };
    let report = store
        .flush(batch("b", NOW + 1, vec![retried, random, like(1, 2)]))
        .await
        .unwrap();
    assert_eq!((report.inserted, report.duplicates), (1, 2));
    assert_eq!(store.count_likes(TalkId(1)).await.unwrap(), 3);
    assert_eq!(timeline_sums(store.as_ref(), &[1]).await[&TalkId(1)], 3);
}

/// Limits so small that 60 likes over 3 talks need several commits on
/// every backend, whatever it counts per row.
fn tiny_limits() -> StoreOptions {
    StoreOptions {
        commit_limits: Some(CommitLimits {
            max_mutations: 100,
            max_bytes: 100 * 1024 * 1024,
        }),
        ..StoreOptions::default()
    }
}

fn sixty_likes() -> Vec<Like> {
    (0..60).map(|n| like(1 + (n % 3) as i32, n)).collect()
}

pub async fn a_batch_over_the_commit_limits_is_split_and_stored_exactly(backend: &Backend) {
    let store = backend.open(tiny_limits()).await;
    let report = store.flush(batch("a", NOW, sixty_likes())).await.unwrap();
    assert_eq!((report.inserted, report.duplicates), (60, 0));
    assert!(
        report.commits >= 4,
        "60 likes in {} commits",
        report.commits
    );

    let expected = HashMap::from([(TalkId(1), 20), (TalkId(2), 20), (TalkId(3), 20)]);
    let seen = store.observe(NOW, true, &server("a")).await.unwrap();
    assert_eq!(
        sorted(seen.buckets),
        vec![
            bucket(NOW, 1, "a", 20),
            bucket(NOW, 2, "a", 20),
            bucket(NOW, 3, "a", 20)
        ],
        "the commits of one flush add up in its buckets"
    );
    assert_eq!(seen.totals, Some(expected.clone()));
    for talk in 1..=3 {
        assert_eq!(store.count_likes(TalkId(talk)).await.unwrap(), 20);
    }

    assert_eq!(
        timeline_sums(&*store, &[1, 2, 3]).await,
        expected,
        "the commits of one flush add up in its timeline rows"
    );

    let replay = store
        .flush(batch("a", NOW + 1, sixty_likes()))
        .await
        .unwrap();
    assert_eq!((replay.inserted, replay.duplicates), (0, 60));
    assert_eq!(store.totals().await.unwrap(), expected);
    assert_eq!(timeline_sums(&*store, &[1, 2, 3]).await, expected);
}

pub async fn a_replay_of_a_partly_stored_split_batch_counts_only_the_rest(backend: &Backend) {
    // As after a flush whose first commits landed before it failed.
    let store = backend.open(tiny_limits()).await;
    let likes = sixty_likes();
    store
        .flush(batch("a", NOW, likes[..25].to_vec()))
        .await
        .unwrap();
    let report = store.flush(batch("a", NOW + 1, likes)).await.unwrap();
    assert_eq!((report.inserted, report.duplicates), (35, 25));
    let totals = store.totals().await.unwrap();
    assert_eq!(totals.values().sum::<u64>(), 60);
    assert_eq!(
        totals,
        HashMap::from([(TalkId(1), 20), (TalkId(2), 20), (TalkId(3), 20)])
    );
    assert_eq!(timeline_sums(&*store, &[1, 2, 3]).await, totals);
}

pub async fn a_replay_of_a_large_batch_with_stored_likes_among_new_ones_counts_only_the_new(
    backend: &Backend,
) {
    // The first 40 likes stored before, then one in every 50: runs of
    // stored likes, single ones among new ones, and runs of new ones,
    // however a backend groups its rows.
    let store = backend.open(StoreOptions::default()).await;
    let likes: Vec<Like> = (0..300).map(|n| like(1 + (n % 3) as i32, n)).collect();
    let stored: Vec<Like> = (likes.iter().enumerate())
        .filter(|(n, _)| *n < 40 || n % 50 == 45)
        .map(|(_, like)| like.clone())
        .collect();
    let first = store.flush(batch("a", NOW, stored)).await.unwrap();
    assert_eq!((first.inserted, first.duplicates), (46, 0));
    let report = store.flush(batch("a", NOW + 1, likes)).await.unwrap();
    assert_eq!((report.inserted, report.duplicates), (254, 46));
    let totals = store.totals().await.unwrap();
    let expected = HashMap::from([(TalkId(1), 100), (TalkId(2), 100), (TalkId(3), 100)]);
    assert_eq!(totals, expected);
    assert_eq!(timeline_sums(&*store, &[1, 2, 3]).await, expected);
    for talk in 1..=3 {
        assert_eq!(store.count_likes(TalkId(talk)).await.unwrap(), 100);
    }
}

pub async fn the_timeline_counts_each_like_once_in_the_slot_it_was_made_in(backend: &Backend) {
    let store = backend.store().await;
    // Made over three slots, flushed by two servers, some only later.
    let a = vec![
        like_at(1, 0, NOW + 1),
        like_at(1, 1, NOW + 9),
        like_at(1, 2, NOW + 10),
        like_at(2, 3, NOW + 5),
    ];
    let first = store.flush(batch("a", NOW + 11, a.clone())).await.unwrap();
    assert_eq!(first.timeline_rows, 3, "talk 1's two slots, talk 2's one");
    let b = vec![
        like_at(1, 4, NOW + 3),
        like_at(1, 5, NOW + 25),
        like_at(1, 0, NOW + 1),
    ];
    let second = store.flush(batch("b", NOW + 26, b)).await.unwrap();
    assert_eq!((second.inserted, second.duplicates), (2, 1));
    assert_eq!(second.timeline_rows, 2, "the stored like is not counted");
    let replay = store.flush(batch("a", NOW + 27, a)).await.unwrap();
    assert_eq!(replay.timeline_rows, 0);

    let talks = [TalkId(1), TalkId(2), TalkId(3)];
    assert_eq!(
        slots(store.timelines(&talks).await.unwrap()),
        [(1, NOW, 3), (1, NOW + 10, 1), (1, NOW + 20, 1), (2, NOW, 1)],
        "summed over servers, in the slot of each like's creation time"
    );
    assert_eq!(
        slots(store.timelines(&[TalkId(2)]).await.unwrap()),
        [(2, NOW, 1)]
    );
    assert!(store.timelines(&[TalkId(3)]).await.unwrap().is_empty());
    let totals = store.totals().await.unwrap();
    assert_eq!(timeline_sums(&*store, &[1, 2]).await, totals);
}

pub async fn the_window_read_brings_the_recent_slots_of_talks_with_buckets(backend: &Backend) {
    let store = backend.store().await;
    let since = NOW + 100;
    let from = recent_slots_from(since);
    assert_eq!(from, NOW + 90);
    // Talk 1: an old like, and two made before the window, flushed in it.
    store
        .flush(batch("a", NOW, vec![like_at(1, 0, NOW)]))
        .await
        .unwrap();
    let late = vec![like_at(1, 1, NOW + 85), like_at(1, 2, NOW + 95)];
    store.flush(batch("a", since + 1, late)).await.unwrap();
    // Talk 2: likes in recent slots, but its bucket is older than the window.
    store
        .flush(batch("b", since - 1, vec![like_at(2, 3, NOW + 98)]))
        .await
        .unwrap();
    // Talk 3: flushed in the window by two servers.
    let three = |n| vec![like_at(3, n, since)];
    store.flush(batch("a", since, three(4))).await.unwrap();
    store.flush(batch("b", since + 2, three(5))).await.unwrap();

    let seen = store.observe(since, false, &server("a")).await.unwrap();
    assert_eq!(
        slots(seen.slots),
        [(1, NOW + 90, 1), (3, NOW + 100, 2)],
        "only talks with buckets in the window, only from the slot before it"
    );
}

pub async fn each_replica_s_audience_report_replaces_its_last(backend: &Backend) {
    let store = backend.store().await;
    let report = |server: &str, second: Second, audience: Vec<(i32, u64)>| {
        let store = store.clone();
        let server = ServerId::new(server).unwrap();
        async move {
            let audience: Vec<_> = audience.into_iter().map(|(t, n)| (TalkId(t), n)).collect();
            store
                .report_audience(&server, second, &audience)
                .await
                .unwrap();
        }
    };
    report("a", NOW, vec![(1, 3), (2, 1)]).await;
    report("b", NOW + 1, vec![(1, 4)]).await;
    report("gone", NOW - 30, vec![(1, 50)]).await;
    // A newer report of "a" replaces its whole last one.
    report("a", NOW + 2, vec![(2, 5)]).await;
    let read = |since| {
        let store = store.clone();
        async move {
            let mut seen: Vec<(String, Second, i32, u64)> = store
                .observe(since, false, &server("a"))
                .await
                .unwrap()
                .audience
                .into_iter()
                .map(|w| (w.server.to_string(), w.second, w.talk.0, w.watching))
                .collect();
            seen.sort();
            seen
        }
    };
    assert_eq!(
        read(NOW - 10).await,
        [("a".into(), NOW + 2, 2, 5), ("b".into(), NOW + 1, 1, 4)]
    );
    // A replica with no audience left reports none.
    report("b", NOW + 3, vec![]).await;
    assert_eq!(read(NOW - 10).await, [("a".into(), NOW + 2, 2, 5)]);
    assert_eq!(
        read(NOW - 40).await.len(),
        2,
        "an old report is only outside the window"
    );
}
