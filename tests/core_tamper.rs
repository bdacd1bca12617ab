//! Tampering with a log is caught, at the record where it happened.

mod common;

use common::*;
use immutable_log::*;

fn small_log() -> (Vec<u8>, Option<Head>) {
    log_of(&["first", "second | with pipe", "third \"q\" é😀\n", "fourth"])
}

fn record_of(spans: &[std::ops::Range<usize>], at: usize) -> u64 {
    spans.iter().position(|s| s.contains(&at)).unwrap() as u64
}

/// Asserts the verdict blames record `k` (a failure there, or a torn tail that
/// starts at it).
fn assert_caught_at(verdict: &Verdict, k: u64, what: &str) {
    match verdict {
        Verdict::Failed(report, failure) => {
            assert_eq!(failure.record, k, "{what}: {failure}");
            assert_eq!(report.records, k, "{what}: records before the failure");
            assert!(
                failure.line == 2 * k + 1 || failure.line == 2 * k + 2,
                "{what}: {failure}"
            );
        }
        Verdict::Torn(report, torn) => {
            assert_eq!(report.records, k, "{what}: torn at {torn:?}");
            assert_eq!(torn.line, 2 * k + 1, "{what}");
        }
        Verdict::Intact(_) => panic!("{what}: not caught"),
    }
}

#[test]
fn every_single_byte_change_is_caught_at_its_record() {
    let (log, _) = small_log();
    let spans = record_spans(&log);
    assert_eq!(spans.len(), 4);
    assert!(matches!(verify(&log), Verdict::Intact(_)));
    let mut checked = 0u32;
    for at in 0..log.len() {
        let k = record_of(&spans, at);
        for value in 0..=255u8 {
            if value == log[at] {
                continue;
            }
            let mut bad = log.clone();
            bad[at] = value;
            let verdict = verify(&bad);
            assert_caught_at(&verdict, k, &format!("byte {at} -> {value:#04x}"));
            checked += 1;
        }
    }
    assert_eq!(checked, log.len() as u32 * 255);
}

#[test]
fn only_a_changed_final_lf_reads_as_torn() {
    let (log, _) = small_log();
    let mut bad = log.clone();
    let last = bad.len() - 1;
    bad[last] = b' ';
    assert!(matches!(verify(&bad), Verdict::Torn(r, _) if r.records == 3));
}

#[test]
fn deleting_duplicating_swapping_records_fails() {
    let (log, _) = small_log();
    let spans = record_spans(&log);
    let rec = |i: usize| &log[spans[i].clone()];
    let join = |order: &[usize]| {
        order
            .iter()
            .flat_map(|&i| rec(i).to_vec())
            .collect::<Vec<u8>>()
    };

    // Deleted from the middle: record 2 no longer follows record 0.
    let v = verify(&join(&[0, 2, 3]));
    assert_fails_at(&v, 1, |k| matches!(k, FailureKind::PrevHashMismatch { .. }));
    // Deleted at the front: the log no longer starts at genesis.
    let v = verify(&join(&[1, 2, 3]));
    assert_fails_at(&v, 0, |k| matches!(k, FailureKind::NotAtGenesis { .. }));
    // Duplicated.
    let v = verify(&join(&[0, 1, 1, 2, 3]));
    assert_fails_at(&v, 2, |k| matches!(k, FailureKind::PrevHashMismatch { .. }));
    // Swapped.
    assert_fails_at(&verify(&join(&[0, 2, 1, 3])), 1, |_| true);
    // Intact reassembly is intact.
    assert!(matches!(verify(&join(&[0, 1, 2, 3])), Verdict::Intact(_)));
}

#[test]
fn clean_truncation_fails_only_against_an_expected_head() {
    let (log, head) = small_log();
    let head = head.unwrap();
    let spans = record_spans(&log);
    let cut = &log[..spans[2].end];
    // From the file alone, a clean cut cannot be seen.
    assert!(matches!(verify(cut), Verdict::Intact(r) if r.records == 3));
    let expected = ExpectedHead {
        seq: head.seq.unwrap(),
        hash: head.hash,
    };
    let options = Options {
        expect_head: Some(expected),
        ..Options::default()
    };
    let v = verify_with(cut, options, 4096);
    assert_fails(&v, |k| matches!(k, FailureKind::EndsBeforeHead { .. }));
    // The whole log reaches it.
    assert!(matches!(
        verify_with(&log, options, 4096),
        Verdict::Intact(_)
    ));
    // A log that grew past the expected head still contains it.
    let earlier = ExpectedHead {
        seq: 1,
        hash: verify(&log[..spans[1].end]).report().head.unwrap().hash,
    };
    let options = Options {
        expect_head: Some(earlier),
        ..Options::default()
    };
    assert!(matches!(
        verify_with(&log, options, 4096),
        Verdict::Intact(_)
    ));
}

#[test]
fn a_rewritten_chain_is_caught_by_the_expected_head() {
    let (log, head) = small_log();
    let head = head.unwrap();
    // Someone rewrites the log from scratch with other content: it is
    // internally consistent, but at seq 3 its hash is not the recorded one.
    let (forged, _) = log_of(&["first", "second | with pipe", "third (edited)", "fourth"]);
    assert!(matches!(verify(&forged), Verdict::Intact(_)));
    let options = Options {
        expect_head: Some(ExpectedHead {
            seq: head.seq.unwrap(),
            hash: head.hash,
        }),
        ..Options::default()
    };
    let v = verify_with(&forged, options, 4096);
    assert_fails_at(&v, 3, |k| matches!(k, FailureKind::HeadMismatch { .. }));
    assert!(matches!(
        verify_with(&log, options, 4096),
        Verdict::Intact(_)
    ));
}

#[test]
fn segments_need_permission_or_the_expected_start() {
    let (log, _) = small_log();
    let spans = record_spans(&log);
    let before = verify(&log[..spans[1].end]).report().head.unwrap();
    let segment = &log[spans[2].start..];
    assert_fails(&verify(segment), |k| {
        matches!(k, FailureKind::NotAtGenesis { .. })
    });

    let any = Options {
        start: Start::Segment,
        ..Options::default()
    };
    let Verdict::Intact(report) = verify_with(segment, any, 4096) else {
        panic!()
    };
    assert_eq!(report.records, 2);
    let start = report.start.unwrap();
    assert_eq!(start.seq, Some(2));
    assert_eq!(start.prev_hash, before.hash);
    assert!(!start.is_genesis());

    let after = Options {
        start: Start::After(before),
        ..Options::default()
    };
    assert!(matches!(verify_with(segment, after, 4096), Verdict::Intact(r) if r.records == 2));
    let wrong = Options {
        start: Start::After(Head {
            seq: Some(1),
            hash: Hash::GENESIS,
        }),
        ..Options::default()
    };
    assert_fails(&verify_with(segment, wrong, 4096), |k| {
        matches!(k, FailureKind::PrevHashMismatch { .. })
    });
}

#[test]
fn a_seq_out_of_order_is_named() {
    // Re-seal a record with a wrong seq, correctly hashed, so only seq is off.
    let mut writer = vec_writer(None);
    writer
        .append_draft(
            &mut Draft::<CAP>::new(Level::Info, format_args!("a")),
            Timestamp::default(),
            0,
        )
        .unwrap();
    let head = writer.head().unwrap();
    let mut skip = Writer::resume(
        writer.into_sink(),
        Some(Head {
            seq: Some(5),
            hash: head.hash,
        }),
    );
    skip.append_draft(
        &mut Draft::<CAP>::new(Level::Info, format_args!("b")),
        Timestamp::default(),
        0,
    )
    .unwrap();
    let f = failure(&verify(&skip.into_sink()));
    let kind = FailureKind::SeqOutOfOrder {
        expected: 1,
        found: 6,
    };
    assert_eq!((f.line, f.record, f.kind), (3, 1, kind));
}

#[test]
fn an_overlong_record_is_refused_with_bounded_memory() {
    let long = "y".repeat(800);
    let (log, _) = log_of(&["short", &long, "after"]);
    for chunk in [1, 5, 100, log.len()] {
        let v = verify_chunked(&log, chunk, Options::default(), 1200);
        let f = failure(&v);
        let kind = FailureKind::LineTooLong { limit: 1200 };
        assert_eq!((f.line, f.record, f.kind), (4, 1, kind), "chunk {chunk}");
        assert_eq!(v.report().records, 1, "chunk {chunk}");
    }
    // A huge line with no LF at all.
    let mut garbage = log_of(&["ok"]).0;
    garbage.extend(std::iter::repeat_n(b'z', 100_000));
    let v = verify_chunked(&garbage, 4096, Options::default(), 1200);
    assert_eq!(failure(&v).line, 3, "{v:?}");
    assert_fails(&v, |k| matches!(k, FailureKind::LineTooLong { .. }));
}

#[test]
fn torn_tails_are_told_apart_from_tampering() {
    let (log, _) = small_log();
    let spans = record_spans(&log);
    let last = spans[3].clone();
    for cut in last.start + 1..last.end {
        let v = verify(&log[..cut]);
        let Verdict::Torn(report, torn) = v else {
            panic!("cut {cut}: {v:?}")
        };
        assert_eq!(report.records, 3);
        assert_eq!(torn.line, 7);
        assert_eq!(torn.offset, last.start as u64);
        assert_eq!(torn.len, cut - last.start);
    }
    // Bytes without an LF after the last record are a torn tail, whatever
    // they are (a flash cell cut mid-program is not a clean prefix): every
    // complete record before them is intact, and nothing can hide in them.
    let mut junk = log.clone();
    junk.extend_from_slice(b"HACKED");
    assert!(matches!(verify(&junk), Verdict::Torn(r, t) if r.records == 4 && t.len == 6));
    // A complete line that is not a display line is not a torn record.
    let mut bad = log[..last.start].to_vec();
    bad.extend_from_slice(b"garbage\nBLOCK_DA");
    let f = failure(&verify(&bad));
    let kind = FailureKind::Record(RecordFault::MalformedDisplayLine);
    assert_eq!((f.line, f.record, f.kind), (7, 3, kind));
    // A blank line is malformed too.
    let mut blank = log.clone();
    blank.push(b'\n');
    blank.extend_from_slice(&log[spans[0].clone()]);
    failure(&verify(&blank));
}

#[test]
fn deeply_nested_json_is_refused_without_recursion() {
    // An unknown key holding 100,000 nested arrays, correctly hashed: a
    // recursive parser would overflow the stack (the process aborts).
    let g = "0".repeat(64);
    for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
        let depth = 100_000;
        let block = format!(
            "{{\"levelno\":20,\"message\":\"m\",\"prev_hash\":\"{g}\",\"seq\":0,\"timestamp\":1.0,\"x\":{}1{}}}",
            open.repeat(depth),
            close.repeat(depth)
        );
        let hash = BlockHasher::hash(block.as_bytes());
        let log = format!("{g}|m|{hash}\nBLOCK_DATA:{block}\n");
        let v = verify_with(log.as_bytes(), Options::default(), 4 << 20);
        assert_fails_at(&v, 0, |k| {
            matches!(
                k,
                FailureKind::Record(RecordFault::MalformedBlock(JsonFault {
                    kind: JsonFaultKind::TooDeep,
                    ..
                }))
            )
        });
        assert!(matches!(
            resume(log.as_bytes(), true),
            Err(ResumeError::LastRecord { .. })
        ));
    }
    // A little nesting in an unknown key is fine (and brackets in strings never count).
    let block = format!(
        "{{\"levelno\":20,\"message\":\"[[[[[[[[[[[[\",\"prev_hash\":\"{g}\",\"timestamp\":1,\"x\":[1,{{\"a\":[null]}}]}}"
    );
    let hash = BlockHasher::hash(block.as_bytes());
    let log = format!("{g}|[[[[[[[[[[[[|{hash}\nBLOCK_DATA:{block}\n");
    assert!(matches!(verify(log.as_bytes()), Verdict::Intact(_)));
}

#[test]
fn garbage_never_panics() {
    let inputs: [&[u8]; 8] = [
        b"\n",
        b"\n\n\n\n",
        b"|\n|\n",
        &[0xff; 300],
        b"0000000000000000000000000000000000000000000000000000000000000000||0000000000000000000000000000000000000000000000000000000000000000\nBLOCK_DATA:\n",
        b"0000000000000000000000000000000000000000000000000000000000000000||e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nBLOCK_DATA:\n",
        b"0000000000000000000000000000000000000000000000000000000000000000|\xff\xfe|e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nBLOCK_DATA:\n",
        b"BLOCK_DATA:{}\nBLOCK_DATA:{}\n",
    ];
    for input in inputs {
        for chunk in [1, 3, input.len().max(1)] {
            let v = verify_chunked(input, chunk, Options::default(), 256);
            assert!(!matches!(v, Verdict::Intact(r) if r.records > 0), "{v:?}");
        }
        let _ = resume(input, true);
        let _ = resume(input, false);
    }
}
