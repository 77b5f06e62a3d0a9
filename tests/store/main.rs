//! The storage conformance suite: every check runs, unchanged, against
//! every `LikeStore` backend (SQLite here; Cloud Spanner joins it later).

mod checks;

use likes::store::{LikeStore, SqliteStore, StoreOptions};
use std::sync::Arc;
use tempfile::TempDir;

/// A fresh SQLite store in its own folder (dropped with the guard).
async fn sqlite() -> (Arc<dyn LikeStore>, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("likes.db"), &StoreOptions::default())
        .await
        .unwrap();
    (Arc::new(store), dir)
}

macro_rules! conformance {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;

            macro_rules! check {
                ($name:ident) => {
                    #[tokio::test]
                    async fn $name() {
                        let (store, _guard) = $open.await;
                        checks::$name(store).await;
                    }
                };
            }

            check!(storing_the_same_batch_twice_stores_it_once);
            check!(a_batch_mixing_new_and_stored_likes_counts_only_the_new);
            check!(flushes_in_the_same_second_add_up_in_one_bucket);
            check!(each_server_owns_its_own_buckets_and_totals);
            check!(the_window_read_returns_only_recent_buckets);
            check!(totals_are_read_only_when_asked);
            check!(a_large_batch_is_stored_exactly);
            check!(a_fresh_store_is_empty_and_answers);
        }
    };
}

conformance!(sqlite_store, sqlite());
