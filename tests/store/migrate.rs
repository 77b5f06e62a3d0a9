//! `migrate` and schema checks on the emulator: a database holding part of
//! the schema gets only what it lacks; one that differs from `schema.sql`
//! is refused, or, for an extra index, counted in every commit.

use crate::emulator;
use chrono::Utc;
use google_cloud_lro::Poller;
use google_cloud_spanner::client::Spanner;
use likes::model::{Like, LikeId, ServerId, TalkId};
use likes::store::spanner::{self, SCHEMA_SQL, admin_endpoint, schema_statements};
use likes::store::{FlushBatch, LikeStore, SpannerStore, StoreOptions};
use std::sync::Arc;

/// Creates a database on the suite's instance with exactly these statements.
async fn create_database(name: &str, statements: Vec<String>) -> String {
    // The suite's instance exists once a database was migrated into it.
    let migrated = emulator::database().await;
    let (instance, _) = migrated.rsplit_once("/databases/").unwrap();
    let emulator = emulator::emulator();
    let endpoint = admin_endpoint(Some(&emulator.grpc_host), Some(&emulator.rest_host))
        .unwrap()
        .unwrap();
    let admin = Spanner::builder()
        .build()
        .await
        .unwrap()
        .database_admin_builder()
        .with_endpoint(endpoint)
        .build()
        .await
        .unwrap();
    admin
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
