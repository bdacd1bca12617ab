//! `immutable-log check-proof`: one record, its inclusion proof and a signed
//! checkpoint, checked without the log; or a consistency proof between two
//! checkpoints. Also the proof files `prove` writes, and `cosign`'s request.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::checkpoint_file::{
    read_last_checkpoint, read_small, CheckpointNote, FileError, KeyTexts, PathError,
};
use super::prove::TLOG_PROOF_HEADER;
use super::{print, Code};
use crate::checkpoint::base64_decode_32;
use crate::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use crate::{Hash, Record, TreeCheckpoint};

/// What `check-proof` is given.
pub(super) struct Args {
    pub(super) record: Option<PathBuf>,
    pub(super) consistency: Option<PathBuf>,
    pub(super) proof: PathBuf,
    pub(super) checkpoint: Option<PathBuf>,
    pub(super) note_verifiers: Vec<PathBuf>,
    pub(super) quorum: Option<usize>,
}

/// A proof file, read.
pub(super) enum ProofFile {
    /// A tlog-proof, or `prove --record --json` output.
    Inclusion {
        index: u64,
        /// The tree size it states (JSON only: a tlog-proof takes its
        /// checkpoint's).
        size: Option<u64>,
        path: Vec<Hash>,
        checkpoint: Option<CheckpointNote>,
    },
    /// An add-checkpoint body, or `prove --consistency --json` output.
    Consistency {
        first: u64,
        second: Option<u64>,
        proof: Vec<Hash>,
        checkpoint: Option<CheckpointNote>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InclusionJson {
    leaf_index: u64,
    tree_size: u64,
    audit_path: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyJson {
    first: u64,
    second: u64,
    consistency: Vec<String>,
}

fn hashes<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<Vec<Hash>, FileError> {
    lines
        .into_iter()
        .map(|line| {
            base64_decode_32(line.as_bytes())
                .map(Hash::from_bytes)
                .ok_or(FileError::Proof("a proof hash is not 32 bytes in base64"))
        })
        .collect()
}

/// ASCII decimal without a leading zero (but `0`).
fn number(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

impl ProofFile {
    /// Reads any of the four forms.
    pub(super) fn parse(text: &str) -> Result<Self, FileError> {
        if text.trim_start().starts_with('{') {
            if let Ok(j) = serde_json::from_str::<InclusionJson>(text) {
                return Ok(ProofFile::Inclusion {
                    index: j.leaf_index,
                    size: Some(j.tree_size),
                    path: hashes(j.audit_path.iter().map(String::as_str))?,
                    checkpoint: None,
                });
            }
            let j = serde_json::from_str::<ConsistencyJson>(text).map_err(|_| {
                FileError::Proof(
                    "JSON that is neither {leaf_index, tree_size, audit_path} \
                     nor {first, second, consistency}",
                )
            })?;
            return Ok(ProofFile::Consistency {
                first: j.first,
                second: Some(j.second),
                proof: hashes(j.consistency.iter().map(String::as_str))?,
                checkpoint: None,
            });
        }
        let (head, note) = text
            .split_once("\n\n")
            .ok_or(FileError::Proof("no empty line before the checkpoint"))?;
        let known = head.starts_with(TLOG_PROOF_HEADER) || head.starts_with("old ");
        if !known {
            return Err(FileError::Proof(
                "expected a c2sp.org/tlog-proof@v1, an add-checkpoint body (old N) \
                 or `prove --json` output",
            ));
        }
        let checkpoint = Some(CheckpointNote::parse(note.to_string())?);
        let mut lines = head.lines();
        match lines.next() {
            Some(TLOG_PROOF_HEADER) => {
                let mut line = lines.next();
                if line.is_some_and(|l| l.starts_with("extra ")) {
                    line = lines.next();
                }
                let index = line
                    .and_then(|l| l.strip_prefix("index "))
                    .and_then(number)
                    .ok_or(FileError::Proof("no `index N` line"))?;
                Ok(ProofFile::Inclusion {
                    index,
                    size: None,
                    path: hashes(lines)?,
                    checkpoint,
                })
            }
            Some(first) if first.starts_with("old ") => Ok(ProofFile::Consistency {
                first: first
                    .strip_prefix("old ")
                    .and_then(number)
                    .ok_or(FileError::Proof("the `old N` line is not a size"))?,
                second: None,
                proof: hashes(lines)?,
                checkpoint,
            }),
            _ => Err(FileError::Proof(
                "expected a c2sp.org/tlog-proof@v1, an add-checkpoint body (old N) \
                 or `prove --json` output",
            )),
        }
    }
}

/// The checkpoint to check against: `--checkpoint`, else the one in the
/// proof file (both given: they must be the same note text).
fn choose(
    given: Option<&Path>,
    embedded: Option<CheckpointNote>,
    proof: &Path,
) -> Result<CheckpointNote, Code> {
    match (given, embedded) {
        (Some(path), embedded) => {
            let note = read_last_checkpoint(path).map_err(|e| {
                complain!("{e}");
                Code::Usage
            })?;
            if embedded.is_some_and(|e| e.text() != note.text()) {
                complain!(
                    "{}: its checkpoint is not the one in {}",
                    proof.display(),
                    path.display()
                );
                return Err(Code::Integrity);
            }
            Ok(note)
        }
        (None, Some(note)) => Ok(note),
        (None, None) => {
            complain!("{}: a JSON proof needs --checkpoint CP", proof.display());
            Err(Code::Usage)
        }
    }
}

/// The checkpoint's signatures against the keys given; a line saying by
/// how many.
fn signed(note: &CheckpointNote, path: &str, args: &Args) -> Result<String, Code> {
    if args.note_verifiers.is_empty() {
        complain!("{path}: checkpoint signatures not checked (no --note-verifier given)");
        return Ok("signatures not checked".to_string());
    }
    let texts = KeyTexts::read(&args.note_verifiers).map_err(|e| {
        complain!("{e}");
        Code::Usage
    })?;
    let keys = texts.parse().map_err(|e| {
        complain!("{e}");
        Code::Usage
    })?;
    match note.verify_signatures(&keys, args.quorum) {
        Ok(v) => Ok(format!(
            "signed by {} of {} keys given",
            v.count(),
            keys.len()
        )),
        Err(e) => {
            complain!("{path}: checkpoint {e}");
            Err(Code::Integrity)
        }
    }
}

fn tree_of<'a>(note: &'a CheckpointNote, path: &str) -> Result<TreeCheckpoint<'a>, Code> {
    note.tree().map_err(|why| {
        complain!("{path}: {why}");
        Code::Usage
    })
}

/// `immutable-log check-proof ...`.
pub(super) fn run(args: &Args) -> Code {
    match check(args) {
        Ok(code) | Err(code) => code,
    }
}

fn check(args: &Args) -> Result<Code, Code> {
    let text = read_small(&args.proof).map_err(|e| {
        complain!("{e}");
        Code::Usage
    })?;
    let proof = ProofFile::parse(&text).map_err(|e| {
        complain!("{}", PathError(args.proof.clone(), e));
        Code::Usage
    })?;
    match (proof, &args.record, &args.consistency) {
        (
            ProofFile::Inclusion {
                index,
                size,
                path,
                checkpoint,
            },
            Some(record),
            None,
        ) => {
            let note = choose(args.checkpoint.as_deref(), checkpoint, &args.proof)?;
            let name = args
                .checkpoint
                .as_ref()
                .unwrap_or(&args.proof)
                .display()
                .to_string();
            let cp = tree_of(&note, &name)?;
            let signed = signed(&note, &name, args)?;
            if size.is_some_and(|s| s != cp.size) {
                complain!(
                    "the proof is for a tree of {} records, the checkpoint's has {}",
                    size.unwrap_or_default(),
                    cp.size
                );
                return Err(Code::Integrity);
            }
            let digest = record_digest(record, index)?;
            if let Err(e) = verify_inclusion(index, cp.size, &leaf_hash(&digest), &path, &cp.root) {
                complain!("record {index} in the tree of {}: {e}", cp.size);
                return Err(Code::Integrity);
            }
            Ok(print(&format_args!(
                "{}: record {index} is in the tree of {} records of {} ({signed})",
                record.display(),
                cp.size,
                cp.origin
            )))
        }
        (
            ProofFile::Consistency {
                first,
                second,
                proof,
                checkpoint,
            },
            None,
            Some(old_path),
        ) => {
            let old = read_last_checkpoint(old_path).map_err(|e| {
                complain!("{e}");
                Code::Usage
            })?;
            let new = choose(args.checkpoint.as_deref(), checkpoint, &args.proof)?;
            let (old_name, new_name) = (
                old_path.display().to_string(),
                args.checkpoint
                    .as_ref()
                    .unwrap_or(&args.proof)
                    .display()
                    .to_string(),
            );
            let (old_cp, new_cp) = (tree_of(&old, &old_name)?, tree_of(&new, &new_name)?);
            let old_signed = signed(&old, &old_name, args)?;
            let new_signed = signed(&new, &new_name, args)?;
            consistent(&old_cp, &new_cp, first, second, &proof)?;
            Ok(print(&format_args!(
                "the tree of {} records ({old_signed}) is a prefix of the tree of {} ({new_signed}) of {}",
                old_cp.size, new_cp.size, new_cp.origin
            )))
        }
        (ProofFile::Inclusion { .. }, _, _) => {
            complain!(
                "{}: an inclusion proof: give the record with --record REC",
                args.proof.display()
            );
            Err(Code::Usage)
        }
        (ProofFile::Consistency { .. }, _, _) => {
            complain!(
                "{}: a consistency proof: give the older checkpoint with --consistency OLD_CP",
                args.proof.display()
            );
            Err(Code::Usage)
        }
    }
}

/// The old checkpoint is a prefix of the new one, by this proof.
pub(super) fn consistent(
    old: &TreeCheckpoint<'_>,
    new: &TreeCheckpoint<'_>,
    first: u64,
    second: Option<u64>,
    proof: &[Hash],
) -> Result<(), Code> {
    if old.origin != new.origin {
        complain!(
            "the checkpoints name different logs: {:?} and {:?}",
            old.origin,
            new.origin
        );
        return Err(Code::Integrity);
    }
    if first != old.size || second.is_some_and(|s| s != new.size) {
        complain!(
            "the proof is from size {first}{}, the checkpoints are of {} and {}",
            second.map(|s| format!(" to {s}")).unwrap_or_default(),
            old.size,
            new.size
        );
        return Err(Code::Integrity);
    }
    if old.size == 0 {
        // Every tree extends the empty one: nothing to prove.
        if !proof.is_empty() {
            complain!("a consistency proof from size 0 must be empty");
            return Err(Code::Integrity);
        }
        return Ok(());
    }
    verify_consistency(old.size, new.size, &old.root, &new.root, proof).map_err(|e| {
        complain!("from {} to {} records: {e}", old.size, new.size);
        Code::Integrity
    })
}

/// The digest (leaf) of the one record in `path`, checked on its own and
/// against the index its proof gives.
fn record_digest(path: &Path, index: u64) -> Result<Hash, Code> {
    let text = read_small(path).map_err(|e| {
        complain!("{e}");
        Code::Usage
    })?;
    match Record::read(text.as_bytes()) {
        Some(Ok((record, []))) => {
            if let Err(fault) = record.check_stated(&record.hash()) {
                complain!("{}: {fault}", path.display());
                return Err(Code::Integrity);
            }
            if record.seq().is_some_and(|seq| seq != index) {
                complain!(
                    "{}: the record says seq {}, the proof is for record {index}",
                    path.display(),
                    record.seq().unwrap_or_default()
                );
                return Err(Code::Integrity);
            }
            Ok(record.digest())
        }
        Some(Err(fault)) => {
            complain!("{}: {fault}", path.display());
            Err(Code::Integrity)
        }
        _ => {
            complain!(
                "{}: not one record (its two lines, each ended by LF, and nothing else)",
                path.display()
            );
            Err(Code::Usage)
        }
    }
}
