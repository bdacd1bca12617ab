//! `immutable-log checkpoint` (a tree checkpoint, signed) and `immutable-log
//! prove` (inclusion and consistency proofs from the log's tree file).
//!
//! Proof formats: text is C2SP `tlog-proof` for an inclusion proof, and the
//! body of a C2SP `tlog-witness` `add-checkpoint` request for a consistency
//! proof; `--json` uses Certificate Transparency's names.
//!
//! ```text
//! c2sp.org/tlog-proof@v1        old 3
//! index 2                       <base64 hash>   (one a line)
//! <base64 hash>   (one a line)
//!                               <the new checkpoint, as in its file>
//! <the checkpoint, as in its file>
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use zeroize::Zeroizing;

use super::checkpoint_file::{read_last_checkpoint, read_small, CheckpointNote};
use super::{no_result, not_a_log, print, Code, NotALog};
use crate::note::SignerKey;
use crate::std_backend::{TreeError, TreeFile};
use crate::{Hash, TreeCheckpoint, TreeOrigin};

/// The first line of a C2SP tlog-proof.
pub(super) const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// A hash in standard base64.
pub(super) fn b64(hash: &Hash) -> String {
    String::from_utf8_lossy(&crate::checkpoint::base64_encode_32(hash.as_bytes())).into_owned()
}

/// The code for a tree error: a log shorter than asked, or failing, is an
/// integrity failure; a bad index or I/O is a usage error.
fn tree_code(error: &TreeError) -> Code {
    match error {
        TreeError::SizePastLog { .. } => Code::Integrity,
        _ => Code::Usage,
    }
}

/// Opens the log's tree; says when its side file was rebuilt.
fn open_tree(file: &Path) -> Result<TreeFile, Code> {
    match TreeFile::open(file) {
        Ok(tree) => {
            if let Some(reason) = tree.rebuilt() {
                complain!("{}: rebuilt from the log: {reason}", tree.path().display());
            }
            Ok(tree)
        }
        Err(e) => {
            complain!("{e}");
            Err(tree_code(&e))
        }
    }
}

/// Reads signer key files (`PRIVATE+KEY+...`, from `note-keygen`).
fn read_signer_texts(paths: &[PathBuf]) -> Result<Vec<Zeroizing<String>>, Code> {
    paths
        .iter()
        .map(|path| match read_small(path) {
            Ok(text) => Ok(Zeroizing::new(text.trim().to_string())),
            Err(e) => {
                complain!("{e}");
                Err(Code::Usage)
            }
        })
        .collect()
}

/// `immutable-log checkpoint [--sign SIGNER]... [--origin O] FILE`.
pub(super) fn checkpoint(file: &Path, signers: &[PathBuf], origin: Option<&str>) -> Code {
    let texts = match read_signer_texts(signers) {
        Ok(texts) => texts,
        Err(code) => return code,
    };
    let mut keys = Vec::new();
    for (text, path) in texts.iter().zip(signers) {
        match SignerKey::parse(text) {
            Ok(key) => keys.push(key),
            Err(e) => {
                complain!("{}: {e}", path.display());
                return Code::Usage;
            }
        }
    }
    let tree = match open_tree(file) {
        Ok(tree) => tree,
        Err(code) => return code,
    };
    if let Some(failure) = tree.stopped() {
        complain!("{}: {failure}", file.display());
        if not_a_log(failure) {
            complain!("{}: {NotALog}", file.display());
        }
        return Code::Integrity;
    }
    let (Some(record0), size) = (tree.origin(), tree.size()) else {
        return no_result(file, "no checkpoint: the log holds no record");
    };
    let ours = TreeOrigin::of(&record0);
    let origin = origin.unwrap_or(ours.as_str());
    if origin.is_empty() || origin.chars().any(char::is_control) {
        complain!("--origin: one line of text, not empty");
        return Code::Usage;
    }
    let root = match tree.root(size) {
        Ok(root) => root,
        Err(e) => {
            complain!("{e}");
            return tree_code(&e);
        }
    };
    let cp = TreeCheckpoint {
        origin,
        size,
        root,
        extensions: "",
    };
    let text = cp.to_string();
    let mut note = text.clone();
    if !keys.is_empty() {
        note.push('\n');
    }
    for key in &keys {
        match key.sign(&text) {
            Ok(line) => {
                let _ = write!(note, "{line}");
            }
            Err(e) => {
                complain!("signing with {}: {e}", key.name());
                return Code::Usage;
            }
        }
    }
    print(&note.trim_end())
}

/// A tree checkpoint read from a file, checked against the log's tree: its
/// size within the log, its root the log's root at that size.
fn checked_against(tree: &TreeFile, path: &Path) -> Result<CheckpointNote, Code> {
    let note = read_last_checkpoint(path).map_err(|e| {
        complain!("{e}");
        Code::Usage
    })?;
    let cp = note.tree().map_err(|why| {
        complain!("{}: {why}", path.display());
        Code::Usage
    })?;
    let root = tree.root(cp.size).map_err(|e| {
        complain!("{e}");
        if let Some(failure) = tree.stopped() {
            complain!("the tree stops before record {}: {failure}", failure.record);
        }
        tree_code(&e)
    })?;
    if root != cp.root {
        complain!(
            "{}: the log's first {} records have root {}, the checkpoint states {}: \
             not this log's checkpoint, or the log forked from or was rewritten after it",
            path.display(),
            cp.size,
            b64(&root),
            b64(&cp.root)
        );
        return Err(Code::Integrity);
    }
    Ok(note)
}

#[derive(Serialize)]
struct InclusionJson<'a> {
    leaf_index: u64,
    tree_size: u64,
    audit_path: &'a [String],
}

#[derive(Serialize)]
struct ConsistencyJson<'a> {
    first: u64,
    second: u64,
    consistency: &'a [String],
}

/// `immutable-log prove --record N --checkpoint CP [--json] FILE`.
pub(super) fn prove_record(file: &Path, index: u64, cp_path: &Path, json: bool) -> Code {
    let tree = match open_tree(file) {
        Ok(tree) => tree,
        Err(code) => return code,
    };
    let note = match checked_against(&tree, cp_path) {
        Ok(note) => note,
        Err(code) => return code,
    };
    let size = note.tree().map_or(0, |cp| cp.size);
    let path = match tree.inclusion_proof(index, size) {
        Ok(path) => path,
        Err(e) => {
            complain!("{e}");
            return tree_code(&e);
        }
    };
    let hashes: Vec<String> = path.iter().map(b64).collect();
    if json {
        let body = InclusionJson {
            leaf_index: index,
            tree_size: size,
            audit_path: &hashes,
        };
        return print(&serde_json::to_string(&body).unwrap_or_default());
    }
    let mut text = format!("{TLOG_PROOF_HEADER}\nindex {index}\n");
    for hash in &hashes {
        text += hash;
        text.push('\n');
    }
    text.push('\n');
    text += note.whole();
    print(&text.trim_end())
}

/// `immutable-log prove --consistency OLD_CP --checkpoint NEW_CP [--json] FILE`.
pub(super) fn prove_consistency(file: &Path, old_path: &Path, new_path: &Path, json: bool) -> Code {
    let tree = match open_tree(file) {
        Ok(tree) => tree,
        Err(code) => return code,
    };
    let (old, new) = match (
        checked_against(&tree, old_path),
        checked_against(&tree, new_path),
    ) {
        (Ok(old), Ok(new)) => (old, new),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let (first, second) = (
        old.tree().map_or(0, |cp| cp.size),
        new.tree().map_or(0, |cp| cp.size),
    );
    if old.tree().map(|cp| cp.origin).ok() != new.tree().map(|cp| cp.origin).ok() {
        complain!("the two checkpoints name different origins: not one log's");
        return Code::Usage;
    }
    // From the empty tree there is nothing to prove (tlog-witness: old 0).
    let proof = if first == 0 {
        Ok(Vec::new())
    } else {
        tree.consistency_proof(first, second)
    };
    let proof = match proof {
        Ok(proof) => proof,
        Err(e) => {
            complain!("{e}");
            return tree_code(&e);
        }
    };
    let hashes: Vec<String> = proof.iter().map(b64).collect();
    if json {
        let body = ConsistencyJson {
            first,
            second,
            consistency: &hashes,
        };
        return print(&serde_json::to_string(&body).unwrap_or_default());
    }
    let mut text = format!("old {first}\n");
    for hash in &hashes {
        text += hash;
        text.push('\n');
    }
    text.push('\n');
    text += new.whole();
    print(&text.trim_end())
}
