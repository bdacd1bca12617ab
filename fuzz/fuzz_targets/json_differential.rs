//! Every JSON reader sees what was hashed: a block the crate accepts reads
//! the same to serde_json, and a block serde_json refuses the crate refuses
//! (issue 9 §3; `src/json/`). The input is the block itself, put in a record
//! with its correct hash, so the JSON reading is all that is judged.
#![no_main]

use immutable_log::{BlockHasher, Record};
use libfuzzer_sys::fuzz_target;

fn check(block: &[u8]) {
    if block.contains(&b'\n') {
        return;
    }
    let hash = BlockHasher::hash(block);
    let g = "0".repeat(64);
    let line1 = format!("{g}|m|{hash}");
    let mut line2 = b"BLOCK_DATA:".to_vec();
    line2.extend_from_slice(block);
    let ours = Record::parse(line1.as_bytes(), &line2);
    let theirs = serde_json::from_slice::<serde_json::Value>(block);
    let Ok(record) = ours else {
        return;
    };
    let value = theirs.unwrap_or_else(|e| panic!("accepted here, refused by serde_json: {e}"));
    let o = value.as_object().expect("an object");
    assert_eq!(o["levelno"].as_i64(), Some(record.levelno()));
    let message: String = record.message().collect::<Result<_, _>>().expect("decodes");
    assert_eq!(o["message"].as_str(), Some(message.as_str()));
    assert_eq!(
        o["prev_hash"].as_str().map(str::as_bytes).map(<[u8]>::len),
        Some(64)
    );
    let seq = match o.get("seq") {
        None | Some(serde_json::Value::Null) => None,
        Some(s) => Some(s.as_u64().expect("seq is a u64")),
    };
    assert_eq!(seq, record.seq());
    let ts: f64 = serde_json::from_str(record.timestamp()).expect("a number");
    assert_eq!(o["timestamp"].as_f64(), Some(ts));
    let truncated = o
        .get("truncated")
        .and_then(|t| t.as_bool())
        .unwrap_or(false);
    assert_eq!(truncated, record.truncated());
    let unlogged = o.get("unlogged").and_then(|t| t.as_u64()).unwrap_or(0);
    assert_eq!(unlogged, record.unlogged());
}

fuzz_target!(|data: &[u8]| check(data));
