//! Signed notes, keys and tree checkpoints on any input (`src/note/`,
//! `src/checkpoint/tree.rs`): no panic; what `Note::parse` accepts splits
//! into a text that starts the input and signature lines that read; a tree
//! checkpoint text prints back to itself; a verifier key prints back to
//! itself; `verify` against fixed keys never panics, and a note whose
//! signatures it accepts carries the signature a fixed signer makes; any
//! text the signer takes, signed, verifies, and fails once a byte of its
//! signature line changes.
//!
//! Input: the note, key text or checkpoint text itself.
#![no_main]

use immutable_log::note::{verify, KeyType, Note, SignerKey, VerifierKey, MAX_SIGNATURES};
use immutable_log::{parse_checkpoint, AnyCheckpoint, TreeCheckpoint};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(log) = SignerKey::from_seed("example.com/log", KeyType::Ed25519, &[1; 32]) else {
        return;
    };
    let Ok(witness) = SignerKey::from_seed("w.example", KeyType::Cosignature, &[2; 32]) else {
        return;
    };
    let keys = [log.verifier_key(), witness.verifier_key()];

    if let Ok(note) = Note::parse(data) {
        assert!(data.starts_with(note.text().as_bytes()));
        assert!(note.text().ends_with('\n'));
        assert!(note.signatures().count() <= MAX_SIGNATURES);
        assert_eq!(
            note.signatures().count(),
            note.signature_block().split_terminator('\n').count()
        );
        if let Ok(verified) = verify(&note, &keys, 1) {
            // Ed25519 cannot be forged by a fuzzer: the log's signature, if
            // it verified, is the one the signer makes.
            if verified.signed_by(0) {
                let line = log.sign(note.text()).map(|l| l.to_string());
                assert!(line.is_ok_and(|l| note.signature_block().contains(l.as_str())));
            }
        }
        if let Ok(cp) = TreeCheckpoint::parse(note.text().as_bytes()) {
            assert_eq!(cp.to_string(), note.text());
        }
    }
    if let Ok(AnyCheckpoint::Tree(cp)) = parse_checkpoint(data) {
        assert_eq!(cp.to_string().as_bytes(), data);
        assert_eq!(cp.text_len(), data.len());
    }
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = VerifierKey::parse(text) {
        let printed = key.to_string();
        assert_eq!(VerifierKey::parse(&printed), Ok(key));
    }
    if let Ok(signer) = SignerKey::parse(text) {
        let mut again = String::new();
        assert!(signer.write_secret_text(&mut again).is_ok());
        let reread = SignerKey::parse(&again).map(|s| s.verifier_key());
        assert_eq!(reread, Ok(signer.verifier_key()));
    }
    // Any text the signer takes, signed and cosigned, verifies with both keys.
    if let (Ok(sig), Ok(cosig)) = (log.sign(text), witness.cosign(text, 1_700_000_000)) {
        let signed = format!("{text}\n{sig}{cosig}");
        let note = Note::parse(signed.as_bytes()).expect("a note we signed reads");
        assert_eq!(note.text(), text);
        assert_eq!(verify(&note, &keys, 2).map(|v| v.count()), Ok(2));
        // One byte of the last signature changed (a base64 digit for another).
        let at = signed.len() - 10;
        let mut bytes = signed.into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        if let Ok(note) = Note::parse(&bytes) {
            assert!(verify(&note, &keys, 2).is_err());
        }
    }
});
