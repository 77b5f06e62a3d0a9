//! The SQLite file's layout: a file written before layouts were numbered
//! (layout 0, likes keyed by 36 characters of text) is rewritten on open
//! without losing or doubling a like, a layout 1 file gains the audience
//! table and keeps its likes, a layout 2 file gains a timeline counted from
//! its likes, a layout 3 file (every id under one index) is rewritten
//! keyed by creation time, a layout 4 file loses its index by talk and
//! keeps its table as it is, and a file from a newer build is refused
//! untouched.

use chrono::{TimeZone, Utc};
use likes::model::{Like, LikeId, Second, ServerId, TalkId};
use likes::store::{Exported, FlushBatch, LikeStore, SqliteStore, StoreOptions, TimeRange};
use rusqlite::{Connection, params};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Layout 0's `Likes`, as older builds created it.
const LAYOUT_0_LIKES: &str = "
CREATE TABLE Likes (
    Id        TEXT    NOT NULL PRIMARY KEY,
    SessionId INTEGER NOT NULL,
    Uuid      TEXT    NOT NULL,
    ServerId  TEXT    NOT NULL,
    CreatedAt INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX LikesBySession ON Likes (SessionId, CreatedAt);
CREATE TABLE LikeSummaryTotals (
    SessionId INTEGER NOT NULL,
    ServerId  TEXT    NOT NULL,
    Likes     INTEGER NOT NULL,
    PRIMARY KEY (SessionId, ServerId)
) WITHOUT ROWID;
";

fn likes() -> Vec<Like> {
    (0..50)
        .map(|n| Like {
            id: LikeId::for_request(TalkId(1 + n % 2), &format!("liker-{n}"), Some("tap")),
            talk: TalkId(1 + n % 2),
            liker: format!("liker-{n}"),
            created_at: Utc.timestamp_opt(1_790_000_000, n as u32 * 1000).unwrap(),
        })
        .collect()
}

/// Writes `likes` into a new layout 0 file the way older builds did.
fn write_layout_0(path: &Path, likes: &[Like]) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(LAYOUT_0_LIKES).unwrap();
    for like in likes {
        conn.execute(
            "INSERT INTO Likes (Id, SessionId, Uuid, ServerId, CreatedAt)
             VALUES (?1, ?2, ?3, 'old', ?4)",
            params![
                like.id.to_string(),
                like.talk.0,
                like.liker,
                like.created_at.timestamp_micros()
            ],
        )
        .unwrap();
    }
    conn.execute(
        "INSERT INTO LikeSummaryTotals VALUES (1, 'old', 25), (2, 'old', 25)",
        [],
    )
    .unwrap();
}

async fn exported_ids(store: &dyn LikeStore) -> Vec<String> {
    let (rows, mut received) = mpsc::channel(1024);
    store.export(TimeRange::default(), rows).await.unwrap();
    let mut ids = Vec::new();
    while let Some(row) = received.recv().await {
        if let Exported::Like(like) = row {
            ids.push(like.id);
        }
    }
    ids
}

/// Every slot of these talks' timelines: (talk, start) → likes.
async fn timeline(store: &dyn LikeStore, talks: &[i32]) -> BTreeMap<(i32, Second), u64> {
    let talks: Vec<TalkId> = talks.iter().map(|&t| TalkId(t)).collect();
    let slots = store.timelines(&talks).await.unwrap();
    slots
        .into_iter()
        .map(|s| ((s.talk.0, s.start), s.likes))
        .collect()
}

fn user_version(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .unwrap()
}

#[tokio::test]
async fn a_layout_0_file_is_rewritten_keeping_every_like_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    let likes = likes();
    write_layout_0(&path, &likes);
    assert_eq!(user_version(&path), 0);

    // Two replicas starting at once (on a file not yet in WAL mode): one
    // rewrites, the other waits for it.
    let options = StoreOptions::default();
    let (store, other) = tokio::join!(
        SqliteStore::open(&path, &options),
        SqliteStore::open(&path, &options)
    );
    let (store, other) = (store.unwrap(), other.unwrap());
    assert_eq!(user_version(&path), 5);
    assert_eq!(other.count_likes(TalkId(1)).await.unwrap(), 25);
    assert_eq!(store.count_likes(TalkId(1)).await.unwrap(), 25);
    assert_eq!(store.count_likes(TalkId(2)).await.unwrap(), 25);
    let mut ids = exported_ids(&store).await;
    ids.sort();
    let mut expected: Vec<String> = likes.iter().map(|like| like.id.to_string()).collect();
    expected.sort();
    assert_eq!(ids, expected, "every id survives, as text again");
    assert_eq!(
        timeline(&store, &[1, 2]).await,
        BTreeMap::from([((1, 1_790_000_000), 25), ((2, 1_790_000_000), 25)]),
        "the old likes are counted into the timeline"
    );

    // A retry of a like stored before the rewrite is still a duplicate.
    let mut retried = likes[..10].to_vec();
    retried.push(Like {
        id: LikeId::for_request(TalkId(1), "new-liker", Some("tap")),
        talk: TalkId(1),
        liker: "new-liker".into(),
        created_at: Utc::now(),
    });
    let report = store
        .flush(FlushBatch {
            server: ServerId::new("new").unwrap(),
            second: 1_790_000_001,
            likes: Arc::new(retried),
        })
        .await
        .unwrap();
    assert_eq!((report.inserted, report.duplicates), (1, 10));
    assert_eq!(store.count_likes(TalkId(1)).await.unwrap(), 26);
    let totals = store.totals().await.unwrap();
    assert_eq!(totals[&TalkId(1)], 26, "old totals are kept and added to");
    drop(store);

    // Opening it again changes nothing.
    let again = SqliteStore::open(&path, &StoreOptions::default())
        .await
        .unwrap();
    assert_eq!(exported_ids(&again).await.len(), 51);

    // An older build still running on the file writes text ids: refused,
    // so a like it retries cannot be stored a second time.
    let stored_as_text = Connection::open(&path).unwrap().execute(
        "INSERT INTO Likes (Id, SessionId, Uuid, ServerId, CreatedAt)
         VALUES (?1, 1, 'liker-0', 'old', 0)",
        params![likes[0].id.to_string()],
    );
    let error = stored_as_text
        .expect_err("a text id is refused")
        .to_string();
    assert!(error.contains("CHECK constraint failed"), "{error}");
    assert_eq!(exported_ids(&again).await.len(), 51);
}

#[tokio::test]
async fn a_layout_1_file_gains_the_audience_table_and_keeps_its_likes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layout-1.db");
    let options = StoreOptions::default();
    let store = SqliteStore::open(&path, &options).await.unwrap();
    let batch = FlushBatch {
        server: ServerId::new("a").unwrap(),
        second: 1_790_000_000,
        likes: Arc::new(likes()),
    };
    store.flush(batch).await.unwrap();
    drop(store);
    Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE LikeAudiences; PRAGMA user_version = 1;")
        .unwrap();

    let store = SqliteStore::open(&path, &options).await.unwrap();
    assert_eq!(user_version(&path), 5);
    assert_eq!(store.count_likes(TalkId(1)).await.unwrap(), 25);
    assert_eq!(store.count_likes(TalkId(2)).await.unwrap(), 25);
    let server = ServerId::new("a").unwrap();
    let second = Utc::now().timestamp();
    store
        .report_audience(&server, second, &[(TalkId(1), 4)])
        .await
        .unwrap();
    let seen = store
        .observe(second, false, &ServerId::new("a").unwrap())
        .await
        .unwrap()
        .audience;
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].talk, seen[0].watching), (TalkId(1), 4));
}

#[tokio::test]
async fn a_layout_2_file_gains_a_timeline_counted_from_its_likes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layout-2.db");
    let options = StoreOptions::default();
    let store = SqliteStore::open(&path, &options).await.unwrap();
    // 90 likes of two talks over 3 servers, one every 7 seconds (before and
    // after the epoch's second 1,790,000,000), each flushed later.
    let start: Second = 1_789_999_970;
    let mut expected: BTreeMap<(i32, Second), u64> = BTreeMap::new();
    for n in 0..90 {
        let talk = 1 + n % 2;
        let at = start + 7 * n as Second;
        let like = Like {
            id: LikeId::for_request(TalkId(talk), &format!("liker-{n}"), Some("tap")),
            talk: TalkId(talk),
            liker: format!("liker-{n}"),
            created_at: Utc.timestamp_opt(at, 999_999_000).unwrap(),
        };
        let server = ServerId::new(format!("s{}", n % 3)).unwrap();
        let batch = FlushBatch {
            server,
            second: at + 2,
            likes: Arc::new(vec![like]),
        };
        store.flush(batch).await.unwrap();
        *expected.entry((talk, at.div_euclid(10) * 10)).or_default() += 1;
    }
    assert_eq!(timeline(&store, &[1, 2]).await, expected);
    drop(store);
    Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE LikeTimeline; PRAGMA user_version = 2;")
        .unwrap();

    let store = SqliteStore::open(&path, &options).await.unwrap();
    assert_eq!(user_version(&path), 5);
    assert_eq!(
        timeline(&store, &[1, 2]).await,
        expected,
        "the rebuilt timeline is the one the flushes wrote"
    );
    assert_eq!(store.count_likes(TalkId(1)).await.unwrap(), 45);
    // Flushes go on adding to the rebuilt rows.
    let last = *expected.keys().last().unwrap();
    let like = Like {
        id: LikeId::for_request(TalkId(last.0), "one-more", Some("tap")),
        talk: TalkId(last.0),
        liker: "one-more".into(),
        created_at: Utc.timestamp_opt(last.1 + 3, 0).unwrap(),
    };
    let batch = FlushBatch {
        server: ServerId::new("s0").unwrap(),
        second: last.1 + 4,
        likes: Arc::new(vec![like]),
    };
    store.flush(batch).await.unwrap();
    *expected.get_mut(&last).unwrap() += 1;
    assert_eq!(timeline(&store, &[1, 2]).await, expected);
    drop(store);
    let again = SqliteStore::open(&path, &options).await.unwrap();
    assert_eq!(timeline(&again, &[1, 2]).await, expected, "counted once");
}

/// Layout 3's `Likes` and timeline, as the builds that wrote it created them.
const LAYOUT_3: &str = "
CREATE TABLE Likes (
    Id        BLOB    NOT NULL UNIQUE CHECK (typeof(Id) = 'blob' AND length(Id) = 16),
    SessionId INTEGER NOT NULL,
    Uuid      TEXT    NOT NULL,
    ServerId  TEXT    NOT NULL,
    CreatedAt INTEGER NOT NULL
);
CREATE INDEX LikesBySession ON Likes (SessionId, CreatedAt);
CREATE TABLE LikeTimeline (
    SessionId INTEGER NOT NULL,
    Start     INTEGER NOT NULL,
    ServerId  TEXT    NOT NULL,
    Likes     INTEGER NOT NULL,
    PRIMARY KEY (SessionId, Start, ServerId)
) WITHOUT ROWID;
INSERT INTO LikeTimeline VALUES (1, 1790000000, 'old', 25), (2, 1790000000, 'old', 25);
PRAGMA user_version = 3;
";

#[tokio::test]
async fn a_layout_3_file_is_rewritten_keyed_by_time_keeping_every_like_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layout-3.db");
    // Half the likes named by a clientMutationId, half with random ids.
    let mut likes = likes();
    for like in likes.iter_mut().skip(25) {
        like.id = LikeId::for_request(like.talk, &like.liker, None);
    }
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(LAYOUT_3).unwrap();
    for like in &likes {
        conn.execute(
            "INSERT INTO Likes VALUES (?1, ?2, ?3, 'old', ?4)",
            params![
                like.id.0.as_bytes().as_slice(),
                like.talk.0,
                like.liker,
                like.created_at.timestamp_micros()
            ],
        )
        .unwrap();
    }
    drop(conn);

    let store = SqliteStore::open(&path, &StoreOptions::default())
        .await
        .unwrap();
    assert_eq!(user_version(&path), 5);
    let mut ids = exported_ids(&store).await;
    ids.sort();
    let mut expected: Vec<String> = likes.iter().map(|like| like.id.to_string()).collect();
    expected.sort();
    assert_eq!(ids, expected, "every like survives once");
    assert_eq!(store.count_likes(TalkId(2)).await.unwrap(), 25);
    assert_eq!(
        timeline(&store, &[1, 2]).await,
        BTreeMap::from([((1, 1_790_000_000), 25), ((2, 1_790_000_000), 25)]),
        "the timeline is kept, not counted again"
    );

    // A retried mutation of an old named like (a new value, made later),
    // and a replayed flush of an old random one, are both duplicates.
    let retried = Like {
        created_at: Utc::now(),
        ..likes[0].clone()
    };
    let report = store
        .flush(FlushBatch {
            server: ServerId::new("new").unwrap(),
            second: 1_790_000_001,
            likes: Arc::new(vec![retried, likes[30].clone()]),
        })
        .await
        .unwrap();
    assert_eq!((report.inserted, report.duplicates), (0, 2));
    assert_eq!(exported_ids(&store).await.len(), 50);
}

/// Where `name`'s B-tree starts in the file at `path`, if it exists.
fn root_page(path: &Path, name: &str) -> Option<i64> {
    Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT rootpage FROM sqlite_schema WHERE name = ?1",
            [name],
            |row| row.get(0),
        )
        .ok()
}

#[tokio::test]
async fn a_layout_4_file_loses_its_index_by_talk_and_keeps_its_likes_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("layout-4.db");
    let likes = likes();
    let store = SqliteStore::open(&path, &StoreOptions::default())
        .await
        .unwrap();
    let batch = FlushBatch {
        server: ServerId::new("old").unwrap(),
        second: 1_790_000_000,
        likes: Arc::new(likes.clone()),
    };
    assert_eq!(store.flush(batch).await.unwrap().inserted, 50);
    drop(store);
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE INDEX LikesBySession ON Likes (SessionId, CreatedAt);
             PRAGMA user_version = 4;",
        )
        .unwrap();
    let likes_root = root_page(&path, "Likes");
    assert!(root_page(&path, "LikesBySession").is_some());

    let store = SqliteStore::open(&path, &StoreOptions::default())
        .await
        .unwrap();
    assert_eq!(user_version(&path), 5);
    assert_eq!(
        root_page(&path, "LikesBySession"),
        None,
        "the index is gone"
    );
    assert_eq!(
        root_page(&path, "Likes"),
        likes_root,
        "the table is not copied"
    );
    assert_eq!(exported_ids(&store).await.len(), 50);
    assert_eq!(store.count_likes(TalkId(2)).await.unwrap(), 25);
}

#[tokio::test]
async fn a_file_from_a_newer_build_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE Future (X INTEGER); PRAGMA user_version = 7;")
        .unwrap();

    let error = SqliteStore::open(&path, &StoreOptions::default())
        .await
        .err()
        .expect("a newer layout is refused")
        .to_string();
    assert!(
        error.contains("has layout 7, newer than this build's 5"),
        "{error}"
    );
    let tables: Vec<String> = Connection::open(&path)
        .unwrap()
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tables, ["Future"]);
    assert_eq!(user_version(&path), 7);
}
