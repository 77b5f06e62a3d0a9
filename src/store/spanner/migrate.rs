//! `likes migrate`: brings a Spanner database to `schema.sql`. Creates the
//! database when missing (and, on the emulator only, its instance), then
//! applies the schema's statements whose object does not exist yet, checks
//! the result, and counts stored likes the timeline lacks into it
//! (`recount`). It also keeps old versions of the data for
//! `VERSION_RETENTION` (point-in-time recovery; backups are scheduled
//! outside, see docs/runbook.md). Safe to run twice, or from several
//! replicas at once: whoever loses a race waits, then finds the objects there.

use super::endpoint::admin_endpoint;
use super::schema::{SCHEMA_SQL, SchemaStatement, created_object, schema_statements};
use crate::store::StoreError;
use crate::store::url::spanner_name_parts;
use google_cloud_gax::error::rpc::Code;
use google_cloud_lro::Poller;
use google_cloud_spanner::Error as SpannerError;
use google_cloud_spanner::client::{DatabaseAdmin, InstanceAdmin, Spanner};
use google_cloud_spanner_admin_instance_v1::model::Instance;
use std::collections::HashSet;
use std::time::Duration;
use tokio::time::Instant;

/// What `migrate` did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Migration {
    /// The emulator instance was missing and was created.
    pub created_instance: bool,
    /// The database was missing and was created with the whole schema.
    pub created_database: bool,
    /// Objects created by schema updates of an existing database.
    pub applied: Vec<String>,
    /// `version_retention_period` was not `VERSION_RETENTION` and was set.
    pub set_retention: bool,
    /// Stored likes counted into the timeline, which lacked them.
    pub recounted: u64,
}

/// How long Spanner keeps every old version of the data: reads and exports
/// at any moment of the last week (point-in-time recovery). The default is
/// one hour.
pub const VERSION_RETENTION: &str = "7d";

/// Sets `version_retention_period` to `VERSION_RETENTION` unless it is
/// already; true if it was set. The database resource reports the period
/// (Cloud Spanner), the schema's DDL lists the option once set (Cloud
/// Spanner and the emulator, which reports no period): either will do.
async fn keep_versions(databases: &DatabaseAdmin, database: &str) -> Result<bool, SpannerError> {
    let current = databases.get_database().set_name(database).send().await?;
    if current.version_retention_period == VERSION_RETENTION {
        return Ok(false);
    }
    let ddl = databases
        .get_database_ddl()
        .set_database(database)
        .send()
        .await?;
    if retention_in_ddl(&ddl.statements).as_deref() == Some(VERSION_RETENTION) {
        return Ok(false);
    }
    let database_id = database.rsplit('/').next().unwrap_or(database);
    databases
        .update_database_ddl()
        .set_database(database)
        .set_statements([format!(
            "ALTER DATABASE `{database_id}` SET OPTIONS (version_retention_period = '{VERSION_RETENTION}')"
        )])
        .poller()
        .until_done()
        .await?;
    Ok(true)
}

/// The `version_retention_period` the last `ALTER DATABASE … SET OPTIONS`
/// among `statements` sets, if any does.
fn retention_in_ddl(statements: &[String]) -> Option<String> {
    statements.iter().rev().find_map(|statement| {
        let flat = statement.split_whitespace().collect::<Vec<_>>().join(" ");
        let upper = flat.to_ascii_uppercase();
        if !upper.starts_with("ALTER DATABASE") {
            return None;
        }
        let at = flat.to_ascii_lowercase().find("version_retention_period")?;
        let value = flat[at..].split_once('=')?.1.trim_start();
        let value = value.strip_prefix(['\'', '"'])?;
        let end = value.find(['\'', '"'])?;
        Some(value[..end].to_owned())
    })
}

/// Keeps versions (`keep_versions`), then checks the migrated database has
/// every column the service writes (a table made from an older
/// `schema.sql` may lack some, and only creating missing tables and
/// indexes cannot fix that), then counts into the timeline the stored
/// likes it lacks.
async fn verified(
    spanner: &Spanner,
    databases: &DatabaseAdmin,
    database: &str,
    mut migration: Migration,
) -> Result<Migration, StoreError> {
    migration.set_retention = keep_versions(databases, database)
        .await
        .map_err(|e| admin_error("setting version_retention_period", e))?;
    let client = spanner
        .database_client(database)
        .build()
        .await
        .map_err(|e| StoreError::Unavailable(format!("opening {database}: {e}")))?;
    match super::schema::inspect(&client).await {
        Ok(_) => {}
        Err(StoreError::Internal(why)) => {
            return Err(StoreError::Internal(format!(
                "{database} differs from schema.sql ({why}); add them with ALTER TABLE as schema.sql declares them"
            )));
        }
        Err(other) => return Err(other),
    }
    if !migration.created_database {
        let recounted = super::recount::recount(&client)
            .await
            .map_err(|e| admin_error("counting stored likes into the timeline", e))?;
        migration.recounted = recounted.likes;
    }
    Ok(migration)
}

/// How long `migrate` keeps trying when the database is still being created
/// or another process is changing its schema at the same moment.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Brings `database` (`projects/P/instances/I/databases/D`) to `schema.sql`.
pub async fn migrate(database: &str) -> Result<Migration, StoreError> {
    let wanted = schema_statements(SCHEMA_SQL).map_err(StoreError::Internal)?;
    let (project, instance, database_id) = spanner_name_parts(database).ok_or_else(|| {
        StoreError::Internal(format!(
            "{database:?} is not projects/P/instances/I/databases/D"
        ))
    })?;
    let instance_name = format!("projects/{project}/instances/{instance}");
    let emulator = std::env::var("SPANNER_EMULATOR_HOST").ok();
    let rest = std::env::var("SPANNER_EMULATOR_REST_HOST").ok();
    let endpoint =
        admin_endpoint(emulator.as_deref(), rest.as_deref()).map_err(StoreError::Internal)?;

    let spanner = Spanner::builder()
        .build()
        .await
        .map_err(|e| StoreError::Unavailable(format!("building the Spanner client: {e}")))?;
    let mut databases = spanner.database_admin_builder();
    let mut instances = spanner.instance_admin_builder();
    if let Some(endpoint) = &endpoint {
        databases = databases.with_endpoint(endpoint.clone());
        instances = instances.with_endpoint(endpoint.clone());
    }
    let databases = databases
        .build()
        .await
        .map_err(|e| StoreError::Unavailable(format!("building the database admin client: {e}")))?;

    let mut migration = Migration::default();
    if endpoint.is_some() {
        let instances = instances.build().await.map_err(|e| {
            StoreError::Unavailable(format!("building the instance admin client: {e}"))
        })?;
        migration.created_instance =
            ensure_emulator_instance(&instances, project, instance).await?;
    }

    let deadline = Instant::now() + SETTLE_TIMEOUT;
    match databases.get_database().set_name(database).send().await {
        Ok(_) => {}
        // The emulator's REST gateway answers a read of something missing
        // with HTTP 500 ("failed to marshal error message"), so there any
        // failed read means: try to create it.
        Err(e) if is_not_found(&e) || endpoint.is_some() => {
            let created = databases
                .create_database()
                .set_parent(&instance_name)
                .set_create_statement(format!("CREATE DATABASE `{database_id}`"))
                .set_extra_statements(wanted.iter().map(|s| s.ddl.clone()))
                .poller()
                .until_done()
                .await;
            match created {
                Ok(_) => {
                    migration.created_database = true;
                    return verified(&spanner, &databases, database, migration).await;
                }
                // Someone else created it meanwhile: compare once it is ready.
                Err(e) if is_already_exists(&e) => {}
                Err(e) => return Err(admin_error("creating the database", e)),
            }
        }
        Err(e) => return Err(admin_error("reading the database", e)),
    }
    wait_until_ready(&databases, database, deadline).await?;

    let mut pause = FIRST_PAUSE;
    loop {
        let attempt = async {
            let existing = current_objects(&databases, database).await?;
            let missing: Vec<&SchemaStatement> = wanted
                .iter()
                .filter(|s| !existing.contains(&s.object))
                .collect();
            if !missing.is_empty() {
                databases
                    .update_database_ddl()
                    .set_database(database)
                    .set_statements(missing.iter().map(|s| s.ddl.clone()))
                    .poller()
                    .until_done()
                    .await?;
            }
            Ok::<_, SpannerError>(missing.iter().map(|s| s.object.clone()).collect())
        };
        match attempt.await {
            Ok(applied) => {
                migration.applied = applied;
                return verified(&spanner, &databases, database, migration).await;
            }
            // Another process changing the schema at the same moment (e.g. a
            // duplicate name): look again after a pause.
            Err(e) if is_worth_retrying(&e) && Instant::now() + pause < deadline => {
                tracing::info!(error = %e, "schema update did not go through; looking again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
            }
            Err(e) => return Err(admin_error("updating the database schema", e)),
        }
    }
}

const FIRST_PAUSE: Duration = Duration::from_millis(250);
const MAX_PAUSE: Duration = Duration::from_secs(4);

/// Waits until a database another process created is ready for schema
/// changes (while it is being created they fail with FAILED_PRECONDITION).
async fn wait_until_ready(
    databases: &DatabaseAdmin,
    database: &str,
    deadline: Instant,
) -> Result<(), StoreError> {
    let mut pause = FIRST_PAUSE;
    loop {
        let state = match databases.get_database().set_name(database).send().await {
            Ok(found) => found.state.name().unwrap_or("UNKNOWN").to_owned(),
            Err(e) if is_worth_retrying(&e) || is_not_found(&e) => format!("unreadable ({e})"),
            Err(e) => return Err(admin_error("reading the database", e)),
        };
        // The emulator leaves the state unset; it creates databases at once.
        if matches!(
            state.as_str(),
            "READY" | "READY_OPTIMIZING" | "STATE_UNSPECIFIED"
        ) {
            return Ok(());
        }
        if Instant::now() + pause >= deadline {
            return Err(StoreError::Unavailable(format!(
                "{database} is still not ready ({state}) after {}s",
                SETTLE_TIMEOUT.as_secs()
            )));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// Creates the emulator's instance if missing; true if it did. (Creating
/// is the only reliable test: the gateway answers a read of a missing
/// instance with HTTP 500, and one that exists with 409 to a create.)
async fn ensure_emulator_instance(
    instances: &InstanceAdmin,
    project: &str,
    instance: &str,
) -> Result<bool, StoreError> {
    let created = instances
        .create_instance()
        .set_parent(format!("projects/{project}"))
        .set_instance_id(instance)
        .set_instance(
            Instance::new()
                .set_config(format!(
                    "projects/{project}/instanceConfigs/emulator-config"
                ))
                .set_display_name(instance)
                .set_node_count(1),
        )
        .poller()
        .until_done()
        .await;
    match created {
        Ok(_) => Ok(true),
        Err(e) if is_already_exists(&e) => Ok(false),
        Err(e) => Err(admin_error("creating the emulator instance", e)),
    }
}

/// The objects the database's schema has now.
async fn current_objects(
    databases: &DatabaseAdmin,
    database: &str,
) -> Result<HashSet<String>, SpannerError> {
    let ddl = databases
        .get_database_ddl()
        .set_database(database)
        .send()
        .await?;
    // Statements this code did not write (e.g. ALTERs) create nothing it
    // needs, so they are ignored rather than refused.
    Ok(ddl
        .statements
        .iter()
        .filter_map(|s| created_object(s).ok())
        .collect())
}

/// The REST gateway answers "already exists" as HTTP 409 and "not found" as
/// 404, without always a parsed status; both forms are accepted.
fn is_already_exists(e: &SpannerError) -> bool {
    e.http_status_code() == Some(409) || e.status().is_some_and(|s| s.code == Code::AlreadyExists)
}

fn is_not_found(e: &SpannerError) -> bool {
    e.http_status_code() == Some(404) || e.status().is_some_and(|s| s.code == Code::NotFound)
}

/// Errors of a schema change that may go through when tried again: a
/// concurrent change, a database still being created, an overloaded or
/// unreachable service. Permission and syntax errors are final.
fn is_worth_retrying(e: &SpannerError) -> bool {
    if let Some(code) = e.http_status_code() {
        return code == 409 || code == 429 || code >= 500;
    }
    e.is_io()
        || e.is_connect()
        || e.status().is_some_and(|s| {
            matches!(
                s.code,
                Code::FailedPrecondition
                    | Code::Aborted
                    | Code::AlreadyExists
                    | Code::Unavailable
                    | Code::DeadlineExceeded
                    | Code::ResourceExhausted
            )
        })
}

fn admin_error(doing: &str, e: SpannerError) -> StoreError {
    if is_worth_retrying(&e) {
        StoreError::Unavailable(format!("{doing}: {e}"))
    } else {
        StoreError::Internal(format!("{doing}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::retention_in_ddl;

    #[test]
    fn the_retention_is_read_from_the_last_alter_database_that_sets_it() {
        let ddl = |statements: &[&str]| {
            retention_in_ddl(&statements.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(
            ddl(&["CREATE TABLE Likes (Id STRING(36)) PRIMARY KEY (Id)"]),
            None
        );
        assert_eq!(
            ddl(&["ALTER DATABASE dd SET OPTIONS (version_retention_period = '7d')"]),
            Some("7d".into())
        );
        assert_eq!(
            ddl(&[
                "ALTER DATABASE `dd` SET OPTIONS (version_retention_period = '1h')",
                "ALTER DATABASE `dd` SET OPTIONS (\n  version_retention_period=\"3d\"\n)",
            ]),
            Some("3d".into())
        );
        assert_eq!(
            ddl(&["ALTER DATABASE dd SET OPTIONS (optimizer_version = 6)"]),
            None
        );
    }
}
