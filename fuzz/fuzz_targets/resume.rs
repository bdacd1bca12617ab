//! `resume()` and `resume_keyed()` on any tail: they never panic, what they
//! return lies inside the tail and agrees with the verifier, and a torn tail
//! written back with `Writer::append_recovered` is kept, byte for byte, in
//! records that verify (FORMAT.md, "Continuation"; `src/resume.rs`).
//!
//! Input: the tail, as is. The keyed checks use the key states of the keyed
//! seed log (`keyed_log`), so inputs grown from it reach past the seal check.
#![no_main]

use std::sync::OnceLock;

use immutable_log::{
    records, resume, resume_keyed, Head, Key, Options, ResumeError, Resumed, SealKey, SealedRecord,
    Start, Timestamp, Verdict, VerifyKey, Writer,
};
use immutable_log_fuzz::{keyed_log, messages, reassemble, verify_whole, VecSink, KEY, LIMIT};
use libfuzzer_sys::fuzz_target;

/// The record buffer the recovery records are written with.
const CAP: usize = 1024;

fn check_result(r: Result<Resumed, ResumeError>, len: usize) {
    match r {
        Ok(Resumed { end, .. }) => assert!(end <= len, "end {end} past {len}"),
        Err(ResumeError::LastRecord { offset, .. } | ResumeError::MalformedTail { offset }) => {
            assert!(offset <= len, "{r:?} outside a tail of {len} bytes")
        }
        Err(_) => {}
    }
}

/// Where the record that ends at `end` (after its second LF) starts.
fn record_start(data: &[u8], end: usize) -> usize {
    let body = &data[..end - 1];
    let block_start = body.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    data[..block_start.saturating_sub(1)]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1)
}

/// Writes `torn` back after `head` with `writer`, and checks the records it
/// wrote: they verify after `head` (with `key` for a keyed chain), none is
/// cut, and their messages hold the torn bytes. Returns the continued log.
fn recover<S: immutable_log::Seal>(
    data: &[u8],
    resumed: Resumed,
    mut writer: Writer<VecSink, S>,
    key: Option<&VerifyKey>,
) -> Vec<u8> {
    let Resumed { head, end } = resumed;
    let torn = &data[end..];
    let new_head = writer
        .append_recovered::<CAP>(torn, end as u64, Timestamp::default())
        .expect("a Vec sink never fails");
    let out = writer.into_sink().0;
    // A keyed chain from genesis starts with its chain-start record.
    let chain_start = usize::from(key.is_some() && head.is_none() && !torn.is_empty());
    let parts = records(&out).count() - chain_start;
    assert_eq!(
        torn.is_empty(),
        parts == 0,
        "a torn tail takes records, and only one does"
    );
    let options = Options {
        start: match head {
            Some(h) => Start::After(h),
            None => Start::Genesis,
        },
        ..Options::default()
    };
    let mut buf = [0u8; LIMIT];
    let verdict = verify_whole(&mut buf, options, key, &out);
    let Verdict::Intact(report) = verdict else {
        panic!("recovery records do not verify: {verdict:?}");
    };
    assert_eq!(report.records, (parts + chain_start) as u64);
    assert_eq!(report.truncated, 0, "a recovery message was cut");
    assert_eq!(parts == 0, torn.is_empty());
    assert_eq!(new_head, if parts == 0 { head } else { report.head });
    let mut written = messages(&out);
    written.drain(..chain_start as usize);
    let recovered = reassemble(&written, end as u64).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        recovered, torn,
        "the torn bytes are not all in the recovery records"
    );
    let mut continued = data[..end].to_vec();
    continued.extend_from_slice(&out);
    continued
}

fn check_plain(data: &[u8]) {
    let whole = resume(data, true);
    let tail = resume(data, false);
    check_result(whole, data.len());
    check_result(tail, data.len());
    if let Ok(t) = tail {
        assert_eq!(
            whole,
            Ok(t),
            "a tail that suffices suffices for the whole log"
        );
    }
    let Ok(resumed @ Resumed { head, end }) = whole else {
        return;
    };
    let torn = &data[end..];

    // The verifier agrees: the last record alone is intact, and with the torn
    // tail after it, the log is torn at `end`.
    let start = match head {
        Some(_) => {
            assert!(end >= 2 && data[end - 1] == b'\n');
            record_start(data, end)
        }
        None => {
            assert_eq!(end, 0);
            0
        }
    };
    let segment = Options {
        start: Start::Segment,
        ..Options::default()
    };
    let mut buf = vec![0u8; data.len() - start];
    let verdict = verify_whole(&mut buf, segment, None, &data[start..]);
    let report = *verdict.report();
    assert_eq!(report.head, head, "{verdict:?}");
    assert_eq!(report.records, u64::from(head.is_some()), "{verdict:?}");
    match verdict {
        Verdict::Intact(_) => assert!(torn.is_empty()),
        Verdict::Torn(_, t) => {
            assert_eq!(t.offset as usize, end - start);
            assert_eq!(t.len, torn.len());
        }
        Verdict::Failed(..) => panic!("resume accepted what the verifier fails: {verdict:?}"),
    }

    // The documented minimum tail, the last record and the LF before it, is enough.
    if head.is_some() && start > 0 {
        let short = resume(&data[start - 1..], false);
        let want = Resumed {
            head,
            end: end - (start - 1),
        };
        assert_eq!(short, Ok(want), "the last record and the LF before it");
    }

    // The torn tail written back; the continued log resumes at its new head.
    let continued = recover(
        data,
        resumed,
        Writer::resume(VecSink::default(), head),
        None,
    );
    let again = resume(&continued, true).expect("the continued log resumes");
    assert_eq!(again.end, continued.len());
    if !torn.is_empty() {
        assert_ne!(again.head, head);
    }
}

fn check_keyed(data: &[u8]) {
    static STATES: OnceLock<Vec<SealKey>> = OnceLock::new();
    let states = STATES.get_or_init(|| keyed_log().1);
    let verify_key = VerifyKey::new(Key::from_bytes(KEY));
    // The seed log's states, and one that fits no log.
    let stray = SealKey::from_parts(
        7,
        Key::from_bytes(KEY),
        Some(SealedRecord {
            tag: Default::default(),
            digest: Default::default(),
        }),
    );
    for state in states.iter().chain([&stray]) {
        let mut after_whole = state.clone();
        let mut after_tail = state.clone();
        let whole = resume_keyed(data, true, &mut after_whole);
        let tail = resume_keyed(data, false, &mut after_tail);
        check_result(whole, data.len());
        check_result(tail, data.len());
        // (A whole log must be whole records from its first byte, where a
        // tail may start mid-record: catching up, a tail can succeed where
        // the same bytes as a whole log fail. Where both succeed, they agree.)
        if let (Ok(w), Ok(t)) = (whole, tail) {
            assert_eq!(w, t);
            assert_eq!(after_whole, after_tail);
        }
        let Ok(resumed) = whole else {
            continue;
        };
        // The key state is at the last record: it sealed it, and the key is
        // for the next (caught up if it was behind).
        match resumed.head {
            Some(Head { seq, hash }) => {
                assert_eq!(Some(hash), after_whole.last().map(|s| s.tag));
                assert_eq!(seq.and_then(|s| s.checked_add(1)), Some(after_whole.seq()));
            }
            None => assert_eq!((after_whole.seq(), after_whole.last()), (0, None)),
        }
        let writer = Writer::sealed(VecSink::default(), resumed.head, after_whole);
        recover(data, resumed, writer, Some(&verify_key));
    }
}

fuzz_target!(|data: &[u8]| {
    check_plain(data);
    check_keyed(data);
});
