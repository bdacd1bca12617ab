//! Checkpoint, proof and key files for the commands: the last note in a
//! file of them (signed or not), its signatures checked against
//! `--note-verifier` keys, and a tree checkpoint checked against a log.

use std::fmt;
use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use crate::merkle::{CompactRange, EMPTY_ROOT};
use crate::note::{verify, KeyError, Note, NoteError, Verified, VerifierKey};
use crate::std_backend::log_leaves::{After, LeafReader};
use crate::{
    parse_checkpoint, AnyCheckpoint, CheckpointError, ExpectedHead, Failure, FailureKind, Hash,
    Options, TreeCheckpoint, Verdict,
};

/// Bytes read from the end of a witness file: far more than one note.
const WITNESS_TAIL: u64 = 64 * 1024;

/// The most bytes read from a proof, request or key file.
pub(super) const FILE_LIMIT: u64 = 1024 * 1024;

/// A file that gives no checkpoint, proof or key.
#[derive(Debug)]
pub(super) enum FileError {
    /// It could not be read.
    Read(io::Error),
    /// No complete checkpoint note in it.
    NoCheckpoint,
    /// Longer than the limit.
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// A signed note in it is malformed.
    Note(NoteError),
    /// Its checkpoint text is malformed.
    Checkpoint(CheckpointError),
    /// A key line is not a verifier key.
    Key {
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        error: KeyError,
    },
    /// No key in a key file.
    NoKey,
    /// A proof file is not one (what it should be).
    Proof(&'static str),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Read(e) => write!(f, "cannot read it: {e}"),
            FileError::NoCheckpoint => f.write_str("no checkpoint in the file"),
            FileError::TooLarge { limit } => write!(f, "longer than {limit} bytes"),
            FileError::Note(e) => e.fmt(f),
            FileError::Checkpoint(e) => e.fmt(f),
            FileError::Key { line, error } => write!(f, "line {line}: {error}"),
            FileError::NoKey => f.write_str("no verifier key in the file"),
            FileError::Proof(what) => write!(f, "not a proof: {what}"),
        }
    }
}

/// A file and what is wrong with it.
#[derive(Debug)]
pub(super) struct PathError(pub PathBuf, pub FileError);

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.display(), self.1)
    }
}

/// A checkpoint note as it stood in its file: the text and any signatures.
#[derive(Debug, Clone)]
pub(super) struct CheckpointNote {
    whole: String,
    text_len: usize,
}

impl CheckpointNote {
    /// Checks a note (signed or not) and its checkpoint text.
    pub(super) fn parse(whole: String) -> Result<Self, FileError> {
        let (text, _) = Note::parse_maybe_signed(whole.as_bytes()).map_err(FileError::Note)?;
        let text_len = text.len();
        parse_checkpoint(text).map_err(FileError::Checkpoint)?;
        Ok(CheckpointNote { whole, text_len })
    }

    /// The note text (what is signed).
    pub(super) fn text(&self) -> &str {
        self.whole.get(..self.text_len).unwrap_or_default()
    }

    /// The whole note, signatures included.
    pub(super) fn whole(&self) -> &str {
        &self.whole
    }

    /// The checkpoint (checked when read).
    pub(super) fn checkpoint(&self) -> Result<AnyCheckpoint<'_>, CheckpointError> {
        parse_checkpoint(self.text().as_bytes())
    }

    /// The tree checkpoint, or why there is none.
    pub(super) fn tree(&self) -> Result<TreeCheckpoint<'_>, &'static str> {
        match self.checkpoint() {
            Ok(AnyCheckpoint::Tree(cp)) => Ok(cp),
            Ok(AnyCheckpoint::Head(_)) => Err(
                "a head checkpoint (the format before the tree) states no tree root: \
                 make a tree checkpoint with `immutable-log checkpoint`",
            ),
            Err(_) => Err("not a checkpoint"),
        }
    }

    /// Checks its signatures: `quorum` of `keys` (default: all) signed it.
    pub(super) fn verify_signatures(
        &self,
        keys: &[VerifierKey<'_>],
        quorum: Option<usize>,
    ) -> Result<Verified, NoteError> {
        let note = Note::parse(self.whole.as_bytes())?;
        verify(&note, keys, quorum.unwrap_or(keys.len()))
    }
}

/// Reads a whole file of at most [`FILE_LIMIT`] bytes as UTF-8 text.
pub(super) fn read_small(path: &Path) -> Result<String, PathError> {
    let fail = |e| PathError(path.to_path_buf(), e);
    let file = File::open(path).map_err(|e| fail(FileError::Read(e)))?;
    let mut bytes = Vec::new();
    file.take(FILE_LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(FileError::Read(e)))?;
    if bytes.len() as u64 > FILE_LIMIT {
        return Err(fail(FileError::TooLarge { limit: FILE_LIMIT }));
    }
    String::from_utf8(bytes).map_err(|e| {
        fail(FileError::Note(NoteError::NotText {
            offset: e.utf8_error().valid_up_to(),
        }))
    })
}

/// The last checkpoint in a file of them (notes, signed or not, separated
/// by empty lines, appended over time): read from the file's end, so a
/// witness file of any size costs the same. A last note cut short (a writer
/// interrupted) is skipped for the one before it.
pub(super) fn read_last_checkpoint(path: &Path) -> Result<CheckpointNote, PathError> {
    let fail = |e| PathError(path.to_path_buf(), e);
    let mut file = File::open(path).map_err(|e| fail(FileError::Read(e)))?;
    let len = file.metadata().map_err(|e| fail(FileError::Read(e)))?.len();
    let start = len.saturating_sub(WITNESS_TAIL);
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(start))
        .and_then(|_| file.take(WITNESS_TAIL).read_to_end(&mut bytes))
        .map_err(|e| fail(FileError::Read(e)))?;
    let text = String::from_utf8_lossy(&bytes);
    // Pieces between empty lines; a piece of signature lines belongs to
    // the note before it. The first piece may be the end of a note cut by
    // the read: never used unless the file was read whole.
    let mut notes: Vec<String> = Vec::new();
    for piece in text.split("\n\n") {
        let piece = piece.trim_start_matches('\n');
        if piece.trim().is_empty() {
            continue;
        }
        match notes.last_mut() {
            Some(last) if piece.starts_with(crate::note::SIGNATURE_PREFIX) => {
                last.push_str("\n\n");
                last.push_str(piece);
            }
            _ => notes.push(piece.to_string()),
        }
    }
    let skip_first = usize::from(start > 0);
    let mut last_error = None;
    for note in notes.into_iter().skip(skip_first).rev() {
        match CheckpointNote::parse(format!("{}\n", note.trim_end())) {
            Ok(note) => return Ok(note),
            Err(e) => {
                last_error.get_or_insert(e);
            }
        }
    }
    // Nothing parses: say what is wrong with the last note, if there is one.
    Err(fail(last_error.unwrap_or(FileError::NoCheckpoint)))
}

/// Verifier key texts read from files: every non-empty line of each.
pub(super) struct KeyTexts(Vec<(PathBuf, usize, String)>);

impl KeyTexts {
    /// Reads the files.
    pub(super) fn read(paths: &[PathBuf]) -> Result<Self, PathError> {
        let mut keys = Vec::new();
        for path in paths {
            let text = read_small(path)?;
            let before = keys.len();
            for (i, line) in text.lines().enumerate() {
                if !line.trim().is_empty() {
                    keys.push((path.clone(), i + 1, line.trim().to_string()));
                }
            }
            if keys.len() == before {
                return Err(PathError(path.clone(), FileError::NoKey));
            }
        }
        Ok(KeyTexts(keys))
    }

    /// The keys, parsed.
    pub(super) fn parse(&self) -> Result<Vec<VerifierKey<'_>>, PathError> {
        self.0
            .iter()
            .map(|(path, line, text)| {
                VerifierKey::parse(text)
                    .map_err(|error| PathError(path.clone(), FileError::Key { line: *line, error }))
            })
            .collect()
    }
}

/// What a tree checkpoint asks of a log: found by reading the log's first
/// `size` records, before the verifier runs.
#[derive(Clone, Copy, Debug)]
pub(super) struct TreeExpectation {
    size: u64,
    expected: Hash,
    /// The root of the log's first `size` records (`None`: it has fewer).
    found: Option<Hash>,
}

impl TreeExpectation {
    /// Reads the log's first `cp.size` records and sets what the verifier
    /// must find: record 0 named by the origin (this crate's origins), and
    /// record `size - 1` as the head (its hash when the log has it, so a
    /// shorter log fails as cut below the checkpoint).
    pub(super) fn read(
        log: &Path,
        cp: &TreeCheckpoint<'_>,
        options: &mut Options,
    ) -> io::Result<Self> {
        options.expect_origin = cp.log_origin();
        let mut expectation = TreeExpectation {
            size: cp.size,
            expected: cp.root,
            found: None,
        };
        let Some(last) = cp.size.checked_sub(1) else {
            expectation.found = Some(EMPTY_ROOT);
            return Ok(expectation);
        };
        let mut file = File::open(log)?;
        let mut reader = LeafReader::new(&mut file, After::START)?;
        let mut range = CompactRange::new();
        let mut head = Hash::GENESIS;
        while range.size() < cp.size {
            match reader.next_leaf() {
                Ok(Some(leaf)) => {
                    // Cannot be full: the size is below the checkpoint's.
                    let _ = range.push_record(&leaf.digest);
                    head = leaf.stated;
                }
                // A record that fails is the verifier's to name.
                Ok(None) | Err(super::super::log_leaves::LeafError::Record(_)) => break,
                Err(super::super::log_leaves::LeafError::Io(e)) => return Err(e),
            }
        }
        if range.size() == cp.size {
            expectation.found = Some(range.root());
        }
        options.expect_head = Some(ExpectedHead {
            seq: last,
            hash: head,
        });
        Ok(expectation)
    }

    /// The verdict, with a root that differs turned into a failure.
    pub(super) fn judge(&self, verdict: Verdict) -> Verdict {
        let found = match (self.found, &verdict) {
            (Some(found), Verdict::Intact(_) | Verdict::Torn(..)) if found != self.expected => {
                found
            }
            _ => return verdict,
        };
        let record = self.size.saturating_sub(1);
        Verdict::Failed(
            *verdict.report(),
            Failure {
                line: record * 2 + 1,
                record,
                kind: FailureKind::RootMismatch {
                    size: self.size,
                    expected: self.expected,
                    found,
                },
            },
        )
    }
}
