//! The storage conformance suite: every check runs, unchanged, against
//! every `LikeStore` backend: SQLite in a temporary folder, and Cloud
//! Spanner on the emulator this suite starts (a database per check).

mod checks;
#[path = "../common/emulator.rs"]
mod emulator;
mod export;
mod layout;
mod migrate;
#[path = "../common/python.rs"]
mod python;

use likes::store::{LikeStore, SpannerStore, SqliteStore, StoreOptions};
use std::sync::Arc;
use tempfile::TempDir;

/// Where a check's store lives; opens it with any options.
pub enum Backend {
    /// A SQLite file in a folder removed with the guard.
    Sqlite(TempDir),
    /// A fresh database on the suite's emulator.
    Spanner(String),
}

impl Backend {
    async fn sqlite() -> Self {
        Self::Sqlite(tempfile::tempdir().unwrap())
    }

    async fn spanner() -> Self {
        Self::Spanner(emulator::database().await)
    }

    /// The store, opened with `options`.
    pub async fn open(&self, options: StoreOptions) -> Arc<dyn LikeStore> {
        match self {
            Self::Sqlite(dir) => Arc::new(
                SqliteStore::open(&dir.path().join("likes.db"), &options)
                    .await
                    .unwrap(),
            ),
            Self::Spanner(name) => Arc::new(SpannerStore::connect(name, &options).await.unwrap()),
        }
    }

    /// The store's URL, as `likes` takes it.
    pub fn url(&self) -> String {
        match self {
            Self::Sqlite(dir) => format!("sqlite://{}", dir.path().join("likes.db").display()),
            Self::Spanner(name) => format!("spanner://{name}"),
        }
    }

    /// The store with default options.
    pub async fn store(&self) -> Arc<dyn LikeStore> {
        self.open(StoreOptions::default()).await
    }

    /// The mutations a flush commit storing `likes` new likes of `talks`
    /// talks, each in one 10-second slot, reports: Spanner's count, a cell
    /// each (5 a like row; 5, 3 and 4 for a talk's bucket, totals and
    /// timeline rows); none on SQLite.
    pub fn mutations(&self, likes: u64, talks: u64) -> u64 {
        match self {
            Self::Sqlite(_) => 0,
            Self::Spanner(_) => 5 * likes + 12 * talks,
        }
    }
}

macro_rules! conformance {
    ($backend:ident, $open:expr) => {
        mod $backend {
            use super::*;

            macro_rules! check {
                ($name:ident) => {
                    #[tokio::test]
                    async fn $name() {
                        checks::$name(&$open.await).await;
                    }
                };
            }

            check!(storing_the_same_batch_twice_stores_it_once);
            check!(a_batch_mixing_new_and_stored_likes_counts_only_the_new);
            check!(a_like_twice_in_one_batch_is_stored_once);
            check!(a_named_like_retried_later_and_a_replayed_random_one_are_stored_once);
            check!(flushes_in_the_same_second_add_up_in_one_bucket);
            check!(each_server_owns_its_own_buckets_and_totals);
            check!(a_flush_reads_back_its_servers_running_totals_even_when_replayed);
            check!(the_window_read_returns_only_recent_buckets);
            check!(totals_are_read_only_when_asked);
            check!(a_large_batch_is_stored_exactly);
            check!(a_batch_over_the_commit_limits_is_split_and_stored_exactly);
            check!(a_replay_of_a_partly_stored_split_batch_counts_only_the_rest);
            check!(a_replay_of_a_large_batch_with_stored_likes_among_new_ones_counts_only_the_new);
            check!(a_fresh_store_is_empty_and_answers);
            check!(each_replica_s_audience_report_replaces_its_last);
            check!(the_timeline_counts_each_like_once_in_the_slot_it_was_made_in);
            check!(the_window_read_brings_the_recent_slots_of_talks_with_buckets);

            #[tokio::test]
            async fn every_like_is_exported_exactly_once() {
                export::every_like_is_exported_exactly_once(&$open.await).await;
            }

            #[tokio::test]
            async fn the_documented_per_minute_query_gives_the_api_timeline() {
                export::the_documented_per_minute_query_gives_the_api_timeline(&$open.await).await;
            }

            #[tokio::test]
            async fn bad_ranges_and_folders_are_refused_clearly() {
                export::bad_ranges_and_folders_are_refused_clearly(&$open.await).await;
            }
        }
    };
}

conformance!(sqlite_store, Backend::sqlite());
conformance!(spanner_store, Backend::spanner());
