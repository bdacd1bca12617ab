//! Signed notes checked against someone else's code: Cloudflare's
//! `signed_note` (C2SP signed-note, with ed25519-dalek 2) and `tlog_tiles`
//! (C2SP tlog-checkpoint), and Go's `note_test.go` keys.
#![cfg(feature = "note")]

use immutable_log::merkle::EMPTY_ROOT;
use immutable_log::note::{verify, KeyType, Note, SignerKey, VerifierKey};
use immutable_log::{Hash, TreeCheckpoint};
use signed_note::{
    Note as TheirNote, Signer as _, StandardSigner, StandardVerifier, Verifier as _, VerifierList,
};

const PETER_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

fn checkpoint_text() -> String {
    TreeCheckpoint {
        origin: "example.com/app-log",
        size: 1042,
        root: Hash::from_bytes([0x5a; 32]),
        extensions: "",
    }
    .to_string()
}

fn our_signer(seed: u8) -> (SignerKey<'static>, String) {
    let key = SignerKey::from_seed("example.com/app-log", KeyType::Ed25519, &[seed; 32]).unwrap();
    let mut secret = String::new();
    key.write_secret_text(&mut secret).unwrap();
    (key, secret)
}

#[test]
fn their_signatures_verify_with_our_keys() {
    let text = checkpoint_text();
    // Go's key, read by them; and our key text, read by them.
    let (ours, our_secret) = our_signer(3);
    for (skey, vkey) in [
        (PETER_SKEY.to_string(), PETER_VKEY.to_string()),
        (our_secret, ours.verifier_key().to_string()),
    ] {
        let signer = StandardSigner::new(&skey).unwrap();
        let mut note = TheirNote::new(text.as_bytes(), &[]).unwrap();
        note.add_sigs(&[&signer]).unwrap();
        let bytes = note.to_bytes();
        let parsed = Note::parse(&bytes).unwrap();
        assert_eq!(parsed.text(), text);
        let key = VerifierKey::parse(&vkey).unwrap();
        assert_eq!(key.id(), signer.key_id());
        assert_eq!(verify(&parsed, &[key], 1).unwrap().count(), 1);
        // Their signature on another text does not verify here.
        let other = String::from_utf8(bytes).unwrap().replace("1042", "1043");
        let parsed = Note::parse(other.as_bytes()).unwrap();
        assert!(verify(&parsed, &[key], 1).is_err());
    }
}

#[test]
fn our_signatures_verify_with_their_verifier_and_are_byte_identical() {
    let text = checkpoint_text();
    let (ours, secret) = our_signer(9);
    let line = ours.sign(&text).unwrap().to_string();
    let note = format!("{text}\n{line}");
    let verifier = StandardVerifier::new(&ours.verifier_key().to_string()).unwrap();
    let theirs = TheirNote::from_bytes(note.as_bytes()).unwrap();
    let (verified, unverified) = theirs
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .unwrap();
    assert_eq!((verified.len(), unverified.len()), (1, 0));
    // Ed25519 is deterministic: their signer, given our secret key text,
    // writes exactly our note.
    let signer = StandardSigner::new(&secret).unwrap();
    let mut again = TheirNote::new(text.as_bytes(), &[]).unwrap();
    again.add_sigs(&[&signer]).unwrap();
    assert_eq!(String::from_utf8(again.to_bytes()).unwrap(), note);
    // A changed text fails with theirs too.
    let changed = note.replace("1042", "1041");
    let verifier = StandardVerifier::new(&ours.verifier_key().to_string()).unwrap();
    assert!(TheirNote::from_bytes(changed.as_bytes())
        .unwrap()
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .is_err());
}

#[test]
fn go_example_note_signed_by_them_is_the_go_vector() {
    // Go's TestSign: the same key and text give this exact signature line.
    let text = "If you think cryptography is the answer to your problem,\n\
                then you don't know what your problem is.\n";
    let signer = StandardSigner::new(PETER_SKEY).unwrap();
    let mut note = TheirNote::new(text.as_bytes(), &[]).unwrap();
    note.add_sigs(&[&signer]).unwrap();
    let ours = SignerKey::parse(PETER_SKEY).unwrap();
    assert_eq!(
        String::from_utf8(note.to_bytes()).unwrap(),
        format!("{text}\n{}", ours.sign(text).unwrap())
    );
}

#[test]
fn a_cosignature_is_ed25519_over_the_spec_message() {
    // No independent crate makes tlog-cosignature/v1 signatures; check the
    // signed message byte by byte with their Ed25519 verifier: the same
    // public key as a type 0x01 key, over the message the spec defines.
    let text = checkpoint_text();
    let witness =
        SignerKey::from_seed("witness.example/w1", KeyType::Cosignature, &[4; 32]).unwrap();
    let line = witness.cosign(&text, 1_679_315_147).unwrap();
    let bytes = line.bytes();
    assert_eq!(&bytes[..4], &witness.id().to_be_bytes());
    assert_eq!(&bytes[4..12], &1_679_315_147u64.to_be_bytes());
    let message = format!("cosignature/v1\ntime 1679315147\n{text}");
    let public = witness.verifier_key();
    let as_plain = VerifierKey::new(public.name(), KeyType::Ed25519, *public.public_key()).unwrap();
    let theirs = StandardVerifier::new(&as_plain.to_string()).unwrap();
    assert!(theirs.verify(message.as_bytes(), &bytes[12..]));
    assert!(!theirs.verify(text.as_bytes(), &bytes[12..]));
    // The key ID of a cosigner key: type byte 0x04 (their key_id, given the bytes).
    let mut raw = vec![0x04];
    raw.extend_from_slice(public.public_key());
    assert_eq!(signed_note::key_id(public.name(), &raw), public.id());
}

#[test]
fn checkpoint_texts_read_the_same_both_ways() {
    let ours = checkpoint_text();
    let theirs = tlog_tiles::Checkpoint::from_bytes(ours.as_bytes()).unwrap();
    assert_eq!(theirs.origin(), "example.com/app-log");
    assert_eq!(theirs.size(), 1042);
    assert_eq!(theirs.hash().0, [0x5a; 32]);
    for (size, root, ext) in [
        (0, EMPTY_ROOT, ""),
        (7, Hash::from_bytes([1; 32]), "x\ny z\n"),
    ] {
        let made = tlog_tiles::Checkpoint::new(
            "o.example/l",
            size,
            tlog_tiles::Hash(*root.as_bytes()),
            ext,
        )
        .unwrap()
        .to_bytes();
        let read = TreeCheckpoint::parse(&made).unwrap();
        assert_eq!(
            (read.origin, read.size, read.root, read.extensions),
            ("o.example/l", size, root, ext)
        );
        assert_eq!(read.to_string().as_bytes(), &made[..]);
    }
}
