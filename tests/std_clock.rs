//! One clock read per record: the time the seed format writes in the message
//! and the block's `timestamp` are the same instant, to the millisecond.
//! (With two reads, one for each, a record now and then crossed a
//! millisecond between them: with 20,000 records, almost surely one did.)
#![cfg(feature = "std")]

mod common;

use common::read_records;
use immutable_log::std_backend::{Durability, LogFile, SeedFormat};
use immutable_log::Level;

#[test]
fn the_message_time_and_the_block_timestamp_are_one_clock_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clock.log");
    let log = LogFile::options()
        .durability(Durability::Buffered)
        .format(SeedFormat::utc())
        .open(&path)
        .unwrap();
    for i in 0..20_000 {
        log.append(Level::Info, format_args!("record {i}")).unwrap();
    }
    log.close().unwrap();
    let text = std::fs::read(&path).unwrap();
    let records = read_records(&text);
    assert_eq!(records.len(), 20_000);
    for record in &records {
        // `2026-11-27 10:15:42,123+00:00 - INFO - record 7`
        let message = record.message_json();
        let (secs, micros) = record.timestamp().split_once('.').unwrap();
        let secs: u64 = secs.parse().unwrap();
        let millis = micros.get(..3).unwrap();
        let face = format!(
            "{:02}:{:02}:{:02},{millis}+00:00",
            secs % 86_400 / 3600,
            secs % 3600 / 60,
            secs % 60
        );
        assert_eq!(message.get(11..29), Some(face.as_str()), "{message}");
    }
}
