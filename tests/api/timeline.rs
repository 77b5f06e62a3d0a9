//! `Session.timeline` over HTTP: likes made at known moments are read back
//! in their intervals, which add up to `Session.liked`, and the timeline
//! outlives a restart. (On Spanner: `spanner.rs`.)

use crate::helpers::{assert_acknowledged, error_code, eventually, spawn_app_with};
use chrono::DateTime;
use likes::store::StoreUrl;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A talk's timeline: (start in seconds since the epoch, likes).
pub async fn timeline(
    client: &reqwest::Client,
    url: &str,
    session: i32,
    every: i64,
) -> Vec<(i64, i64)> {
    let answer = crate::helpers::post_graphql(
        client,
        url,
        "query($s: Int!, $every: Int) { session(sessionId: $s) { timeline(every: $every) { start likes } } }",
        json!({ "s": session, "every": every }),
    )
    .await;
    let intervals = answer["data"]["session"]["timeline"]
        .as_array()
        .unwrap_or_else(|| panic!("no timeline in {answer}"));
    intervals
        .iter()
        .map(|interval| {
            let start = interval["start"].as_str().unwrap();
            assert!(start.ends_with('Z') && start.len() == 20, "{start}");
            let start = DateTime::parse_from_rfc3339(start).unwrap().timestamp();
            (start, interval["likes"].as_i64().unwrap())
        })
        .collect()
}

/// Checks that `timeline` is aligned to `every` and has no gap.
pub fn assert_whole(timeline: &[(i64, i64)], every: i64) {
    for (i, (start, _)) in timeline.iter().enumerate() {
        assert_eq!(start % every, 0, "{timeline:?}");
        if i > 0 {
            assert_eq!(start - timeline[i - 1].0, every, "{timeline:?}");
        }
    }
}

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

/// Sums `likes` per interval of `every` seconds, listing the empty ones
/// between the first and the last.
fn per_interval(likes: &BTreeMap<i64, i64>, every: i64) -> Vec<(i64, i64)> {
    let mut cut: BTreeMap<i64, i64> = BTreeMap::new();
    for (&second, &n) in likes {
        *cut.entry(second.div_euclid(every) * every).or_default() += n;
    }
    let (first, last) = (*cut.keys().next().unwrap(), *cut.keys().last().unwrap());
    (0..=(last - first) / every)
        .map(|i| first + i * every)
        .map(|start| (start, cut.get(&start).copied().unwrap_or(0)))
        .collect()
}

#[tokio::test]
async fn likes_made_at_known_moments_are_read_back_in_their_intervals_after_a_restart_too() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreUrl::Sqlite(dir.path().join("likes.db"));
    let on_file = store.clone();
    let app = spawn_app_with(move |config| config.store = on_file).await;
    let (client, url) = (app.client.clone(), app.url());

    // Two bursts, 3 and 5 likes of talk 4, in two successive 10-second
    // slots, each well inside its slot: the moment of every like is known
    // to the slot.
    let mut made: BTreeMap<i64, i64> = BTreeMap::new();
    for (burst, size) in [3, 5].into_iter().enumerate() {
        let into_slot = now().as_millis() % 10_000;
        if burst > 0 || into_slot > 8_000 {
            tokio::time::sleep(Duration::from_millis((10_300 - into_slot) as u64)).await;
        }
        let before = now().as_secs() as i64;
        for n in 0..size {
            let answer = app.like(4, &format!("burst-{burst}-{n}"), None).await;
            assert_acknowledged(&answer);
        }
        let after = now().as_secs() as i64;
        assert_eq!(before / 10, after / 10, "a burst stayed in its slot");
        made.insert(before, size);
    }
    // `liked` counts the replica's own likes at once; the timeline, once
    // they are stored and the observer has read them.
    let stored = eventually(Duration::from_secs(5), 8, || async {
        let read = timeline(&client, &url, 4, 60).await;
        read.iter().map(|(_, n)| n).sum::<i64>()
    })
    .await;
    assert_eq!(stored, 8);
    for every in [10, 20, 60, 3_600] {
        let read = timeline(&client, &url, 4, every).await;
        assert_eq!(read, per_interval(&made, every), "every {every}");
        assert_whole(&read, every);
    }
    let by_minute = timeline(&client, &url, 4, 60).await;
    assert_eq!(
        by_minute.iter().map(|(_, n)| n).sum::<i64>(),
        app.liked(4).await
    );
    assert!(timeline(&client, &url, 5, 60).await.is_empty());
    let wrong = app
        .graphql(
            "{ session(sessionId: 4) { timeline(every: 25) { likes } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&wrong), "BAD_USER_INPUT", "{wrong}");
    let tens = timeline(&client, &url, 4, 10).await;
    app.stop().await.unwrap();

    // The next process reads it whole before it takes its first request.
    let app = spawn_app_with(move |config| config.store = store).await;
    assert_eq!(timeline(&app.client, &app.url(), 4, 10).await, tens);
    assert_eq!(app.liked(4).await, 8);
    app.stop().await.unwrap();
}
