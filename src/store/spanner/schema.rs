//! The schema: `schema.sql` split into the tables and indexes it creates
//! (what `migrate` applies), and what a live database must have for this
//! code to write to it, read from its INFORMATION_SCHEMA: the columns the
//! flush writes, and the secondary indexes that make each row cost more
//! mutations (which the commit planner must count).

use crate::store::StoreError;
use google_cloud_spanner::Error as SpannerError;
use google_cloud_spanner::client::DatabaseClient;
use google_cloud_spanner::statement::Statement;
use std::collections::{BTreeMap, BTreeSet};

/// The Spanner DDL, the schema's single source of truth.
pub const SCHEMA_SQL: &str = include_str!("../../../schema.sql");

/// One statement of `schema.sql`, and the object it creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatement {
    /// `TABLE likes`, `INDEX likesbysession`: kind and name, lower case
    /// (Spanner names are case-insensitive).
    pub object: String,
    /// The statement, comments removed, without its `;`.
    pub ddl: String,
}

/// Splits DDL text into statements and names what each creates. Only
/// `CREATE TABLE` and `CREATE [UNIQUE] [NULL_FILTERED] INDEX` are accepted:
/// an applied statement is recognised by the object it created.
pub fn schema_statements(sql: &str) -> Result<Vec<SchemaStatement>, String> {
    let without_comments: String = sql
        .lines()
        .map(|line| line.split_once("--").map_or(line, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|ddl| {
            Ok(SchemaStatement {
                object: created_object(ddl)?,
                ddl: ddl.to_owned(),
            })
        })
        .collect()
}

pub(super) fn created_object(ddl: &str) -> Result<String, String> {
    let words: Vec<String> = ddl
        .split(|c: char| c.is_whitespace() || c == '(')
        .filter(|w| !w.is_empty())
        .take(5)
        .map(|w| w.trim_matches('`').to_ascii_lowercase())
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let (kind, name) = match words.as_slice() {
        ["create", "table", name, ..] => ("table", *name),
        ["create", "index", name, ..]
        | ["create", "unique" | "null_filtered", "index", name, ..]
        | ["create", "unique", "null_filtered", "index", name, ..] => ("index", *name),
        _ => {
            let head: String = ddl.chars().take(40).collect();
            return Err(format!(
                "schema statement {head:?}… is neither CREATE TABLE nor CREATE INDEX"
            ));
        }
    };
    Ok(format!("{kind} {name}"))
}

/// The columns this code writes, per table.
const REQUIRED: [(&str, &[&str]); 5] = [
    (
        "Likes",
        &["Id", "SessionId", "Uuid", "ServerId", "CreatedAt"],
    ),
    (
        "LikeSummaryServers",
        &["Second", "SessionId", "ServerId", "Likes", "SecondAt"],
    ),
    ("LikeSummaryTotals", &["SessionId", "ServerId", "Likes"]),
    (
        "LikeAudiences",
        &["ServerId", "Second", "SessionIds", "Watching", "SecondAt"],
    ),
    ("LikeTimeline", &["SessionId", "Start", "ServerId", "Likes"]),
];

/// Extra mutations per row written, from secondary indexes, per table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexCost {
    /// Per `Likes` row.
    pub likes: u64,
    /// Per `LikeSummaryServers` row.
    pub buckets: u64,
    /// Per `LikeSummaryTotals` row.
    pub totals: u64,
    /// Per `LikeTimeline` row.
    pub timeline: u64,
}

/// One row of `INFORMATION_SCHEMA.INDEX_COLUMNS`.
#[derive(Debug, Clone)]
pub struct IndexColumn {
    /// The indexed table.
    pub table: String,
    /// The index (`PRIMARY_KEY` for the table's key).
    pub index: String,
    /// `PRIMARY_KEY` or `INDEX`.
    pub kind: String,
}

/// Checks that every required column exists and counts what secondary
/// indexes add per row: each index entry is counted as the index's columns
/// plus the table's key columns (an upper bound; over-counting only cuts
/// commits a little early).
pub fn assess(
    columns: &BTreeSet<(String, String)>,
    index_columns: &[IndexColumn],
) -> Result<IndexCost, String> {
    let missing: Vec<String> = REQUIRED
        .iter()
        .flat_map(|(table, required)| {
            required
                .iter()
                .filter(|c| !columns.contains(&(table.to_string(), c.to_string())))
                .map(move |c| format!("{table}.{c}"))
        })
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing columns: {}", missing.join(", ")));
    }
    let mut key_columns: BTreeMap<&str, u64> = BTreeMap::new();
    let mut per_index: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for column in index_columns {
        if column.kind == "PRIMARY_KEY" {
            *key_columns.entry(&column.table).or_default() += 1;
        } else {
            *per_index.entry((&column.table, &column.index)).or_default() += 1;
        }
    }
    let extra = |table: &str| -> u64 {
        per_index
            .iter()
            .filter(|((t, _), _)| *t == table)
            .map(|(_, n)| n + key_columns.get(table).copied().unwrap_or(0))
            .sum()
    };
    Ok(IndexCost {
        likes: extra("Likes"),
        buckets: extra("LikeSummaryServers"),
        totals: extra("LikeSummaryTotals"),
        timeline: extra("LikeTimeline"),
    })
}

const COLUMNS_SQL: &str = "
SELECT TABLE_NAME, COLUMN_NAME FROM INFORMATION_SCHEMA.COLUMNS
WHERE TABLE_SCHEMA = '' AND TABLE_NAME IN UNNEST(@tables)";
const INDEX_COLUMNS_SQL: &str = "
SELECT TABLE_NAME, INDEX_NAME, INDEX_TYPE FROM INFORMATION_SCHEMA.INDEX_COLUMNS
WHERE TABLE_SCHEMA = '' AND TABLE_NAME IN UNNEST(@tables)";

/// Reads the schema and assesses it (see `assess`). A database lacking
/// what is needed is an `Internal` error that names what is missing.
pub async fn inspect(client: &DatabaseClient) -> Result<IndexCost, StoreError> {
    let (columns, index_columns) = read(client).await.map_err(super::classify)?;
    assess(&columns, &index_columns).map_err(StoreError::Internal)
}

async fn read(
    client: &DatabaseClient,
) -> Result<(BTreeSet<(String, String)>, Vec<IndexColumn>), SpannerError> {
    let tables: Vec<String> = REQUIRED.iter().map(|(t, _)| t.to_string()).collect();
    let snapshot = client.read_only_transaction().build().await?;
    let statement = Statement::builder(COLUMNS_SQL)
        .add_param("tables", tables.clone())
        .build();
    let mut rows = snapshot.execute_query(statement).await?;
    let mut columns = BTreeSet::new();
    while let Some(row) = rows.next().await.transpose()? {
        columns.insert((row.get("TABLE_NAME")?, row.get("COLUMN_NAME")?));
    }
    let statement = Statement::builder(INDEX_COLUMNS_SQL)
        .add_param("tables", tables)
        .build();
    let mut rows = snapshot.execute_query(statement).await?;
    let mut index_columns = Vec::new();
    while let Some(row) = rows.next().await.transpose()? {
        index_columns.push(IndexColumn {
            table: row.get("TABLE_NAME")?,
            index: row.get("INDEX_NAME")?,
            kind: row.get("INDEX_TYPE")?,
        });
    }
    Ok((columns, index_columns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_names_what_each_statement_creates() {
        let statements = schema_statements(SCHEMA_SQL).unwrap();
        let objects: Vec<&str> = statements.iter().map(|s| s.object.as_str()).collect();
        assert_eq!(
            objects,
            [
                "table likes",
                "table likesummaryservers",
                "table likesummarytotals",
                "table liketimeline",
                "table likeaudiences"
            ]
        );
        assert!(statements.iter().all(|s| !s.ddl.contains("--")));
    }

    #[test]
    fn statements_are_recognised_as_spanner_prints_them() {
        let ddl = "CREATE TABLE Likes (\n  Id STRING(36) NOT NULL,\n) PRIMARY KEY(Id);\n\
                   CREATE UNIQUE NULL_FILTERED INDEX `ByX` ON T(X);\n\
                   CREATE INDEX ByY ON T(Y)";
        let objects: Vec<String> = schema_statements(ddl)
            .unwrap()
            .into_iter()
            .map(|s| s.object)
            .collect();
        assert_eq!(objects, ["table likes", "index byx", "index byy"]);
    }

    #[test]
    fn statements_that_create_nothing_nameable_are_refused() {
        let error = schema_statements("ALTER TABLE Likes ADD COLUMN X INT64").unwrap_err();
        assert!(error.contains("neither CREATE TABLE nor CREATE INDEX"));
    }

    fn all_columns() -> BTreeSet<(String, String)> {
        REQUIRED
            .iter()
            .flat_map(|(t, cs)| cs.iter().map(|c| (t.to_string(), c.to_string())))
            .collect()
    }

    fn column(table: &str, index: &str, kind: &str) -> IndexColumn {
        IndexColumn {
            table: table.into(),
            index: index.into(),
            kind: kind.into(),
        }
    }

    fn keys() -> Vec<IndexColumn> {
        vec![
            column("Likes", "PRIMARY_KEY", "PRIMARY_KEY"),
            column("LikeSummaryServers", "PRIMARY_KEY", "PRIMARY_KEY"),
            column("LikeSummaryServers", "PRIMARY_KEY", "PRIMARY_KEY"),
            column("LikeSummaryServers", "PRIMARY_KEY", "PRIMARY_KEY"),
            column("LikeSummaryTotals", "PRIMARY_KEY", "PRIMARY_KEY"),
            column("LikeSummaryTotals", "PRIMARY_KEY", "PRIMARY_KEY"),
            column("LikeTimeline", "PRIMARY_KEY", "PRIMARY_KEY"),
            column("LikeTimeline", "PRIMARY_KEY", "PRIMARY_KEY"),
            column("LikeTimeline", "PRIMARY_KEY", "PRIMARY_KEY"),
        ]
    }

    #[test]
    fn the_shipped_schema_adds_nothing_per_row() {
        assert_eq!(assess(&all_columns(), &keys()), Ok(IndexCost::default()));
    }

    #[test]
    fn a_secondary_index_on_likes_is_counted_per_like() {
        // An index on (SessionId, CreatedAt): 2 columns + the key column Id.
        let mut index = keys();
        index.push(column("Likes", "LikesBySession", "INDEX"));
        index.push(column("Likes", "LikesBySession", "INDEX"));
        let cost = assess(&all_columns(), &index).unwrap();
        assert_eq!(cost.likes, 3);
        assert_eq!((cost.buckets, cost.totals, cost.timeline), (0, 0, 0));
    }

    #[test]
    fn a_missing_column_is_named() {
        let mut columns = all_columns();
        columns.remove(&("LikeSummaryServers".into(), "SecondAt".into()));
        assert_eq!(
            assess(&columns, &keys()),
            Err("missing columns: LikeSummaryServers.SecondAt".into())
        );
    }
}
