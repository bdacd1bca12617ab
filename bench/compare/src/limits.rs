//! What the machine allows, measured by this program in the same run: the
//! work every tamper-evident record needs and nothing else.
//!
//! - buffered: a clock read, SHA-256 of a record-sized buffer, and a write of
//!   it into a shared `Mutex<BufWriter<File>>` (64 KiB, as `LogFile`'s);
//! - flush: a clock read, SHA-256, and one `write(2)` of the record (an
//!   `O_APPEND` file shared by the threads, no lock of ours);
//! - verify: SHA-256 over each record's `block_json` alone, one core, the
//!   file already in memory.

use std::fs::{self, File, OpenOptions};
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::common::{on_threads, size, timed, Measured, Res};

/// The record a limit writes: `len` bytes, the clock and the digest of the
/// rest stamped in so that no step can be skipped, LF at the end.
struct Record(Vec<u8>);

impl Record {
    /// A record of `len` bytes (at least 64).
    fn new(len: usize) -> Record {
        let mut bytes = vec![b'x'; len.max(64)];
        if let Some(last) = bytes.last_mut() {
            *last = b'\n';
        }
        Record(bytes)
    }

    /// One clock read and one SHA-256, as every record pays.
    fn stamp(&mut self) -> &[u8] {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        self.0[..16].copy_from_slice(&now.to_le_bytes());
        let digest = Sha256::digest(&self.0[48..]);
        self.0[16..48].copy_from_slice(&digest);
        &self.0
    }
}

/// Opens `path` for appending.
fn append_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// The buffered limit: `threads` threads, `record_len`-byte records.
pub fn buffered(dir: &Path, threads: usize, per_thread: usize, record_len: usize) -> Res<Measured> {
    let path = dir.join("limit.log");
    let writer = Mutex::new(BufWriter::with_capacity(64 * 1024, append_file(&path)?));
    let secs = timed(|| {
        on_threads(threads, |_| {
            let mut record = Record::new(record_len);
            for _ in 0..per_thread {
                let bytes = record.stamp();
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
pub fn flush(dir: &Path, threads: usize, per_thread: usize, record_len: usize) -> Res<Measured> {
    let path = dir.join("limit.log");
    let file = append_file(&path)?;
    let secs = timed(|| {
        on_threads(threads, |_| {
            let mut record = Record::new(record_len);
            for _ in 0..per_thread {
                (&file).write_all(record.stamp())?;
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
