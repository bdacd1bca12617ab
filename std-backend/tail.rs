//! Reading the end of a log file to continue its chain: only the tail is read,
//! so opening a 1 GB log costs what opening a 1 KB log costs.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use super::{Error, Step, MAX_RECORD};
use crate::{
    origin, peek_head, resume, resume_keyed, Checkpoint, Head, KeyedFault, ResumeError, Resumed,
    SealKey,
};

/// Bytes read from the end at first; doubled while no complete record is found.
const FIRST_TAIL: u64 = 8 * 1024;

/// The most read from the end: two of the longest records and some slack
/// (the last record, and a torn one after it).
pub(crate) const TAIL_LIMIT: u64 = 2 * MAX_RECORD as u64 + 4096;

/// The end of a log, and where its chain continues.
#[derive(Debug)]
pub(crate) struct Tail {
    /// Where `bytes` start in the file.
    start: u64,
    bytes: Vec<u8>,
    resumed: Resumed,
}

impl Tail {
    /// The last complete record (`None`: there is none).
    pub(crate) fn head(&self) -> Option<Head> {
        self.resumed.head
    }

    /// The bytes after the last complete record: a record cut off by a crash.
    pub(crate) fn torn(&self) -> &[u8] {
        self.bytes.get(self.resumed.end..).unwrap_or_default()
    }

    /// Where the torn bytes start in the file: the length the file has
    /// without them.
    pub(crate) fn clean_len(&self) -> u64 {
        self.start + self.resumed.end as u64
    }
}

/// How the last record is checked.
pub(crate) enum Check<'k> {
    /// A plain chain: its hash is its digest.
    Plain,
    /// A keyed chain, against the writer's key state (caught up if behind).
    Keyed(&'k mut SealKey),
    /// Not checked: a keyed log read without its key.
    Unkeyed,
}

/// Bytes at the start of a log looked at to tell a compact log, once its
/// end did not read as text records.
const SNIFF: u64 = 4096;

/// Reads the end of a log of `len` bytes and finds where its chain continues.
/// Reads a longer tail while needed, up to [`TAIL_LIMIT`]. A log whose end is
/// not text records and whose start is compact frames is [`Error::CompactLog`].
pub(crate) fn read_tail<R: Read + Seek>(
    file: &mut R,
    len: u64,
    path: &Path,
    check: Check<'_>,
) -> Result<Tail, Error> {
    read_text_tail(file, len, path, check).map_err(|e| match e {
        Error::LastRecord { .. } | Error::MalformedTail { .. } | Error::TailTooLong { .. }
            if starts_compact(file) =>
        {
            Error::CompactLog {
                path: path.to_path_buf(),
            }
        }
        e => e,
    })
}

/// True if the first bytes of `file` are compact frames
/// ([`looks_compact`](crate::compact::looks_compact)); false if they cannot be read.
fn starts_compact<R: Read + Seek>(file: &mut R) -> bool {
    let mut prefix = Vec::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.take(SNIFF).read_to_end(&mut prefix))
        .is_ok_and(|_| crate::compact::looks_compact(&prefix))
}

/// [`read_tail`] for text records.
fn read_text_tail<R: Read + Seek>(
    file: &mut R,
    len: u64,
    path: &Path,
    mut check: Check<'_>,
) -> Result<Tail, Error> {
    let mut want = FIRST_TAIL;
    loop {
        let size = len.min(want);
        let start = len - size;
        let mut bytes = vec![0; usize::try_from(size).unwrap_or(usize::MAX)];
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.read_exact(&mut bytes))
            .map_err(|e| Error::io(path, Step::ReadTail, e))?;
        let at_line = |file: &mut R, offset: usize| -> Result<u64, Error> {
            line_at(file, start + offset as u64).map_err(|e| Error::io(path, Step::CountLines, e))
        };
        let whole = start == 0;
        let found = match &mut check {
            Check::Plain => resume(&bytes, whole),
            Check::Unkeyed => peek_head(&bytes, whole),
            Check::Keyed(key) => {
                // A key caught up from a tail too short is not kept.
                let mut attempt = (**key).clone();
                let found = resume_keyed(&bytes, whole, &mut attempt);
                if found.is_ok() {
                    **key = attempt;
                }
                found
            }
        };
        match found {
            Err(ResumeError::KeyOutOfStep { key_seq, log_seq }) => {
                return Err(Error::KeyOutOfStep {
                    path: path.to_path_buf(),
                    key_seq,
                    log_seq,
                })
            }
            Ok(resumed) => {
                return Ok(Tail {
                    start,
                    bytes,
                    resumed,
                })
            }
            Err(ResumeError::LastRecord { fault, offset }) => {
                return Err(Error::LastRecord {
                    path: path.to_path_buf(),
                    line: at_line(file, offset)?,
                    fault,
                })
            }
            Err(ResumeError::MalformedTail { offset }) => {
                return Err(Error::MalformedTail {
                    path: path.to_path_buf(),
                    line: at_line(file, offset)?,
                })
            }
            Err(ResumeError::Keyed { fault, offset }) => {
                let path = path.to_path_buf();
                let line = at_line(file, offset)?;
                return Err(match fault {
                    KeyedFault::NotKeyed => Error::LogNotKeyed { path, line },
                    KeyedFault::WrongKey | KeyedFault::NotLastSealed | KeyedFault::PrevMismatch => {
                        Error::ForeignSealKey { path, line }
                    }
                    fault => Error::KeyedRecord { path, line, fault },
                });
            }
            // Read more, up to the limit.
            Err(ResumeError::NeedMoreTail) if start > 0 && want < TAIL_LIMIT => {
                want = (want * 2).min(TAIL_LIMIT)
            }
            Err(ResumeError::NeedMoreTail) => {
                return Err(Error::TailTooLong {
                    path: path.to_path_buf(),
                    limit: size,
                })
            }
        }
    }
}

/// The 1-based line that byte `offset` stands on: only for error messages, so
/// reading the file up to there is fine.
fn line_at<R: Read + Seek>(file: &mut R, offset: u64) -> io::Result<u64> {
    file.seek(SeekFrom::Start(0))?;
    let mut chunk = vec![0; 64 * 1024];
    let mut left = offset;
    let mut line = 1;
    while left > 0 {
        let want = chunk.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = file.read(chunk.get_mut(..want).unwrap_or_default())?;
        if n == 0 {
            break;
        }
        let read = chunk.get(..n).unwrap_or_default();
        line += read.iter().filter(|&&b| b == b'\n').count() as u64;
        left -= n as u64;
    }
    Ok(line)
}

/// The head of the log at `path`: its last complete record (`None`: the log
/// has none), reading only the tail and taking no lock. A torn tail is
/// ignored; a last record that fails its own check is an error. In a keyed
/// log (its record 0 is a keyed chain start) the last record's tag needs the
/// key: only its shape and display are checked here.
pub fn read_head(path: impl AsRef<Path>) -> Result<Option<Head>, Error> {
    let path = path.as_ref();
    let (mut file, len) = open_to_read(path)?;
    let check = if is_keyed(&mut file, path)? {
        Check::Unkeyed
    } else {
        Check::Plain
    };
    Ok(read_tail(&mut file, len, path, check)?.head())
}

/// The checkpoint of the log at `path`: its identity (record 0's hash) and
/// its head, reading only its first record and its tail. `None` when the log
/// has no record, or its records carry no `seq` (written by the seed).
pub fn read_checkpoint(path: impl AsRef<Path>) -> Result<Option<Checkpoint>, Error> {
    let path = path.as_ref();
    let (mut file, len) = open_to_read(path)?;
    let Some(origin) = read_origin(&mut file, path)? else {
        return Ok(None);
    };
    let check = if origin.keyed {
        Check::Unkeyed
    } else {
        Check::Plain
    };
    let head = read_tail(&mut file, len, path, check)?.head();
    Ok(head.and_then(|head| Checkpoint::new(origin.hash, head)))
}

/// Opens a log for reading, without a lock, and tells its length.
fn open_to_read(path: &Path) -> Result<(File, u64), Error> {
    let file = File::open(path).map_err(|e| Error::io(path, Step::Open, e))?;
    let len = file
        .metadata()
        .map_err(|e| Error::io(path, Step::ReadTail, e))?
        .len();
    Ok((file, len))
}

/// Whether the log's record 0 is a keyed chain start (reads at most one
/// record from the start).
pub(crate) fn is_keyed<R: Read + Seek>(file: &mut R, path: &Path) -> Result<bool, Error> {
    Ok(read_origin(file, path)?.is_some_and(|o| o.keyed))
}

/// The log's first record, read from its start (`None`: no complete first
/// record within [`MAX_RECORD`] bytes).
pub(crate) fn read_origin<R: Read + Seek>(
    file: &mut R,
    path: &Path,
) -> Result<Option<crate::Origin>, Error> {
    // Read up to the first record's second LF, in small steps: a log's
    // records are usually far shorter than the limit.
    let mut start = Vec::new();
    let mut chunk = [0u8; 4096];
    file.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io(path, Step::ReadTail, e))?;
    while start.iter().filter(|&&b| b == b'\n').count() < 2 && start.len() < MAX_RECORD {
        let n = match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io(path, Step::ReadTail, e)),
        };
        start.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
    Ok(origin(&start).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Draft, Level, Timestamp, Writer};

    /// A log of `len` bytes of which only the last `tail.len()` exist;
    /// counts the bytes read.
    struct Huge {
        len: u64,
        tail: Vec<u8>,
        pos: u64,
        read: u64,
    }

    impl Read for Huge {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let tail_start = self.len - self.tail.len() as u64;
            let n = buf.len().min((self.len - self.pos) as usize);
            for (i, b) in buf.iter_mut().take(n).enumerate() {
                let at = self.pos + i as u64;
                *b = if at < tail_start {
                    b'x'
                } else {
                    self.tail[(at - tail_start) as usize]
                };
            }
            self.pos += n as u64;
            self.read += n as u64;
            Ok(n)
        }
    }

    impl Seek for Huge {
        fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
            match to {
                SeekFrom::Start(p) => self.pos = p,
                _ => unimplemented!(),
            }
            Ok(self.pos)
        }
    }

    fn records(n: usize) -> (Vec<u8>, Option<Head>) {
        let mut writer = Writer::new(Vec::new());
        let mut draft = Draft::<1024>::new(Level::Info, format_args!(""));
        for i in 0..n {
            draft.reformat(Level::Info, format_args!("record {i}"));
            writer
                .append_draft(&mut draft, Timestamp::new(1, 0), 0)
                .unwrap();
        }
        let head = writer.head();
        (writer.into_sink(), head)
    }

    #[test]
    fn opening_a_terabyte_log_reads_only_its_tail() {
        let (log, head) = records(3);
        let mut tail = b"\n".to_vec();
        tail.extend_from_slice(&log);
        let mut huge = Huge {
            len: 1 << 40,
            tail,
            pos: 0,
            read: 0,
        };
        let len = huge.len;
        let found = read_tail(&mut huge, len, Path::new("huge.log"), Check::Plain).unwrap();
        assert_eq!(found.head(), head);
        assert!(found.torn().is_empty());
        assert_eq!(huge.read, FIRST_TAIL);
    }

    #[test]
    fn a_tail_without_any_line_end_is_refused_after_the_limit() {
        let mut huge = Huge {
            len: 1 << 40,
            tail: Vec::new(),
            pos: 0,
            read: 0,
        };
        let len = huge.len;
        let err = read_tail(&mut huge, len, Path::new("huge.log"), Check::Plain).unwrap_err();
        assert!(matches!(err, Error::TailTooLong { limit, .. } if limit == TAIL_LIMIT));
    }

    #[test]
    fn an_edited_last_record_is_named_by_its_line() {
        let (mut log, _) = records(3);
        let last = log.len() - 10;
        log[last] ^= 1;
        let len = log.len() as u64;
        let err = read_tail(
            &mut io::Cursor::new(log),
            len,
            Path::new("a.log"),
            Check::Plain,
        )
        .unwrap_err();
        assert!(matches!(err, Error::LastRecord { line: 5, .. }), "{err}");
        assert!(err.to_string().starts_with("a.log: line 5: "), "{err}");
    }
}
