//! `migrate` and schema checks on the emulator: a database holding part of
//! the schema gets only what it lacks; one that differs from `schema.sql`
//! is refused, or, for an extra index, counted in every commit; one whose
//! likes predate the timeline gets them counted into it, once.

use crate::emulator;
use chrono::TimeZone;
use chrono::Utc;
use google_cloud_lro::Poller;
use google_cloud_spanner::client::{DatabaseAdmin, Spanner};
use likes::model::{Like, LikeId, ServerId, TalkId};
use likes::store::spanner::{self, SCHEMA_SQL, admin_endpoint, schema_statements};
use likes::store::{FlushBatch, LikeStore, SpannerStore, StoreOptions};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The emulator's database admin client.
async fn admin() -> DatabaseAdmin {
    let emulator = emulator::emulator();
    let endpoint = admin_endpoint(Some(&emulator.grpc_host), Some(&emulator.rest_host))
        .unwrap()
        .unwrap();
    Spanner::builder()
        .build()
        .await
        .unwrap()
        .database_admin_builder()
        .with_endpoint(endpoint)
        .build()
        .await
        .unwrap()
}

/// Creates a database on the suite's instance with exactly these statements.
async fn create_database(name: &str, statements: Vec<String>) -> String {
    // The suite's instance exists once a database was migrated into it.
    let migrated = emulator::database().await;
    let (instance, _) = migrated.rsplit_once("/databases/").unwrap();
    admin()
        .await
        .create_database()
        .set_parent(instance)
        .set_create_statement(format!("CREATE DATABASE `{name}`"))
        .set_extra_statements(statements)
        .poller()
        .until_done()
        .await
        .unwrap();
    format!("{instance}/databases/{name}")
}

fn ddl(object: &str) -> String {
    schema_statements(SCHEMA_SQL)
        .unwrap()
        .into_iter()
        .find(|s| s.object == object)
        .unwrap()
        .ddl
}

#[tokio::test]
async fn a_database_with_part_of_the_schema_gets_only_what_it_lacks() {
    let database = create_database("partial", vec![ddl("table likes")]).await;

    let migration = spanner::migrate(&database).await.unwrap();
    assert!(!migration.created_database);
    assert_eq!(
        migration.applied,
        [
            "table likesummaryservers",
            "table likesummarytotals",
            "table liketimeline",
            "table likeaudiences"
        ]
    );
    let again = spanner::migrate(&database).await.unwrap();
    assert!(again.applied.is_empty() && !again.created_database);

    let store = SpannerStore::connect(&database, &StoreOptions::default())
        .await
        .unwrap();
    store.ping().await.unwrap();
}

#[tokio::test]
async fn a_table_lacking_a_column_is_refused_by_name() {
    let old_buckets = "CREATE TABLE LikeSummaryServers (Second INT64 NOT NULL, \
        SessionId INT64 NOT NULL, ServerId STRING(64) NOT NULL, Likes INT64 NOT NULL) \
        PRIMARY KEY (Second, SessionId, ServerId)";
    let database = create_database(
        "old-buckets",
        vec![
            ddl("table likes"),
            old_buckets.into(),
            ddl("table likesummarytotals"),
        ],
    )
    .await;
    let error = spanner::migrate(&database).await.unwrap_err().to_string();
    assert!(error.contains("LikeSummaryServers.SecondAt"), "{error}");
    let error = SpannerStore::connect(&database, &StoreOptions::default())
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(error.contains("LikeSummaryServers.SecondAt"), "{error}");
}

#[tokio::test]
async fn a_secondary_index_on_likes_is_counted_in_every_commit() {
    let index = "CREATE INDEX LikesBySession ON Likes (SessionId, CreatedAt)";
    let mut statements: Vec<String> = schema_statements(SCHEMA_SQL)
        .unwrap()
        .into_iter()
        .map(|s| s.ddl)
        .collect();
    statements.push(index.into());
    let database = create_database("indexed", statements).await;
    let store = SpannerStore::connect(&database, &StoreOptions::default())
        .await
        .unwrap();
    // 5 cells and 3 index cells a like: at most 9,999 likes a commit.
    let likes: Vec<Like> = (0..20_000)
        .map(|n| {
            let liker = format!("l-{n}");
            Like {
                id: LikeId::for_request(TalkId(1), &liker, None),
                talk: TalkId(1),
                liker,
                created_at: Utc::now(),
            }
        })
        .collect();
    let report = store
        .flush(FlushBatch {
            server: ServerId::new("a").unwrap(),
            second: Utc::now().timestamp(),
            likes: Arc::new(likes),
        })
        .await
        .unwrap();
    assert_eq!((report.inserted, report.commits), (20_000, 3));
    assert_eq!(store.count_likes(TalkId(1)).await.unwrap(), 20_000);
}

#[tokio::test]
async fn likes_stored_before_the_timeline_are_counted_into_it_once() {
    let database = emulator::database().await;
    let store = SpannerStore::connect(&database, &StoreOptions::default())
        .await
        .unwrap();
    // 120 likes of 3 talks over 20 minutes, from 2 servers.
    let start = 1_790_000_000;
    let mut expected: BTreeMap<(i32, i64), u64> = BTreeMap::new();
    for (n, server) in (0..120).zip(["a", "b"].iter().cycle()) {
        let talk = 1 + n % 3;
        let at = start + i64::from(n) * 10 + i64::from(n % 7);
        let liker = format!("old-{n}");
        let like = Like {
            id: LikeId::for_request(TalkId(talk), &liker, Some("m")),
            talk: TalkId(talk),
            liker,
            created_at: Utc.timestamp_opt(at, 500_000_000).unwrap(),
        };
        let batch = FlushBatch {
            server: ServerId::new(*server).unwrap(),
            second: at + 1,
            likes: Arc::new(vec![like]),
        };
        store.flush(batch).await.unwrap();
        *expected.entry((talk, at.div_euclid(10) * 10)).or_default() += 1;
    }
    let timeline = async || {
        let talks = [TalkId(1), TalkId(2), TalkId(3)];
        let slots = store.timelines(&talks).await.unwrap();
        slots
            .into_iter()
            .map(|s| ((s.talk.0, s.start), s.likes))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(timeline().await, expected);
    // As a database from before the timeline: its likes and totals only.
    admin()
        .await
        .update_database_ddl()
        .set_database(&database)
        .set_statements(["DROP TABLE LikeTimeline"])
        .poller()
        .until_done()
        .await
        .unwrap();

    let migration = spanner::migrate(&database).await.unwrap();
    assert_eq!(migration.applied, ["table liketimeline"]);
    assert_eq!(migration.recounted, 120);
    assert_eq!(timeline().await, expected, "as the flushes had written it");
    let again = spanner::migrate(&database).await.unwrap();
    assert_eq!((again.applied.len(), again.recounted), (0, 0));
    assert_eq!(timeline().await, expected, "counted once");
}
