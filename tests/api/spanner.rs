//! Many replicas, one Cloud Spanner database: real `likes` processes on the
//! emulator this suite starts, and `likes migrate` from the command line.

use crate::emulator;
use crate::helpers::{ServerProcess, Subscriber, assert_acknowledged, eventually, like, liked};
use likes::model::TalkId;
use likes::store::{LikeStore, SpannerStore, StoreOptions};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

#[tokio::test]
async fn three_replicas_on_one_spanner_database_count_every_like_exactly() {
    let database = emulator::database().await;
    let store_url = format!("spanner://{database}");
    let mut replicas = Vec::new();
    for id in ["replica-a", "replica-b", "replica-c"] {
        replicas.push(ServerProcess::start_on(&store_url, id, &[]).await);
    }
    let protocols = ["graphql-transport-ws", "graphql-ws", "graphql-transport-ws"];
    let mut subscribers = Vec::new();
    for (replica, protocol) in replicas.iter().zip(protocols) {
        subscribers.push(Subscriber::start(&replica.ws_url, 1, protocol).await);
    }
    // The subscribe message follows the connection acknowledgement; no like
    // can be published sooner than a flush and an observer read anyway.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // 25 likes on talk 1 at 100 ms spacing while 80 go to talks 2 and 3,
    // each like to the next replica in turn.
    let client = reqwest::Client::new();
    let on_talk = async {
        for n in 0..25 {
            let replica = &replicas[n % 3];
            let mutation = format!("m-{n}");
            let answer = like(
                &client,
                &replica.url,
                1,
                &format!("fan-{n}"),
                Some(&mutation),
            )
            .await;
            assert_acknowledged(&answer);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let elsewhere = async {
        for n in 0..80 {
            let replica = &replicas[n % 3];
            let session = 2 + (n % 2) as i32;
            assert_acknowledged(
                &like(&client, &replica.url, session, &format!("o-{n}"), None).await,
            );
            tokio::time::sleep(Duration::from_millis(31)).await;
        }
    };
    tokio::join!(on_talk, elsewhere);

    for subscriber in &subscribers {
        assert_eq!(
            subscriber.wait_for_sum(25, Duration::from_secs(8)).await,
            25
        );
    }
    let expected = HashMap::from([(1, 25), (2, 40), (3, 40)]);
    for replica in &replicas {
        for (&session, &total) in &expected {
            let seen = eventually(Duration::from_secs(5), total, || {
                liked(&client, &replica.url, session)
            })
            .await;
            assert_eq!(
                seen, total,
                "Session.liked of talk {session} on {}",
                replica.url
            );
        }
    }
    // Nothing more may arrive: no double counting after the fact.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for subscriber in &subscribers {
        let events = subscriber.events();
        assert_eq!(subscriber.sum(), 25, "events: {events:?}");
        assert!(events.iter().all(|e| e["sessionId"] == 1), "{events:?}");
        assert_eq!(events.last().unwrap()["total"], 25, "{events:?}");
    }

    let store = SpannerStore::connect(&database, &StoreOptions::default())
        .await
        .unwrap();
    for (&session, &total) in &expected {
        assert_eq!(
            store.count_likes(TalkId(session)).await.unwrap(),
            total as u64
        );
    }
    let totals = store.totals().await.unwrap();
    assert_eq!(totals.len(), 3);
    for (&session, &total) in &expected {
        assert_eq!(totals[&TalkId(session)], total as u64);
    }
    let writers: BTreeSet<String> = store
        .observe(0, false, &likes::model::ServerId::new("a").unwrap())
        .await
        .unwrap()
        .buckets
        .iter()
        .map(|b| b.server.to_string())
        .collect();
    assert_eq!(
        writers,
        BTreeSet::from(["replica-a".into(), "replica-b".into(), "replica-c".into()]),
        "each replica wrote its own buckets"
    );

    for subscriber in subscribers {
        subscriber.close().await;
    }
    for replica in replicas {
        assert!(replica.terminate().await.success());
    }
}

async fn migrate(database: &str) -> (bool, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_likes"))
        .args(["migrate", "--store", &format!("spanner://{database}")])
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn migrate_creates_the_database_keeping_a_week_of_versions_then_finds_nothing_to_do() {
    emulator::emulator();
    let database = "projects/test/instances/cli/databases/twice";
    let (ok, text) = migrate(database).await;
    assert!(ok, "{text}");
    assert!(
        text.contains("created the database with the whole schema"),
        "{text}"
    );
    assert!(
        text.contains("set version_retention_period to 7d"),
        "{text}"
    );
    // The second run reads the database's retention back: 7d, nothing to do.
    let (ok, text) = migrate(database).await;
    assert!(ok, "{text}");
    assert!(text.contains("the schema was up to date"), "{text}");
    assert!(!text.contains("version_retention_period"), "{text}");

    let store = SpannerStore::connect(database, &StoreOptions::default()).await;
    assert!(store.is_ok(), "the migrated database serves");
}

#[tokio::test]
async fn three_migrations_racing_on_a_new_database_all_succeed_and_one_creates_it() {
    emulator::emulator();
    let database = "projects/test/instances/race/databases/raced";
    let (a, b, c) = tokio::join!(migrate(database), migrate(database), migrate(database));
    let outcomes = [a, b, c];
    for (ok, text) in &outcomes {
        assert!(ok, "{text}");
    }
    let creators = outcomes
        .iter()
        .filter(|(_, text)| text.contains("created the database"))
        .count();
    assert_eq!(creators, 1, "{outcomes:?}");
    SpannerStore::connect(database, &StoreOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn serving_a_database_that_was_never_migrated_says_to_run_migrate() {
    // The instance exists (another database was migrated into it), the database not.
    let migrated = emulator::database().await;
    let (instance, _) = migrated.rsplit_once("/databases/").unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_likes"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(["--store", &format!("spanner://{instance}/databases/never")])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("run `likes migrate --store spanner://"),
        "{stderr}"
    );
}

#[tokio::test]
async fn likes_held_in_memory_at_sigterm_are_stored_in_spanner() {
    let database = emulator::database().await;
    let store_url = format!("spanner://{database}");
    // A long flush interval: every like below is still only in memory at SIGTERM.
    let flags = ["--flush-interval", "1h"];
    let server = ServerProcess::start_on(&store_url, "replica-a", &flags).await;
    let client = reqwest::Client::new();
    for n in 0..300 {
        let session = 1 + n % 3;
        assert_acknowledged(&like(&client, &server.url, session, &format!("l-{n}"), None).await);
    }
    let status = server.terminate().await;
    assert!(status.success(), "exit status {status}");

    let store = SpannerStore::connect(&database, &StoreOptions::default())
        .await
        .unwrap();
    for session in 1..=3 {
        assert_eq!(store.count_likes(TalkId(session)).await.unwrap(), 100);
        assert_eq!(store.totals().await.unwrap()[&TalkId(session)], 100);
    }
}
