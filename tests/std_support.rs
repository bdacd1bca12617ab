//! Helpers shared by the std suites (`#[path = "std_support.rs"] mod support;`).
#![cfg(feature = "std")]
#![allow(dead_code)]

use std::ops::Range;
use std::path::Path;

use immutable_log::std_backend::verify_path;
use immutable_log::{Options, Report, Verdict};

/// One record as the file holds it.
#[derive(Debug, Clone)]
pub struct Record {
    pub seq: Option<u64>,
    pub levelno: u64,
    pub message: String,
    pub block: serde_json::Value,
}

/// The records of a log, parsed with serde_json.
pub fn records(log: &[u8]) -> Vec<Record> {
    log.split(|&b| b == b'\n')
        .filter_map(|line| line.strip_prefix(b"BLOCK_DATA:"))
        .map(|json| {
            let block: serde_json::Value = serde_json::from_slice(json).expect("block is JSON");
            Record {
                seq: block["seq"].as_u64(),
                levelno: block["levelno"].as_u64().expect("levelno"),
                message: block["message"].as_str().expect("message").to_string(),
                block,
            }
        })
        .collect()
}

pub fn records_of(path: &Path) -> Vec<Record> {
    records(&std::fs::read(path).expect("read log"))
}

/// Verifies the file and returns its report; panics unless it is intact.
pub fn intact(path: &Path) -> Report {
    match verify_path(path, Options::default()).expect("readable") {
        Verdict::Intact(report) => report,
        other => panic!("{} is not intact: {other:?}", path.display()),
    }
}

/// The display text of each record (its message, for messages without
/// control characters), in file order.
pub fn displays(log: &[u8]) -> impl Iterator<Item = &str> {
    log.split(|&b| b == b'\n')
        .filter(|line| line.len() >= 130 && !line.starts_with(b"BLOCK_DATA:"))
        .map(|line| std::str::from_utf8(&line[65..line.len() - 65]).expect("UTF-8 display"))
}

/// Byte ranges of each record (both lines with their LFs).
pub fn record_spans(log: &[u8]) -> Vec<Range<usize>> {
    let mut spans = Vec::new();
    let mut start = 0;
    let mut lfs = 0;
    for (i, &b) in log.iter().enumerate() {
        if b == b'\n' {
            lfs += 1;
            if lfs % 2 == 0 {
                spans.push(start..i + 1);
                start = i + 1;
            }
        }
    }
    spans
}

/// The torn bytes kept by recovery records, put back together from their
/// messages: `immutable-log: recovered torn tail at byte X, part i/n, bytes
/// a..b of L, utf8: TEXT` (or `hex: HEX`). Returns the offset and the bytes.
pub fn recovered_bytes(records: &[Record]) -> Option<(u64, Vec<u8>)> {
    let mut offset = None;
    let mut bytes = Vec::new();
    for record in records {
        let Some(rest) = record
            .message
            .strip_prefix("immutable-log: recovered torn tail at byte ")
        else {
            continue;
        };
        let (at, rest) = rest.split_once(", part ").expect("part");
        offset = Some(at.parse::<u64>().expect("offset"));
        let (_, rest) = rest.split_once(", bytes ").expect("bytes");
        let (_, payload) = rest.split_once(", ").expect("payload");
        if let Some(text) = payload.strip_prefix("utf8: ") {
            bytes.extend_from_slice(text.as_bytes());
        } else {
            let hex = payload.strip_prefix("hex: ").expect("utf8 or hex");
            for pair in hex.as_bytes().chunks(2) {
                let pair = std::str::from_utf8(pair).unwrap();
                bytes.push(u8::from_str_radix(pair, 16).expect("hex"));
            }
        }
    }
    offset.map(|o| (o, bytes))
}

/// True if `message` looks like `2026-11-26 10:15:42,123+01:00 - LEVEL - text`
/// (the offset optional).
pub fn seed_formatted(message: &str, level: &str, text: &str) -> bool {
    let Some((time, rest)) = message.split_at_checked(23) else {
        return false;
    };
    let offset_shape = |o: &[u8]| {
        o.len() == 6
            && matches!(o[0], b'+' | b'-')
            && o[1..3].iter().all(u8::is_ascii_digit)
            && o[3] == b':'
            && o[4..].iter().all(u8::is_ascii_digit)
    };
    let rest = match rest.split_at_checked(6) {
        Some((offset, after)) if offset_shape(offset.as_bytes()) => after,
        _ => rest,
    };
    let shape = time.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'-',
        10 => b == b' ',
        13 | 16 => b == b':',
        19 => b == b',',
        _ => b.is_ascii_digit(),
    });
    shape && rest == format!(" - {level} - {text}")
}
