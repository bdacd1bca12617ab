//! Verifying a rotated set as one chain: `FILE.N(.gz)`, …, `FILE.1`, `FILE`,
//! oldest first, each file a segment that must start right after the head of
//! the one before it; the oldest must start at genesis or right after a head
//! that a retention record in the set states it removed.

use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::rotated::{list, open_reader};
use super::set_records::{Removed, RETENTION};
use super::{verify_reader_keyed, Error, Step};
use crate::{Failure, Head, Options, Report, SegmentStart, Start, TornTail, Verdict, VerifyKey};

/// One file of a set, and its verdict.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SetFile {
    /// The file.
    pub path: PathBuf,
    /// Its verdict, as a segment after the file before it.
    pub verdict: Verdict,
}

/// What retention states it removed ([`SetReport::pruned`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pruned {
    /// The removed file's name, as it was then.
    pub name: String,
    /// The retention policy, in words (`keep 3 files`).
    pub policy: String,
    /// The `seq` of its first record.
    pub first: Option<u64>,
    /// Its head: its last record.
    pub head: Head,
}

/// What was read of a set.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct SetReport {
    /// The files read, oldest first, up to the first that failed.
    pub files: Vec<SetFile>,
    /// The files retention states it removed, in the order stated.
    pub pruned: Vec<Pruned>,
}

impl SetReport {
    /// Records that passed, in every file read.
    pub fn records(&self) -> u64 {
        self.files.iter().map(|f| f.verdict.report().records).sum()
    }

    /// The set's last record that passed.
    pub fn head(&self) -> Option<Head> {
        self.files
            .iter()
            .rev()
            .find_map(|f| f.verdict.report().head)
    }

    /// Where the set starts: its oldest file's first record.
    pub fn start(&self) -> Option<SegmentStart> {
        self.files.iter().find_map(|f| f.verdict.report().start)
    }

    /// Records the writer stated as lost, summed over the files.
    pub fn unlogged(&self) -> u64 {
        self.files.iter().map(|f| f.verdict.report().unlogged).sum()
    }

    /// The retention record that explains where the set starts (`None` at
    /// genesis, or when none does).
    pub fn pruned_before(&self) -> Option<&Pruned> {
        let start = self.start()?;
        self.pruned.iter().rev().find(|p| follows(start, p.head))
    }
}

/// True when a file starting at `start` follows `head` directly.
fn follows(start: SegmentStart, head: Head) -> bool {
    start.prev_hash == head.hash
        && match (start.seq, head.seq) {
            (Some(s), Some(h)) => h.checked_add(1) == Some(s),
            _ => true,
        }
}

/// Where a set fails, and how.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SetFailure {
    /// The file.
    pub path: PathBuf,
    /// What is wrong there.
    pub kind: SetFailureKind,
}

/// How a set fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetFailureKind {
    /// A record of the file fails (its line is in the failure); at line 1,
    /// with a `prev_hash` mismatch: the file does not follow the one before
    /// it (a file missing, reordered, replaced, or the one before it
    /// truncated).
    Record(Failure),
    /// A file before the last ends inside a record: it was cut.
    Torn(TornTail),
    /// The oldest file starts after records that no retention record states
    /// it removed: files were deleted, not pruned by policy.
    Unexplained(SegmentStart),
}

impl fmt::Display for SetFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match &self.kind {
            SetFailureKind::Record(failure) => {
                write!(f, "{path}: {failure}")?;
                if failure.line == 1
                    && matches!(failure.kind, crate::FailureKind::PrevHashMismatch { .. })
                {
                    f.write_str(
                        " (this file does not follow the one before it: a file of the set \
                         is missing, out of order or replaced, or the one before it was cut)",
                    )?;
                }
                Ok(())
            }
            SetFailureKind::Torn(torn) => write!(
                f,
                "{path}: line {}: the file ends inside a record, but it is not the set's \
                 last file: it was cut after it was rotated",
                torn.line
            ),
            SetFailureKind::Unexplained(start) => write!(
                f,
                "{path}: line 1 (record 0): the set starts after seq {} (prev_hash {}), \
                 but no retention record in the set states those records were removed: \
                 older files were deleted, not pruned by policy",
                start
                    .seq
                    .and_then(|s| s.checked_sub(1))
                    .map_or_else(|| "-".to_string(), |s| s.to_string()),
                start.prev_hash
            ),
        }
    }
}

/// A set's verdict.
#[derive(Clone, Debug)]
pub enum SetVerdict {
    /// Every file is intact and each follows the one before it.
    Intact(SetReport),
    /// As intact, but the last file ends inside a record (a crash).
    Torn(SetReport, TornTail),
    /// The first failure.
    Failed(SetReport, SetFailure),
}

impl SetVerdict {
    /// What was read.
    pub fn report(&self) -> &SetReport {
        match self {
            SetVerdict::Intact(r) | SetVerdict::Torn(r, _) | SetVerdict::Failed(r, _) => r,
        }
    }
}

/// The files of the set of the log at `log`, oldest first: its rotated
/// files (`FILE.N`, `FILE.N.gz`), then `FILE` itself if it is there.
pub fn set_files(log: impl AsRef<Path>) -> Result<Vec<PathBuf>, Error> {
    let log = log.as_ref();
    let rotated = list(log).map_err(|e| Error::io(log, Step::ReadSet, e))?;
    let mut files: Vec<PathBuf> = rotated.into_iter().rev().map(|r| r.path).collect();
    if log.exists() || files.is_empty() {
        files.push(log.to_path_buf());
    }
    Ok(files)
}

/// Verifies the log at `log` and its rotated files as one chain, oldest
/// first, each in bounded memory (`.gz` files decompressed as they are
/// read). `key` for a keyed chain.
pub fn verify_set(log: impl AsRef<Path>, key: Option<VerifyKey>) -> Result<SetVerdict, Error> {
    let mut report = SetReport::default();
    let files = set_files(log)?;
    let last = files.len().saturating_sub(1);
    let mut before: Option<Head> = None;
    for (i, path) in files.into_iter().enumerate() {
        let gz = path.extension().is_some_and(|e| e == "gz");
        let start = match (i, before) {
            (0, _) => Start::Segment,
            (_, Some(head)) => Start::After(head),
            (_, None) => Start::Genesis,
        };
        let reader = open_reader(&path, gz).map_err(|e| Error::io(&path, Step::Open, e))?;
        let mut scanner = Scanner::new(reader);
        let options = Options {
            start,
            ..Options::default()
        };
        let verdict = verify_reader_keyed(&mut scanner, options, key.clone())
            .map_err(|e| Error::io(&path, Step::Verify, e))?;
        report
            .pruned
            .extend(scanner.found.drain(..).map(|r| Pruned {
                name: r.name,
                policy: r.policy,
                first: r.first,
                head: r.head,
            }));
        let file_report: Report = *verdict.report();
        before = file_report.head.or(before);
        let failure = match verdict {
            Verdict::Intact(_) => None,
            Verdict::Failed(_, failure) => Some(SetFailureKind::Record(failure)),
            Verdict::Torn(_, torn) if i != last => Some(SetFailureKind::Torn(torn)),
            Verdict::Torn(_, torn) => {
                report.files.push(SetFile { path, verdict });
                return Ok(finish(report, Some(torn)));
            }
        };
        report.files.push(SetFile {
            path: path.clone(),
            verdict,
        });
        if let Some(kind) = failure {
            return Ok(SetVerdict::Failed(report, SetFailure { path, kind }));
        }
    }
    Ok(finish(report, None))
}

/// The verdict once every file passed: the set's start must be genesis or
/// stated as pruned.
fn finish(report: SetReport, torn: Option<TornTail>) -> SetVerdict {
    if let Some(start) = report.start() {
        if !start.is_genesis() && report.pruned_before().is_none() {
            let path = report
                .files
                .iter()
                .find(|f| f.verdict.report().start.is_some())
                .map(|f| f.path.clone())
                .unwrap_or_default();
            return SetVerdict::Failed(
                report,
                SetFailure {
                    path,
                    kind: SetFailureKind::Unexplained(start),
                },
            );
        }
    }
    match torn {
        Some(torn) => SetVerdict::Torn(report, torn),
        None => SetVerdict::Intact(report),
    }
}

/// The longest line that may be a retention record.
const STATEMENT_LIMIT: usize = 4096;

/// Passes a file's bytes on to the verifier, and picks out the display
/// lines of retention records on the way (a record's display is its
/// message, for messages without control characters; the verifier checks
/// that they agree).
struct Scanner<R> {
    inner: R,
    line: Vec<u8>,
    skipping: bool,
    found: Vec<Removed>,
}

impl<R: Read> Scanner<R> {
    fn new(inner: R) -> Self {
        Scanner {
            inner,
            line: Vec::new(),
            skipping: false,
            found: Vec::new(),
        }
    }

    fn scan(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let lf = bytes.iter().position(|&b| b == b'\n');
            let (part, rest) = match lf {
                Some(at) => (
                    bytes.get(..at).unwrap_or_default(),
                    bytes.get(at + 1..).unwrap_or_default(),
                ),
                None => (bytes, &[][..]),
            };
            self.push(part);
            if lf.is_some() {
                self.end_line();
            }
            bytes = rest;
        }
    }

    fn push(&mut self, part: &[u8]) {
        if self.skipping {
            return;
        }
        if self.line.len() + part.len() > STATEMENT_LIMIT {
            self.skip();
            return;
        }
        self.line.extend_from_slice(part);
        // Most lines are told apart from a statement by their first bytes.
        let prefix = 65 + RETENTION.len();
        if self.line.len() >= prefix && self.line.get(65..prefix) != Some(RETENTION.as_bytes()) {
            self.skip();
        }
    }

    fn skip(&mut self) {
        self.skipping = true;
        self.line.clear();
    }

    fn end_line(&mut self) {
        if !self.skipping && self.line.len() > 130 {
            let message = self.line.get(65..self.line.len() - 65).unwrap_or_default();
            if let Some(removed) = std::str::from_utf8(message).ok().and_then(Removed::parse) {
                self.found.push(removed);
            }
        }
        self.skipping = false;
        self.line.clear();
    }
}

impl<R: Read> Read for Scanner<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.scan(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}
