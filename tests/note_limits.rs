//! Signed notes at their limits: a 10 MB note, too many signatures, long
//! signatures of unknown algorithms, size 0 and the largest size in a
//! checkpoint: clear errors, no panic, time linear in the input.
#![cfg(feature = "note")]

use immutable_log::note::{verify, KeyType, Note, NoteError, SignerKey, MAX_SIGNATURES};
use immutable_log::{parse_checkpoint, AnyCheckpoint, CheckpointError, TreeCheckpoint};

fn signer() -> SignerKey<'static> {
    SignerKey::from_seed("example.com/log", KeyType::Ed25519, &[8; 32]).unwrap()
}

#[test]
fn a_10_mb_note_reads_and_verifies() {
    let key = signer();
    let text = "x".repeat(64).repeat(10 << 14) + "\n"; // 10 MiB + 1
    let note = format!("{text}\n{}", key.sign(&text).unwrap());
    let parsed = Note::parse(note.as_bytes()).unwrap();
    assert_eq!(parsed.text().len(), text.len());
    assert_eq!(
        verify(&parsed, &[key.verifier_key()], 1).unwrap().count(),
        1
    );
    // As a checkpoint it is one (very long) origin line: missing lines.
    assert_eq!(
        TreeCheckpoint::parse(text.as_bytes()),
        Err(CheckpointError::MissingLine)
    );
    // 10 MB with no empty line: not signed.
    assert_eq!(Note::parse(text.as_bytes()), Err(NoteError::NoSignatures));
    // 10 MB of signature lines: refused after the limit.
    let line = key.sign("t\n").unwrap().to_string();
    let many = format!("t\n\n{}", line.repeat((10 << 20) / line.len()));
    assert_eq!(
        Note::parse(many.as_bytes()),
        Err(NoteError::TooManySignatures {
            limit: MAX_SIGNATURES
        })
    );
}

#[test]
fn unknown_and_long_signatures_are_ignored_known_ones_count() {
    let key = signer();
    let text = "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    // A 5 kB signature of another algorithm (as ML-DSA's), same name.
    let pq = format!("— example.com/log {}=\n", "Q".repeat(6555));
    let note = format!("{text}\n{pq}{}", key.sign(text).unwrap());
    let parsed = Note::parse(note.as_bytes()).unwrap();
    let v = verify(&parsed, &[key.verifier_key()], 1).unwrap();
    assert_eq!((v.count(), v.unknown()), (1, 1));
}

#[test]
fn checkpoint_sizes_at_the_edges() {
    for (size, ok) in [
        ("0", true),
        ("18446744073709551615", true),
        ("18446744073709551616", false),
        ("00", false),
    ] {
        let text = format!("o\n{size}\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
        let parsed = parse_checkpoint(text.as_bytes());
        assert_eq!(
            matches!(parsed, Ok(AnyCheckpoint::Tree(_))),
            ok,
            "{size}: {parsed:?}"
        );
        if !ok {
            assert_eq!(parsed, Err(CheckpointError::Size));
        }
    }
}
