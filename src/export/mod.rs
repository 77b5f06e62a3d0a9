//! `likes export`: every like stored in a time range, from either backend,
//! as BigQuery newline-delimited JSON, one file per UTC day, plus
//! `schema.json`. Rows stream from one store snapshot through a bounded
//! channel to the day files, so memory does not grow with the likes.

mod files;

pub use files::{DayFiles, Written};

use crate::config::StoreArg;
use crate::store::{self, Exported, StoreOptions, StoreUrl, TimeRange};
use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

/// The columns of every day file, in BigQuery's schema format.
pub const SCHEMA_JSON: &str = include_str!("schema.json");

/// Likes in flight between the store and the files.
const CHANNEL_ROWS: usize = 4096;

/// How long after its acknowledgement a like may still be on its way to the
/// store (buffered, or in a flush that is retrying).
const SETTLE_TIME: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// `likes export` flags.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub store: StoreArg,

    /// First creation time included: RFC 3339 (2018-10-04T10:00:00+09:00)
    /// or a date (2018-10-04, midnight UTC). Default: the first like.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: Option<DateTime<Utc>>,

    /// First creation time excluded, in the same forms. Default: no end.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub to: Option<DateTime<Utc>>,

    /// The N whole UTC days before today, instead of --from and --to: what
    /// a daily schedule runs (`--last-days 2` just after midnight also
    /// re-exports the day before, in case an outage held likes back).
    #[arg(long, value_name = "N", conflicts_with_all = ["from", "to"],
          value_parser = clap::value_parser!(u32).range(1..=366))]
    pub last_days: Option<u32>,

    /// Folder for the day files and schema.json (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Gzip the day files (likes-YYYY-MM-DD.ndjson.gz).
    #[arg(long)]
    pub gzip: bool,
}

impl ExportArgs {
    /// The time range, if it is not empty.
    pub fn range(&self) -> Result<TimeRange, String> {
        self.range_at(Utc::now())
    }

    /// The time range as of `now` (which `--last-days` counts back from).
    pub fn range_at(&self, now: DateTime<Utc>) -> Result<TimeRange, String> {
        if let Some(days) = self.last_days {
            let today = now.date_naive().and_time(NaiveTime::MIN).and_utc();
            return Ok(TimeRange {
                from: Some(today - chrono::TimeDelta::days(i64::from(days))),
                to: Some(today),
            });
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from >= to
        {
            return Err(format!(
                "--from ({}) must be before --to ({})",
                from.to_rfc3339(),
                to.to_rfc3339()
            ));
        }
        Ok(TimeRange {
            from: self.from,
            to: self.to,
        })
    }
}

/// An RFC 3339 time, or a date meaning midnight UTC.
fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.to_utc());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|day| day.and_time(NaiveTime::MIN).and_utc())
        .map_err(|_| {
            format!(
                "{text:?} is not an RFC 3339 time (2018-10-04T10:00:00Z) or a date (2018-10-04)"
            )
        })
}

/// Exports the range's likes into `args.out`; says what it wrote.
pub async fn run(args: &ExportArgs, range: TimeRange) -> anyhow::Result<Written> {
    if let StoreUrl::Sqlite(path) = &args.store.url
        && !path.is_file()
    {
        bail!("there is no SQLite store at {}", path.display());
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create the folder {}", args.out.display()))?;
    // Written first, so an unwritable folder fails before any reading.
    files::write_atomically(&args.out, "schema.json", SCHEMA_JSON.as_bytes())
        .with_context(|| format!("cannot write to {}", args.out.display()))?;
    let store = store::open(&args.store.url, &StoreOptions::default())
        .await
        .with_context(|| format!("cannot open {}", args.store.url))?;

    let (sender, receiver) = mpsc::channel(CHANNEL_ROWS);
    let reading = tokio::spawn(async move { store.export(range, sender).await });
    let out = args.out.clone();
    let gzip = args.gzip;
    let writing = tokio::task::spawn_blocking(move || write(receiver, &out, gzip));
    let written = writing.await.context("the file writer panicked")?;
    reading
        .await
        .context("the store reader panicked")?
        .with_context(|| format!("reading likes from {}", args.store.url))?;
    let written = written.with_context(|| format!("writing to {}", args.out.display()))?;
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
        parse_time(text).unwrap()
    }

    #[test]
    fn times_are_rfc_3339_or_dates_at_midnight_utc() {
        assert_eq!(
            at("2018-10-04T10:00:00+09:00").to_rfc3339(),
            "2018-10-04T01:00:00+00:00"
        );
        assert_eq!(at("2018-10-04").to_rfc3339(), "2018-10-04T00:00:00+00:00");
        for bad in ["yesterday", "2018-10-04 10:00", "2018-13-01", ""] {
            assert!(parse_time(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn an_empty_or_reversed_range_is_refused() {
        let args = |from: &str, to: &str| ExportArgs {
            store: StoreArg {
                url: StoreUrl::Sqlite("x".into()),
            },
            from: Some(at(from)),
            to: Some(at(to)),
            last_days: None,
            out: "out".into(),
            gzip: false,
        };
        assert!(args("2018-10-04", "2018-10-05").range().is_ok());
        assert!(args("2018-10-04", "2018-10-04").range().is_err());
        assert!(args("2018-10-05", "2018-10-04").range().is_err());
    }

    #[test]
    fn the_last_days_are_whole_utc_days_ending_at_todays_midnight() {
        let args = ExportArgs {
            store: StoreArg {
                url: StoreUrl::Sqlite("x".into()),
            },
            from: None,
            to: None,
            last_days: Some(2),
            out: "out".into(),
            gzip: false,
        };
        let range = args.range_at(at("2018-10-06T00:30:00Z")).unwrap();
        assert_eq!(range.from, Some(at("2018-10-04")));
        assert_eq!(range.to, Some(at("2018-10-06")));
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
