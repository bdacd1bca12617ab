//! Compatibility with the Python original (SEED.md): logs it writes verify
//! here, and logs written here with ordinary messages pass its verifier.
//!
//! The Python snippets below do what the seed does: `json.dumps(block,
//! sort_keys=True)` (spaces, `\uXXXX` escapes, surrogate pairs, float
//! timestamps, no `seq`) and SHA-256 over the block text as it stands.

mod common;

use common::*;
use immutable_log::*;

/// Writes a log the seed's way, one record per message.
const SEED_WRITER: &str = r#"
import hashlib, json, sys, time
prev = "0" * 64
out = sys.stdout
for message in json.loads(sys.stdin.read()):
    block = {"prev_hash": prev, "message": message, "timestamp": time.time(), "levelno": 20}
    block_json = json.dumps(block, sort_keys=True)
    h = hashlib.sha256(block_json.encode("utf-8")).hexdigest()
    out.write(f"{prev}|{message}|{h}\n")
    out.write(f"BLOCK_DATA:{block_json}\n")
    prev = h
"#;

/// Checks a log the way the seed's `verify_log_integrity` does; prints True
/// or the failing line.
const SEED_VERIFIER: &str = include_str!("seed/seed_verify.py");

fn seed_log(messages: &[&str]) -> Vec<u8> {
    python(
        SEED_WRITER,
        &[],
        serde_json::to_string(messages).unwrap().as_bytes(),
    )
}

fn seed_verifies(log: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    std::fs::write(&path, log).unwrap();
    String::from_utf8(python(SEED_VERIFIER, &[path.to_str().unwrap()], b""))
        .unwrap()
        .trim()
        .to_string()
}

const ORDINARY: [&str; 6] = [
    "2026-11-26 10:15:42,123 - INFO - Application started",
    "2026-11-26 10:15:42,124 - DEBUG - Debug information",
    "café naïve 中文",
    "emoji 😀🎉 thumbs 👍🏽",
    "quotes \"double\" and back\\slash",
    "tab\tinside",
];

#[test]
fn logs_the_seed_writes_verify_here() {
    let log = seed_log(&ORDINARY);
    let text = String::from_utf8(log.clone()).unwrap();
    assert!(
        text.contains("\\ud83d\\ude00"),
        "python wrote surrogate pairs"
    );
    assert!(
        text.contains("\"levelno\": 20, \"message\": "),
        "python wrote spaces"
    );
    assert!(!text.contains("\"seq\""));
    let Verdict::Intact(report) = verify(&log) else {
        panic!("{:?}", verify(&log))
    };
    assert_eq!(report.records, ORDINARY.len() as u64);
    // No seq in the file: counted from genesis.
    assert_eq!(report.head.unwrap().seq, Some(ORDINARY.len() as u64 - 1));
    assert_eq!(seed_verifies(&log), "True");
    // And a tampered seed log fails here.
    let mut bad = log.clone();
    let at = bad.len() / 2;
    bad[at] ^= 0x20;
    assert!(!matches!(verify(&bad), Verdict::Intact(_)));
}

#[test]
fn seed_records_with_pipes_verify_here_though_the_seed_cannot_read_them() {
    let log = seed_log(&["a | b", "||"]);
    assert!(matches!(verify(&log), Verdict::Intact(r) if r.records == 2));
    assert_eq!(seed_verifies(&log), "(False, 1)");
}

#[test]
fn logs_written_here_pass_the_seeds_verifier() {
    let (log, _) = log_of(&ORDINARY);
    assert_eq!(seed_verifies(&log), "True");
    // The seed's verifier catches an edit in our log too.
    let mut bad = log.clone();
    let at = record_spans(&log)[3].start + 70;
    bad[at] ^= 1;
    assert_ne!(seed_verifies(&bad), "True");
}

#[test]
fn a_seed_log_continued_here_verifies_both_ways() {
    let log = seed_log(&ORDINARY[..3]);
    let resumed = resume(&log, true).unwrap();
    let head = resumed.head.unwrap();
    assert_eq!(head.seq, None, "the seed writes no seq");
    let mut writer = Writer::resume(log.clone(), resumed.head);
    for m in &ORDINARY[3..] {
        writer
            .append_draft(
                &mut Draft::<CAP>::new(Level::Info, format_args!("{m}")),
                Timestamp::new(1, 5),
                0,
            )
            .unwrap();
    }
    let out = writer.into_sink();
    let records = read_records(&out);
    assert!(records.iter().all(|r| r.seq().is_none()), "no seq invented");
    let no_key = records.iter().all(|r| block(r).get("seq").is_none());
    assert!(no_key, "no seq invented");
    assert!(
        matches!(verify(&out), Verdict::Intact(r) if r.records == 6 && r.head.unwrap().seq == Some(5))
    );
    assert_eq!(seed_verifies(&out), "True");
}

#[test]
fn hand_written_seed_vectors_verify() {
    // Written by hand from FORMAT.md: spaces, escapes of every kind, a
    // surrogate pair, an exponent timestamp, an unknown key, no seq.
    let blocks = [
        (
            r#"{"levelno": 20, "message": "caf\u00e9 \ud83d\ude00 \"q\" \\ \/ \t", "prev_hash": "PREV", "timestamp": 1764146337.541715}"#,
            "café 😀 \"q\" \\ / \t",
        ),
        (
            r#"{ "extra" : [1, {"a": null}], "levelno" : 30 , "message" : "x\u0041" , "prev_hash" : "PREV" , "timestamp" : 1.7e9 }"#,
            "xA",
        ),
        (
            r#"{"levelno": 40, "message": "nl\n cr\r esc\u001b", "prev_hash": "PREV", "timestamp": 0}"#,
            "nl\\n cr\\r esc\\u001b",
        ),
    ];
    let mut log = Vec::new();
    let mut prev = Hash::GENESIS;
    for (block, display) in blocks {
        let block = block.replace("PREV", &prev.to_string());
        let hash = BlockHasher::hash(block.as_bytes());
        log.extend_from_slice(format!("{prev}|{display}|{hash}\nBLOCK_DATA:{block}\n").as_bytes());
        prev = hash;
    }
    let v = verify(&log);
    assert!(matches!(v, Verdict::Intact(r) if r.records == 3), "{v:?}");
    // The hash is SHA-256 of the block text: a known answer.
    assert_eq!(
        BlockHasher::hash(br#"{"levelno": 20, "message": "x", "prev_hash": "0000000000000000000000000000000000000000000000000000000000000000", "timestamp": 1.5}"#).to_string(),
        String::from_utf8(python(
            "import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest(), end='')",
            &[],
            br#"{"levelno": 20, "message": "x", "prev_hash": "0000000000000000000000000000000000000000000000000000000000000000", "timestamp": 1.5}"#,
        )).unwrap()
    );
}
