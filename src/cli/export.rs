//! The flags of `likes export`, and the time range they name, checked into
//! an `ExportConfig`.

use super::StoreArg;
use crate::config::{ConfigError, ExportConfig};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use clap::Args;
use std::path::PathBuf;

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
    /// The export to run, if its time range is not empty.
    pub fn into_config(self) -> Result<ExportConfig, ConfigError> {
        self.into_config_at(Utc::now())
    }

    /// The export to run as of `now` (which `--last-days` counts back from).
    pub fn into_config_at(self, now: DateTime<Utc>) -> Result<ExportConfig, ConfigError> {
        let (from, to) = match self.last_days {
            Some(days) => {
                let today = now.date_naive().and_time(NaiveTime::MIN).and_utc();
                (
                    Some(today - chrono::TimeDelta::days(i64::from(days))),
                    Some(today),
                )
            }
            None => (self.from, self.to),
        };
        if let (Some(from), Some(to)) = (from, to)
            && from >= to
        {
            return Err(ConfigError::Invalid(format!(
                "--from ({}) must be before --to ({})",
                from.to_rfc3339(),
                to.to_rfc3339()
            )));
        }
        Ok(ExportConfig {
            store: self.store.url,
            from,
            to,
            out: self.out,
            gzip: self.gzip,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreUrl;

    fn at(text: &str) -> DateTime<Utc> {
        parse_time(text).unwrap()
    }

    fn args(from: Option<&str>, to: Option<&str>, last_days: Option<u32>) -> ExportArgs {
        ExportArgs {
            store: StoreArg {
                url: StoreUrl::Sqlite("x".into()),
            },
            from: from.map(at),
            to: to.map(at),
            last_days,
            out: "out".into(),
            gzip: false,
        }
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
        let range = |from, to| args(Some(from), Some(to), None).into_config();
        assert!(range("2018-10-04", "2018-10-05").is_ok());
        assert!(range("2018-10-04", "2018-10-04").is_err());
        assert!(range("2018-10-05", "2018-10-04").is_err());
    }

    #[test]
    fn the_last_days_are_whole_utc_days_ending_at_todays_midnight() {
        let config = args(None, None, Some(2))
            .into_config_at(at("2018-10-06T00:30:00Z"))
            .unwrap();
        assert_eq!(config.from, Some(at("2018-10-04")));
        assert_eq!(config.to, Some(at("2018-10-06")));
    }
}
