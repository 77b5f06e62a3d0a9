//! Day files: likes arrive ordered by creation time, and each UTC day's go
//! to `likes-YYYY-MM-DD.ndjson` (or `.ndjson.gz`). A file is written under
//! a hidden temporary name and renamed into place only when complete, so a
//! half-written file never carries a final name.

use crate::store::StoredLike;
use chrono::NaiveDate;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::Serialize;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// One line of a day file: BigQuery's newline-delimited JSON, with the
/// columns of `schema.json`.
#[derive(Serialize)]
struct Line<'a> {
    id: &'a str,
    session_id: i64,
    uuid: &'a str,
    server_id: &'a str,
    created_at: String,
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// Likes written.
    pub likes: u64,
    /// Files completed, in day order.
    pub files: Vec<PathBuf>,
    /// Their total size.
    pub bytes: u64,
}

impl Written {
    /// The line that ends an export.
    pub fn summary(&self, folder: &Path) -> String {
        let files = self.files.len();
        format!(
            "exported {} likes into {files} file{} ({} bytes) in {}",
            self.likes,
            if files == 1 { "" } else { "s" },
            self.bytes,
            folder.display()
        )
    }
}

/// The day file being written.
struct Open {
    day: NaiveDate,
    temporary: PathBuf,
    destination: PathBuf,
    out: Output,
}

enum Output {
    Plain(BufWriter<File>),
    Gzip(GzEncoder<BufWriter<File>>),
}

impl Output {
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Self::Plain(out) => out,
            Self::Gzip(out) => out,
        }
    }

    /// Flushes everything and syncs the file to disk.
    fn finish(self) -> io::Result<()> {
        let mut out = match self {
            Self::Plain(out) => out,
            Self::Gzip(out) => out.finish()?,
        };
        out.flush()?;
        out.get_ref().sync_all()
    }
}

/// Writes likes, ordered by creation time, into one file per UTC day.
pub struct DayFiles {
    folder: PathBuf,
    gzip: bool,
    open: Option<Open>,
    written: Written,
    line: Vec<u8>,
}

impl DayFiles {
    /// Day files in `folder` (which must exist), gzipped or not.
    pub fn new(folder: &Path, gzip: bool) -> Self {
        Self {
            folder: folder.to_owned(),
            gzip,
            open: None,
            written: Written::default(),
            line: Vec::with_capacity(256),
        }
    }

    /// The file name for a day's likes.
    pub fn name(day: NaiveDate, gzip: bool) -> String {
        let extension = if gzip { "ndjson.gz" } else { "ndjson" };
        format!("likes-{}.{extension}", day.format("%Y-%m-%d"))
    }

    /// Appends one like; it must not be older than the previous one.
    pub fn push(&mut self, like: &StoredLike) -> io::Result<()> {
        let day = like.created_at.date_naive();
        match &self.open {
            Some(open) if open.day == day => {}
            Some(open) if open.day > day => {
                return Err(io::Error::other(format!(
                    "likes arrived out of order: {} after {}",
                    like.created_at, open.day
                )));
            }
            _ => {
                self.close_day()?;
                self.open = Some(self.open_day(day)?);
            }
        }
        self.line.clear();
        serde_json::to_writer(
            &mut self.line,
            &Line {
                id: &like.id,
                session_id: like.session_id,
                uuid: &like.liker,
                server_id: &like.server,
                created_at: like.created_at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            },
        )?;
        self.line.push(b'\n');
        let open = self.open.as_mut().expect("a day file is open");
        open.out.writer().write_all(&self.line)?;
        self.written.likes += 1;
        Ok(())
    }

    /// Completes the last day file and says what was written.
    pub fn finish(mut self) -> io::Result<Written> {
        self.close_day()?;
        sync_folder(&self.folder)?;
        Ok(std::mem::take(&mut self.written))
    }

    fn open_day(&self, day: NaiveDate) -> io::Result<Open> {
        let name = Self::name(day, self.gzip);
        let temporary = self.folder.join(format!(".{name}.partial"));
        let file = BufWriter::with_capacity(1 << 16, File::create(&temporary)?);
        let out = if self.gzip {
            Output::Gzip(GzEncoder::new(file, Compression::default()))
        } else {
            Output::Plain(file)
        };
        Ok(Open {
            day,
            temporary,
            destination: self.folder.join(name),
            out,
        })
    }

    fn close_day(&mut self) -> io::Result<()> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        open.out.finish()?;
        std::fs::rename(&open.temporary, &open.destination)?;
        self.written.bytes += std::fs::metadata(&open.destination)?.len();
        self.written.files.push(open.destination);
        Ok(())
    }
}

impl Drop for DayFiles {
    /// An export that stops midway leaves no partial file behind.
    fn drop(&mut self) {
        if let Some(open) = self.open.take() {
            drop(open.out);
            let _ = std::fs::remove_file(&open.temporary);
        }
    }
}

/// Writes `contents` to `folder/name` atomically (temporary file, rename).
pub fn write_atomically(folder: &Path, name: &str, contents: &[u8]) -> io::Result<()> {
    let temporary = folder.join(format!(".{name}.partial"));
    let mut file = File::create(&temporary)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&temporary, folder.join(name))
}

/// Makes the renames themselves durable.
fn sync_folder(folder: &Path) -> io::Result<()> {
    File::open(folder)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn like(id: &str, at: (i64, u32)) -> StoredLike {
        StoredLike {
            id: id.into(),
            session_id: 7,
            liker: "liker \"quoted\"".into(),
            server: "a".into(),
            created_at: Utc.timestamp_opt(at.0, at.1).unwrap(),
        }
    }

    #[test]
    fn likes_are_split_by_utc_day_into_complete_files() {
        let folder = tempfile::tempdir().unwrap();
        let mut files = DayFiles::new(folder.path(), false);
        // 2018-10-03T23:59:59.999999Z, then midnight, then later that day.
        files
            .push(&like("1", (1_538_611_199, 999_999_000)))
            .unwrap();
        files.push(&like("2", (1_538_611_200, 0))).unwrap();
        files
            .push(&like("3", (1_538_611_200 + 3600, 5_000)))
            .unwrap();
        let written = files.finish().unwrap();
        assert_eq!(written.likes, 3);
        let names: Vec<_> = written
            .files
            .iter()
            .map(|f| f.file_name().unwrap().to_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            names,
            ["likes-2018-10-03.ndjson", "likes-2018-10-04.ndjson"]
        );
        let first = std::fs::read_to_string(&written.files[0]).unwrap();
        assert_eq!(
            first,
            "{\"id\":\"1\",\"session_id\":7,\"uuid\":\"liker \\\"quoted\\\"\",\"server_id\":\"a\",\"created_at\":\"2018-10-03T23:59:59.999999Z\"}\n"
        );
        let second = std::fs::read_to_string(&written.files[1]).unwrap();
        assert_eq!(second.lines().count(), 2);
        assert!(second.contains("\"created_at\":\"2018-10-04T01:00:00.000005Z\""));
        let size: u64 = written
            .files
            .iter()
            .map(|f| std::fs::metadata(f).unwrap().len())
            .sum();
        assert_eq!(written.bytes, size);
    }

    #[test]
    fn an_unfinished_export_leaves_no_file() {
        let folder = tempfile::tempdir().unwrap();
        let mut files = DayFiles::new(folder.path(), true);
        files.push(&like("1", (1_538_611_200, 0))).unwrap();
        drop(files);
        assert_eq!(std::fs::read_dir(folder.path()).unwrap().count(), 0);
    }

    #[test]
    fn likes_out_of_order_are_refused() {
        let folder = tempfile::tempdir().unwrap();
        let mut files = DayFiles::new(folder.path(), false);
        files.push(&like("2", (1_538_611_200, 0))).unwrap();
        assert!(files.push(&like("1", (1_538_611_199, 0))).is_err());
    }
}
