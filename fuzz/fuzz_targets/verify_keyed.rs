//! The keyed verifier (`Verifier::keyed`) on any input: no panic, bounded
//! memory, the same verdict in any chunking; a keyed chain needs its key,
//! another key fails it, and any suffix of it verifies as a keyed segment.
//!
//! Input: as for `verify` (see `split_header`): `h & 7` is the number of chunk
//! sizes less one, `h & 8` picks a 256-byte record limit instead of 4 KiB.
//! The key is `KEY`, the one the keyed seeds are written with.
#![no_main]

use immutable_log::{FailureKind, Key, Options, Start, Verdict, VerifyKey};
use immutable_log_fuzz::{invariant, record_spans, split_header, KEY, LIMIT};
use libfuzzer_sys::fuzz_target;

fn check(data: &[u8]) {
    let Some((h, sizes, log)) = split_header(data) else {
        return;
    };
    let mut big = [0u8; LIMIT];
    let mut small = [0u8; 256];
    let buf: &mut [u8] = if h & 8 != 0 { &mut small } else { &mut big };
    let key = VerifyKey::new(Key::from_bytes(KEY));

    let genesis = invariant(buf, Options::default(), Some(&key), log, &sizes);
    let segment_opts = Options {
        start: Start::Segment,
        ..Options::default()
    };
    let segment = invariant(buf, segment_opts, Some(&key), log, &sizes);
    for verdict in [&genesis, &segment] {
        let r = verdict.report();
        assert_eq!(r.records == 0, r.head.is_none());
        if let Verdict::Torn(_, torn) = verdict {
            assert_eq!(torn.offset as usize + torn.len, log.len());
        }
    }

    let Verdict::Intact(g) = genesis else {
        return;
    };
    if g.records == 0 {
        return;
    }
    // A keyed chain from genesis: also a keyed segment; without the key, a
    // key is required; with another key, the key is wrong.
    let Verdict::Intact(s) = segment else {
        panic!("keyed, intact from genesis, not as a segment: {segment:?}");
    };
    assert_eq!((g.records, g.head), (s.records, s.head));
    let plain = invariant(buf, Options::default(), None, log, &sizes);
    assert!(
        matches!(plain, Verdict::Failed(_, f) if f.kind == FailureKind::KeyRequired),
        "a keyed chain without its key: {plain:?}"
    );
    let other = VerifyKey::new(Key::from_bytes(KEY.map(|b| b ^ 1)));
    let wrong = invariant(buf, Options::default(), Some(&other), log, &sizes);
    assert!(
        matches!(wrong, Verdict::Failed(_, f) if f.kind == FailureKind::WrongKey),
        "a keyed chain with another key: {wrong:?}"
    );
    // Any suffix of whole records is a keyed segment: the key for its first
    // record is derived from k(0).
    let spans = record_spans(log);
    assert_eq!(spans.len() as u64, g.records);
    let i = usize::from(h >> 4) % spans.len();
    let rest = invariant(
        buf,
        segment_opts,
        Some(&key),
        &log[spans[i].start..],
        &sizes,
    );
    let Verdict::Intact(r) = rest else {
        panic!("a keyed chain from record {i}: {rest:?}");
    };
    assert_eq!((r.records, r.head), (g.records - i as u64, g.head));
}

fuzz_target!(|data: &[u8]| check(data));
