//! Continuing a chain from the tail of a log, and keeping torn tails.

mod common;

use common::*;
use immutable_log::*;

fn continue_log(log: &[u8], messages: &[&str]) -> Vec<u8> {
    let resumed = resume(log, true).unwrap();
    assert_eq!(resumed.end, log.len(), "clean end");
    let mut writer = Writer::resume(log.to_vec(), resumed.head);
    for m in messages {
        writer
            .append_draft(
                &mut Draft::<CAP>::new(Level::Info, format_args!("{m}")),
                Timestamp::default(),
                0,
            )
            .unwrap();
    }
    writer.into_sink()
}

#[test]
fn three_sessions_make_one_chain() {
    let (s1, head1) = log_of(&["session 1 a", "session 1 b"]);
    let r = resume(&s1, true).unwrap();
    assert_eq!(r.head, head1);
    let s2 = continue_log(&s1, &["session 2"]);
    let s3 = continue_log(&s2, &["session 3 a", "session 3 b"]);
    let Verdict::Intact(report) = verify(&s3) else {
        panic!()
    };
    assert_eq!(report.records, 5);
    assert_eq!(report.head.unwrap().seq, Some(4));
    let seqs: Vec<Option<u64>> = read_records(&s3).iter().map(Record::seq).collect();
    assert_eq!(seqs, [0, 1, 2, 3, 4].map(Some));
}

#[test]
fn only_the_tail_is_needed() {
    let (log, head) = log_of(&["a", "b", "c", &"long ".repeat(100), "last"]);
    let spans = record_spans(&log);
    let last = spans.last().unwrap().clone();
    // The last record plus the LF before it is enough...
    let tail = &log[last.start - 1..];
    let r = resume(tail, false).unwrap();
    assert_eq!(r.head, head);
    assert_eq!(r.end, tail.len());
    // ...less is not, and says so.
    assert_eq!(
        resume(&log[last.start + 1..], false),
        Err(ResumeError::NeedMoreTail)
    );
    assert_eq!(
        resume(&log[last.end - 10..], false),
        Err(ResumeError::NeedMoreTail)
    );
    // An empty log starts at genesis.
    assert_eq!(resume(b"", true), Ok(Resumed { head: None, end: 0 }));
    assert_eq!(resume(b"", false), Err(ResumeError::NeedMoreTail));
}

#[test]
fn a_torn_tail_at_every_offset_is_kept_and_the_chain_continues() {
    let (log, _) = log_of(&["one", "two", "three ü \"q\" | x"]);
    let spans = record_spans(&log);
    let last = spans[2].clone();
    let before = verify(&log[..last.start]).report().head;
    for cut in last.start + 1..last.end {
        let crashed = &log[..cut];
        let r = resume(crashed, true).unwrap();
        assert_eq!(r.head, before, "cut {cut}");
        assert_eq!(r.end, last.start);
        let torn = crashed[r.end..].to_vec();
        // As a file handler does: cut the torn bytes, then write them back.
        let mut writer = Writer::resume(crashed[..r.end].to_vec(), r.head);
        writer
            .append_recovered::<CAP>(&torn, r.end as u64, Timestamp::default())
            .unwrap();
        writer
            .append_draft(
                &mut Draft::<CAP>::new(Level::Info, format_args!("next")),
                Timestamp::default(),
                0,
            )
            .unwrap();
        let out = writer.into_sink();
        let Verdict::Intact(report) = verify(&out) else {
            panic!("cut {cut}")
        };
        assert_eq!(
            report.records, 4,
            "cut {cut}: one recovery record, then the next"
        );
        let recovery = read_records(&out)[2];
        let message = message(&recovery);
        assert!(message.starts_with(&format!(
            "immutable-log: recovered torn tail at byte {}",
            last.start
        )));
        match String::from_utf8(torn.clone()) {
            Ok(text) => assert!(
                message.ends_with(&format!("utf8: {text}")),
                "cut {cut}: {message}"
            ),
            // Cut inside a multi-byte character: kept as hex.
            Err(_) => {
                let hex: String = torn.iter().map(|b| format!("{b:02x}")).collect();
                assert!(
                    message.ends_with(&format!("hex: {hex}")),
                    "cut {cut}: {message}"
                );
            }
        }
        assert_eq!(recovery.levelno(), 30);
        assert_eq!(recovered_bytes(&out), Some((last.start as u64, torn)));
    }
}

#[test]
fn a_big_or_binary_torn_tail_is_split_and_kept_exactly() {
    // Binary (not UTF-8): written as hex, in as many parts as needed.
    let torn: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 256) as u8).collect();
    let mut writer = vec_writer(None);
    writer
        .append_recovered::<512>(&torn, 99, Timestamp::default())
        .unwrap();
    let out = writer.into_sink();
    assert!(matches!(verify(&out), Verdict::Intact(r) if r.records > 1 && r.truncated == 0));
    assert!(messages(&out).iter().all(|m| m.contains(", hex: ")));
    assert_eq!(recovered_bytes(&out), Some((99, torn)));

    // Text full of characters that escape to six bytes: still exact, never cut.
    let torn = "\u{1}é\"\n".repeat(500);
    let mut writer = vec_writer(None);
    writer
        .append_recovered::<512>(torn.as_bytes(), 0, Timestamp::default())
        .unwrap();
    let out = writer.into_sink();
    assert!(matches!(verify(&out), Verdict::Intact(r) if r.truncated == 0));
    assert!(messages(&out).iter().all(|m| m.contains(", utf8: ")));
    assert_eq!(recovered_bytes(&out), Some((0, torn.into_bytes())));
}

#[test]
fn a_bad_last_record_is_not_extended() {
    let (log, _) = log_of(&["one", "two"]);
    let spans = record_spans(&log);
    // Edit the last record's message in its block.
    let mut bad = log.clone();
    let at = spans[1].end - 60;
    bad[at] ^= 1;
    assert!(matches!(
        resume(&bad, true),
        Err(ResumeError::LastRecord { fault: RecordFault::HashMismatch, offset }) if offset == spans[1].start
    ));
    // Edit its display.
    let mut bad = log.clone();
    bad[spans[1].start + 65] = b'X';
    assert!(matches!(
        resume(&bad, true),
        Err(ResumeError::LastRecord {
            fault: RecordFault::DisplayMismatch,
            ..
        })
    ));
    // A complete line after the last record that is not a display line.
    let mut bad = log.clone();
    bad.extend_from_slice(b"not a record\n");
    assert!(matches!(
        resume(&bad, true),
        Err(ResumeError::MalformedTail { .. })
    ));
    assert!(!ResumeError::NeedMoreTail.to_string().is_empty());
}
