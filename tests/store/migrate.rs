//! `migrate` on the emulator: a database holding part of the schema gets
//! only what it lacks.

use crate::emulator;
use google_cloud_lro::Poller;
use google_cloud_spanner::client::Spanner;
use likes::store::spanner::{self, SCHEMA_SQL, admin_endpoint, schema_statements};
use likes::store::{LikeStore, SpannerStore, StoreOptions};

#[tokio::test]
async fn a_database_with_part_of_the_schema_gets_only_what_it_lacks() {
    // The suite's instance exists once a database was migrated into it.
    let migrated = emulator::database().await;
    let (instance, _) = migrated.rsplit_once("/databases/").unwrap();
    let database = format!("{instance}/databases/partial");
    let statements = schema_statements(SCHEMA_SQL).unwrap();
    let likes_table = statements
        .iter()
        .find(|s| s.object == "table likes")
        .unwrap();

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
        .set_create_statement("CREATE DATABASE `partial`")
        .set_extra_statements([likes_table.ddl.clone()])
        .poller()
        .until_done()
        .await
        .unwrap();

    let migration = spanner::migrate(&database).await.unwrap();
    assert!(!migration.created_database);
    assert_eq!(
        migration.applied,
        ["table likesummaryservers", "table likesummarytotals"]
    );
    let again = spanner::migrate(&database).await.unwrap();
    assert!(again.applied.is_empty() && !again.created_database);

    let store = SpannerStore::connect(&database, &StoreOptions::default())
        .await
        .unwrap();
    store.ping().await.unwrap();
}
