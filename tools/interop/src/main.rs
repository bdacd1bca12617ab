//! Checks a log's signed checkpoints, an inclusion proof and a consistency
//! proof with code written by others, and none of immutable-log's:
//! `signed_note` verifies the notes' signatures against the verifier key,
//! `tlog_tiles` parses the checkpoint bodies and checks both proofs (Go's
//! `sumdb/tlog` algorithms), `ct-merkle` checks them again. The leaf is
//! recomputed from the record's two lines: SHA-256 of the bytes after
//! `BLOCK_DATA:` (the record's digest), leaf hash SHA-256(0x00 ‖ digest).
//!
//! ```text
//! immutable-log-interop VERIFIER_KEY OLD_CP NEW_CP RECORD INCLUSION_JSON CONSISTENCY_JSON
//! ```
//!
//! RECORD: the record's two lines; INCLUSION_JSON: `prove --record N --json`
//! against NEW_CP; CONSISTENCY_JSON: `prove --consistency OLD_CP --json`.
//! Exit 0 when every check passes, 1 with the failed check on stderr.

use std::process::ExitCode;

use base64ct::{Base64, Encoding};
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use sha2::{Digest, Sha256};
use signed_note::{Note, StandardVerifier, VerifierList};
use tlog_tiles::{Checkpoint, Hash};

type Checked<T> = Result<T, String>;

fn read(path: &str) -> Checked<Vec<u8>> {
    std::fs::read(path).map_err(|e| format!("{path}: {e}"))
}

/// A signed checkpoint: signed by the key (signed_note), its body a
/// tlog-checkpoint (tlog_tiles).
fn checkpoint(path: &str, key: &str) -> Checked<Checkpoint> {
    let note = Note::from_bytes(&read(path)?).map_err(|e| format!("{path}: not a note: {e:?}"))?;
    let verifier = StandardVerifier::new(key).map_err(|e| format!("verifier key: {e:?}"))?;
    let (verified, _) = note
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .map_err(|e| format!("{path}: signature: {e:?}"))?;
    if verified.is_empty() {
        return Err(format!("{path}: not signed by the key"));
    }
    Checkpoint::from_bytes(note.text()).map_err(|e| format!("{path}: not a checkpoint: {e:?}"))
}

fn json(path: &str) -> Checked<serde_json::Value> {
    serde_json::from_slice(&read(path)?).map_err(|e| format!("{path}: {e}"))
}

fn number(v: &serde_json::Value, key: &str, path: &str) -> Checked<u64> {
    v[key].as_u64().ok_or(format!("{path}: no number {key}"))
}

fn hashes(v: &serde_json::Value, key: &str, path: &str) -> Checked<Vec<Hash>> {
    v[key]
        .as_array()
        .ok_or(format!("{path}: no array {key}"))?
        .iter()
        .map(|h| {
            let bytes = h.as_str().and_then(|s| Base64::decode_vec(s).ok());
            bytes
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .map(Hash)
                .ok_or(format!("{path}: {key}: not a base64 hash"))
        })
        .collect()
}

fn concat(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

fn run(args: &[String]) -> Checked<String> {
    let [key_path, old_path, new_path, record_path, inclusion_path, consistency_path] = args else {
        return Err("usage: immutable-log-interop VERIFIER_KEY OLD_CP NEW_CP RECORD INCLUSION_JSON CONSISTENCY_JSON".into());
    };
    let key_text = String::from_utf8(read(key_path)?).map_err(|e| format!("{key_path}: {e}"))?;
    let key = key_text.lines().next().unwrap_or_default().trim();
    let old = checkpoint(old_path, key)?;
    let new = checkpoint(new_path, key)?;
    if old.origin() != new.origin() {
        return Err("the checkpoints name different logs".into());
    }

    // The record's leaf, from its block line alone.
    let record = read(record_path)?;
    let block = record
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"BLOCK_DATA:"))
        .ok_or(format!("{record_path}: no BLOCK_DATA line"))?;
    let digest: [u8; 32] = Sha256::digest(block).into();
    let leaf = tlog_tiles::record_hash(&digest);

    // Inclusion in NEW_CP's tree: tlog_tiles, then ct-merkle.
    let inclusion = json(inclusion_path)?;
    let index = number(&inclusion, "leaf_index", inclusion_path)?;
    let size = number(&inclusion, "tree_size", inclusion_path)?;
    if size != new.size() {
        return Err(format!("{inclusion_path}: tree_size {size}, the checkpoint's is {}", new.size()));
    }
    let path = hashes(&inclusion, "audit_path", inclusion_path)?;
    tlog_tiles::check_record(&path, new.size(), *new.hash(), index, leaf)
        .map_err(|e| format!("tlog_tiles: inclusion of record {index}: {e:?}"))?;
    let new_root = RootHash::<Sha256>::new(new.hash().0.into(), new.size());
    let proof = InclusionProof::<Sha256>::try_from_bytes(concat(&path))
        .map_err(|e| format!("ct-merkle: inclusion proof: {e:?}"))?;
    new_root
        .verify_inclusion(&digest, index, &proof)
        .map_err(|e| format!("ct-merkle: inclusion of record {index}: {e:?}"))?;

    // NEW_CP's tree extends OLD_CP's.
    let consistency = json(consistency_path)?;
    let (first, second) = (
        number(&consistency, "first", consistency_path)?,
        number(&consistency, "second", consistency_path)?,
    );
    if (first, second) != (old.size(), new.size()) {
        return Err(format!("{consistency_path}: sizes {first} -> {second}, not the checkpoints'"));
    }
    let proof = hashes(&consistency, "consistency", consistency_path)?;
    tlog_tiles::check_tree(&proof, new.size(), *new.hash(), old.size(), *old.hash())
        .map_err(|e| format!("tlog_tiles: consistency {first} -> {second}: {e:?}"))?;
    let old_root = RootHash::<Sha256>::new(old.hash().0.into(), old.size());
    let cproof = ConsistencyProof::<Sha256>::try_from_bytes(concat(&proof))
        .map_err(|e| format!("ct-merkle: consistency proof: {e:?}"))?;
    new_root
        .verify_consistency(&old_root, &cproof)
        .map_err(|e| format!("ct-merkle: consistency {first} -> {second}: {e:?}"))?;

    Ok(format!(
        "interop: both checkpoints signed by {} (signed_note); record {index} in the tree of {} and \
         the tree of {} a prefix of it (tlog_tiles, ct-merkle)",
        key.split('+').next().unwrap_or_default(),
        new.size(),
        old.size()
    ))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("interop: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
