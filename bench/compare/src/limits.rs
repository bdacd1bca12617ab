//! What the machine allows, measured by this program in the same run: the
//! work every tamper-evident record needs and nothing else.
//!
//! Every append limit first renders the caller's message, the same
//! [`message!`](crate::message) every contender (peers included) is handed,
//! through `core::fmt` into a reused `String`, and stamps those bytes into
//! the record it hashes: rendering the message is work no logger can skip.
//!
//! - buffered: the message rendered, a clock read, SHA-256 of a
//!   `block_json`-sized span holding it (what a record's hash covers), and a
//!   write of the whole record-sized buffer into a shared
//!   `Mutex<BufWriter<File>>` (64 KiB, as `LogFile`'s);
//! - flush: the message rendered, a clock read, SHA-256, and one `write(2)`
//!   of the record (an `O_APPEND` file shared by the threads, no lock of
//!   ours);
//! - verify: SHA-256 over each record's `block_json` alone, one core, the
//!   file already in memory.

use std::fmt::{self, Write as _};
use std::fs::{self, File, OpenOptions};
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::common::{on_threads, size, timed, Measured, Res};
use crate::message;
use crate::subject::RecordSize;

/// Where the rendered message starts in a [`Record`]: after the clock (16
/// bytes) and the digest (32).
const MESSAGE_AT: usize = 48;

/// The record a limit writes: a record's bytes, the clock, the rendered
/// message and the digest of a `block_json`-sized span from the message on
/// stamped in so that no step can be skipped, LF at the end.
struct Record {
    bytes: Vec<u8>,
    /// How many bytes from [`MESSAGE_AT`] on are hashed: a `block_json`'s.
    hashed: usize,
    /// The message as rendered, reused from record to record.
    text: String,
}

impl Record {
    /// A record of `size.record` bytes (at least 128), hashing
    /// `size.block` of them (at most all after the digest but the LF).
    fn new(size: RecordSize) -> Record {
        let mut bytes = vec![b'x'; size.record.max(128)];
        if let Some(last) = bytes.last_mut() {
            *last = b'\n';
        }
        let hashed = size.block.min(bytes.len() - MESSAGE_AT - 1);
        Record {
            bytes,
            hashed,
            text: String::with_capacity(128),
        }
    }

    /// Renders `message` (as every logger must), then one clock read and
    /// one SHA-256, as every record pays.
    fn stamp(&mut self, message: fmt::Arguments<'_>) -> &[u8] {
        self.text.clear();
        // Writing into a `String` cannot fail.
        let _ = self.text.write_fmt(message);
        // The message, cut to the hashed span (60 bytes never are).
        let room = self.hashed;
        let text = &self.text.as_bytes()[..self.text.len().min(room)];
        self.bytes[MESSAGE_AT..MESSAGE_AT + text.len()].copy_from_slice(text);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        self.bytes[..16].copy_from_slice(&now.to_le_bytes());
        // As many bytes as a record's hash covers.
        let digest = Sha256::digest(&self.bytes[MESSAGE_AT..MESSAGE_AT + self.hashed]);
        self.bytes[16..MESSAGE_AT].copy_from_slice(&digest);
        &self.bytes
    }
}

/// Opens `path` for appending.
fn append_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// The buffered limit: `threads` threads, records of size `record`.
pub fn buffered(
    dir: &Path,
    threads: usize,
    per_thread: usize,
    record: RecordSize,
) -> Res<Measured> {
    let path = dir.join("limit.log");
    let writer = Mutex::new(BufWriter::with_capacity(64 * 1024, append_file(&path)?));
    let secs = timed(|| {
        on_threads(threads, |t| {
            let mut record = Record::new(record);
            for i in 0..per_thread {
                let bytes = record.stamp(message!(t, i));
                writer
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .write_all(bytes)?;
            }
            Ok(())
        })?;
        writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .flush()?;
        Ok(())
    })?;
    Ok(Measured {
        secs,
        bytes: size(&path)?,
        records: (threads * per_thread) as u64,
    })
}

/// The flush limit: one `write(2)` per record.
pub fn flush(dir: &Path, threads: usize, per_thread: usize, record: RecordSize) -> Res<Measured> {
    let path = dir.join("limit.log");
    let file = append_file(&path)?;
    let secs = timed(|| {
        on_threads(threads, |t| {
            let mut record = Record::new(record);
            for i in 0..per_thread {
                (&file).write_all(record.stamp(message!(t, i)))?;
            }
            Ok(())
        })
    })?;
    Ok(Measured {
        secs,
        bytes: size(&path)?,
        records: (threads * per_thread) as u64,
    })
}

/// The verify limit: SHA-256 over every `block_json` of the log at `path`
/// (read and split before the clock starts), one core.
pub fn verify(path: &Path, records: u64) -> Res<Measured> {
    const TAG: &[u8] = b"BLOCK_DATA:";
    let text = fs::read(path)?;
    let blocks: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter_map(|line| line.strip_prefix(TAG))
        .collect();
    if blocks.len() as u64 != records {
        return Err(format!(
            "{}: {} blocks, expected {records}",
            path.display(),
            blocks.len()
        )
        .into());
    }
    let secs = timed(|| {
        let mut fold = 0u8;
        for block in &blocks {
            fold ^= Sha256::digest(black_box(block))[0];
        }
        black_box(fold);
        Ok(())
    })?;
    Ok(Measured {
        secs,
        bytes: text.len() as u64,
        records,
    })
}
