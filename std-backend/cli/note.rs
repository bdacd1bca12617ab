//! `immutable-log note-keygen` (a note key pair in Go's text formats) and
//! `immutable-log cosign` (a witness's cosignature of a checkpoint, after
//! checking its consistency proof).

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use super::check_proof::{consistent, ProofFile};
use super::checkpoint_file::{read_last_checkpoint, read_small, CheckpointNote, KeyTexts};
use super::{print, Code};
use crate::note::{is_valid_key_name, KeyType, SignerKey};

/// `immutable-log note-keygen [--cosigner] NAME SIGNER VERIFIER`.
pub(super) fn keygen(name: &str, signer: &Path, verifier: &Path, cosigner: bool) -> Code {
    if !is_valid_key_name(name) {
        complain!("key name {name:?}: it must be non-empty, with no space and no '+'");
        return Code::Usage;
    }
    for path in [signer, verifier] {
        if fs::symlink_metadata(path).is_ok() {
            complain!(
                "{}: exists; a key file is never overwritten",
                path.display()
            );
            return Code::Usage;
        }
    }
    let mut seed = Zeroizing::new([0u8; 32]);
    if let Err(e) = getrandom::fill(&mut *seed) {
        complain!("generating a key: {e}");
        return Code::Usage;
    }
    let key_type = if cosigner {
        KeyType::Cosignature
    } else {
        KeyType::Ed25519
    };
    let key = match SignerKey::from_seed(name, key_type, &seed) {
        Ok(key) => key,
        Err(e) => {
            complain!("{e}");
            return Code::Usage;
        }
    };
    let mut secret = Zeroizing::new(String::with_capacity(128));
    if key.write_secret_text(&mut *secret).is_err() {
        complain!("formatting the signer key failed");
        return Code::Usage;
    }
    secret.push('\n');
    let public = format!("{}\n", key.verifier_key());
    for (path, text) in [(signer, secret.as_str()), (verifier, public.as_str())] {
        if let Err(e) = create_new(path, text) {
            complain!("{}: {e}", path.display());
            return Code::Usage;
        }
    }
    Code::Success
}

/// Writes a new file (never an existing one, never through a symlink),
/// mode 600 from its creation, synced; removed again if writing fails.
fn create_new(path: &Path, text: &str) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    let mut file = options.open(path)?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all());
    if written.is_err() {
        // Best effort: the error is what matters.
        let _ = fs::remove_file(path);
    }
    written
}

/// What `cosign` is given.
pub(super) struct CosignArgs {
    pub(super) signer: PathBuf,
    pub(super) note_verifiers: Vec<PathBuf>,
    pub(super) old: Option<PathBuf>,
    pub(super) time: Option<u64>,
    pub(super) request: PathBuf,
}

/// `immutable-log cosign --signer S --note-verifier V... [--old OLD_CP]
/// [--time SECS] REQUEST`: as a witness, checks the request (an
/// add-checkpoint body, or a checkpoint alone for a first cosignature):
/// the checkpoint is signed by one of the log's keys, and is consistent
/// with OLD_CP (the last one this witness cosigned); prints the
/// cosignature line to append to the checkpoint.
pub(super) fn cosign(args: &CosignArgs) -> Code {
    match cosign_line(args) {
        Ok(line) => print(&line.trim_end()),
        Err(code) => code,
    }
}

fn cosign_line(args: &CosignArgs) -> Result<String, Code> {
    let usage = |e: &dyn std::fmt::Display| {
        complain!("{e}");
        Code::Usage
    };
    let secret = Zeroizing::new(read_small(&args.signer).map_err(|e| usage(&e))?);
    let signer = SignerKey::parse(secret.trim())
        .map_err(|e| usage(&format_args!("{}: {e}", args.signer.display())))?;
    if signer.key_type() != KeyType::Cosignature {
        return Err(usage(&format_args!(
            "{}: not a cosigner key (make one with note-keygen --cosigner)",
            args.signer.display()
        )));
    }
    let text = read_small(&args.request).map_err(|e| usage(&e))?;
    let (first, proof, note) = if text.starts_with("old ") {
        match ProofFile::parse(&text) {
            Ok(ProofFile::Consistency {
                first,
                proof,
                checkpoint: Some(note),
                ..
            }) => (first, proof, note),
            _ => {
                return Err(usage(&format_args!(
                    "{}: not an add-checkpoint request body",
                    args.request.display()
                )))
            }
        }
    } else {
        let note = CheckpointNote::parse(text)
            .map_err(|e| usage(&format_args!("{}: {e}", args.request.display())))?;
        (0, Vec::new(), note)
    };
    let new = note
        .tree()
        .map_err(|why| usage(&format_args!("{}: {why}", args.request.display())))?;
    let texts = KeyTexts::read(&args.note_verifiers).map_err(|e| usage(&e))?;
    let keys = texts.parse().map_err(|e| usage(&e))?;
    if let Err(e) = note.verify_signatures(&keys, Some(1)) {
        complain!("{}: checkpoint {e}", args.request.display());
        return Err(Code::Integrity);
    }
    match &args.old {
        Some(path) => {
            let old_note = read_last_checkpoint(path).map_err(|e| usage(&e))?;
            let old = old_note
                .tree()
                .map_err(|why| usage(&format_args!("{}: {why}", path.display())))?;
            consistent(&old, &new, first, None, &proof)?;
        }
        None if first != 0 || !proof.is_empty() => {
            complain!(
                "the request is from size {first}; without --old this witness has cosigned \
                 nothing of this log (old 0)"
            );
            return Err(Code::Integrity);
        }
        None => {}
    }
    let now = args.time.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    signer
        .cosign(note.text(), now)
        .map(|line| line.to_string())
        .map_err(|e| usage(&e))
}
