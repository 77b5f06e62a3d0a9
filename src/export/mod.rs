//! `likes export`: every like stored in a time range, from either backend,
//! as BigQuery newline-delimited JSON, one file per UTC day, plus
//! `schema.json`. Rows stream from one store snapshot through a bounded
//! channel to the day files, so memory does not grow with the likes.

mod files;

pub use files::{DayFiles, Written};

use crate::config::ExportConfig;
use crate::store::{self, Exported, StoreOptions, StoreUrl, TimeRange};
use anyhow::{Context, bail};
use chrono::{DateTime, NaiveTime, Utc};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::Path;
use tokio::sync::mpsc;

/// The columns of every day file, in BigQuery's schema format.
pub const SCHEMA_JSON: &str = include_str!("schema.json");

/// Likes in flight between the store and the files.
const CHANNEL_ROWS: usize = 4096;

/// How long after its acknowledgement a like may still be on its way to the
/// store (buffered, or in a flush that is retrying).
const SETTLE_TIME: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// Exports the range's likes into `config.out`; says what it wrote.
pub async fn run(config: &ExportConfig) -> anyhow::Result<Written> {
    let range = TimeRange {
        from: config.from,
        to: config.to,
    };
    if let StoreUrl::Sqlite(path) = &config.store
        && !path.is_file()
    {
        bail!("there is no SQLite store at {}", path.display());
    }
    std::fs::create_dir_all(&config.out)
        .with_context(|| format!("cannot create the folder {}", config.out.display()))?;
    // Written first, so an unwritable folder fails before any reading.
    files::write_atomically(&config.out, "schema.json", SCHEMA_JSON.as_bytes())
        .with_context(|| format!("cannot write to {}", config.out.display()))?;
    let store = store::open(&config.store, &StoreOptions::default())
        .await
        .with_context(|| format!("cannot open {}", config.store))?;

    let (sender, receiver) = mpsc::channel(CHANNEL_ROWS);
    let reading = tokio::spawn(async move { store.export(range, sender).await });
    let out = config.out.clone();
    let gzip = config.gzip;
    let writing = tokio::task::spawn_blocking(move || write(receiver, &out, gzip));
    let written = writing.await.context("the file writer panicked")?;
    reading
        .await
        .context("the store reader panicked")?
        .with_context(|| format!("reading likes from {}", config.store))?;
    let written = written.with_context(|| format!("writing to {}", config.out.display()))?;
    for note in notes(range, &written, gzip, Utc::now()) {
        eprintln!("note: {note}");
    }
    Ok(written)
}

/// Drains the channel into day files, with a progress bar on a terminal.
fn write(
    mut receiver: mpsc::Receiver<Exported>,
    out: &Path,
    gzip: bool,
) -> anyhow::Result<Written> {
    let Some(Exported::Total(total)) = receiver.blocking_recv() else {
        bail!("the store sent no count of the likes to export");
    };
    let progress = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    progress.set_style(
        ProgressStyle::with_template(
            "{bar:40} {human_pos}/{human_len} likes, {per_sec}, {eta} left",
        )
        .expect("the progress template is valid"),
    );
    let mut files = DayFiles::new(out, gzip);
    while let Some(row) = receiver.blocking_recv() {
        let Exported::Like(like) = row else {
            bail!("the store sent a second count");
        };
        files.push(&like)?;
        progress.inc(1);
    }
    progress.finish_and_clear();
    let written = files.finish()?;
    if written.likes != total {
        bail!(
            "the store counted {total} likes in the range but sent {}",
            written.likes
        );
    }
    Ok(written)
}

/// What a reader of the files should know: day files that hold only part
/// of their day, and likes that may not have reached the store yet.
fn notes(range: TimeRange, written: &Written, gzip: bool, now: DateTime<Utc>) -> Vec<String> {
    let mut notes = Vec::new();
    let cut_days = [range.from, range.to]
        .into_iter()
        .flatten()
        .filter(|at| at.time() != NaiveTime::MIN)
        .map(|at| at.date_naive());
    for day in cut_days {
        let name = DayFiles::name(day, gzip);
        if written.files.iter().any(|file| file.ends_with(&name)) {
            notes.push(format!(
                "{name} holds only part of its day: load it by merging on id, not by replacing its partition"
            ));
        }
    }
    if range.to.is_none_or(|to| to > now - SETTLE_TIME) {
        notes.push(
            "the range reaches into the last minute: likes replicas have acknowledged but not yet stored are not in it".into(),
        );
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        let text = match text.len() {
            10 => format!("{text}T00:00:00Z"),
            _ => text.to_owned(),
        };
        DateTime::parse_from_rfc3339(&text).unwrap().to_utc()
    }

    #[test]
    fn partial_days_and_unsettled_ranges_are_noted() {
        let written = Written {
            likes: 2,
            files: vec![
                "o/likes-2018-10-04.ndjson".into(),
                "o/likes-2018-10-05.ndjson".into(),
            ],
            bytes: 10,
        };
        let now = at("2026-01-01");
        let whole = TimeRange {
            from: Some(at("2018-10-04")),
            to: Some(at("2018-10-06")),
        };
        assert!(notes(whole, &written, false, now).is_empty());
        let cut = TimeRange {
            from: Some(at("2018-10-04T10:00:00Z")),
            to: Some(at("2018-10-05T12:00:00Z")),
        };
        let said = notes(cut, &written, false, now);
        assert_eq!(said.len(), 2, "{said:?}");
        assert!(said[0].starts_with("likes-2018-10-04.ndjson holds only part"));
        assert!(said[1].starts_with("likes-2018-10-05.ndjson holds only part"));
        let open = TimeRange {
            from: None,
            to: None,
        };
        assert!(notes(open, &written, false, now)[0].contains("last minute"));
    }
}
