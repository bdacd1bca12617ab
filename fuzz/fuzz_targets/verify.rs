//! The streaming verifier on any input: it never panics, its memory is the
//! fixed buffer it is lent, and its verdict does not depend on how the input
//! is chunked (FORMAT.md, "Verification"; `src/verify.rs`).
//!
//! Input: `[h, s_1 .. s_k, log ..]` (see `split_header`): `h & 7` is `k - 1`
//! and the `s_i` are chunk sizes, cycled; `h & 8` picks a 256-byte record
//! limit instead of 4 KiB (records too long for the buffer); `h >> 4` is the
//! `seq` of an arbitrary expected head.
#![no_main]

use immutable_log::{
    verify_read, ExpectedHead, FailureKind, Hash, Head, Options, Record, Start, Verdict, Verifier,
};
use immutable_log_fuzz::{invariant, split_header, verify_whole, LIMIT};
use libfuzzer_sys::fuzz_target;

/// An `embedded_io::Read` over a slice that hands out pieces of the sizes given, cycled.
struct Pieces<'a> {
    rest: &'a [u8],
    sizes: &'a [usize],
    i: usize,
}

impl embedded_io::ErrorType for Pieces<'_> {
    type Error = core::convert::Infallible;
}

impl embedded_io::Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let size = self.sizes[self.i % self.sizes.len()];
        self.i += 1;
        let n = size.min(buf.len()).min(self.rest.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        Ok(n)
    }
}

/// What any verdict must look like.
fn shape(verdict: &Verdict, log: &[u8], limit: usize) {
    match verdict {
        Verdict::Failed(report, failure) => {
            assert!(failure.line >= 1);
            assert_eq!(failure.record, report.records);
            if let FailureKind::LineTooLong { limit: l } = failure.kind {
                assert_eq!(l, limit);
            }
        }
        Verdict::Torn(_, torn) => {
            assert!(torn.len > 0 && torn.len <= limit);
            assert_eq!(
                torn.offset as usize + torn.len,
                log.len(),
                "a torn tail ends the log"
            );
        }
        Verdict::Intact(_) => assert!(log.is_empty() || log.ends_with(b"\n")),
    }
    let r = verdict.report();
    assert_eq!(r.records == 0, r.head.is_none());
    assert_eq!(r.records == 0, r.start.is_none());
    assert!(r.truncated <= r.records);
}

fn check(data: &[u8]) {
    let Some((h, sizes, log)) = split_header(data) else {
        return;
    };
    let mut big = [0u8; LIMIT];
    let mut small = [0u8; 256];
    let buf: &mut [u8] = if h & 8 != 0 { &mut small } else { &mut big };
    let limit = buf.len();

    // verify_read, through a chunk buffer as big as the largest piece.
    {
        let mut chunk = vec![0u8; sizes.iter().copied().max().unwrap_or(1)];
        let mut reader = Pieces {
            rest: log,
            sizes: &sizes,
            i: 0,
        };
        let mut v = Verifier::new(buf, Options::default());
        let Ok(read) = verify_read(&mut reader, &mut v, &mut chunk);
        let whole = verify_whole(buf, Options::default(), None, log);
        assert_eq!(read, whole, "verify_read");
    }

    let genesis = invariant(buf, Options::default(), None, log, &sizes);
    let segment_opts = Options {
        start: Start::Segment,
        ..Options::default()
    };
    let segment = invariant(buf, segment_opts, None, log, &sizes);
    shape(&genesis, log, limit);
    shape(&segment, log, limit);

    // A chain from genesis is also a valid segment, with the same records.
    if let Verdict::Intact(g) = genesis {
        let Verdict::Intact(s) = segment else {
            panic!("intact from genesis, but as a segment: {segment:?}");
        };
        assert_eq!(g.records, s.records);
        assert_eq!(g.head.map(|h| h.hash), s.head.map(|h| h.hash));
        assert!(g.start.is_none_or(|s| s.is_genesis()));
    }

    // A segment verifies after the head it names as its start, with the same
    // report: `After` with seq n - 1 expects seq n, as a segment learns it
    // from its first record (and `After` with no seq checks no seq).
    if let (Verdict::Intact(s), Some(start)) = (segment, segment.report().start) {
        let after = Options {
            start: Start::After(Head {
                seq: start.seq.and_then(|q| q.checked_sub(1)),
                hash: start.prev_hash,
            }),
            ..Options::default()
        };
        let a = invariant(buf, after, None, log, &sizes);
        assert_eq!(a, Verdict::Intact(s), "a segment after its own start");
    }

    for (options, verdict) in [(Options::default(), genesis), (segment_opts, segment)] {
        let Some(Head {
            seq: Some(seq),
            hash,
        }) = verdict.report().head
        else {
            continue;
        };
        // The head it reached, expected: the same verdict.
        let expect = ExpectedHead { seq, hash };
        let with = Options {
            expect_head: Some(expect),
            ..options
        };
        let same = invariant(buf, with, None, log, &sizes);
        assert_eq!(same, verdict, "expecting its own head");
        // A head one past it: truncated (or the failure found first).
        if let Some(next) = seq.checked_add(1) {
            let with = Options {
                expect_head: Some(ExpectedHead { seq: next, hash }),
                ..options
            };
            match invariant(buf, with, None, log, &sizes) {
                Verdict::Failed(_, f) => {
                    if !matches!(verdict, Verdict::Failed(..)) {
                        assert!(
                            matches!(f.kind, FailureKind::EndsBeforeHead { .. }),
                            "{f:?}"
                        );
                    }
                }
                other => panic!("a head past the end was not missed: {other:?}"),
            }
        }
        // The same seq with another hash: a fork.
        let other = Hash::from_bytes(hash.as_bytes().map(|b| b ^ 1));
        let with = Options {
            expect_head: Some(ExpectedHead { seq, hash: other }),
            ..options
        };
        let forked = invariant(buf, with, None, log, &sizes);
        assert!(
            matches!(forked, Verdict::Failed(..)),
            "fork not seen: {forked:?}"
        );
    }

    // The origin: record 0's hash expected gives the same verdict; another fails.
    if genesis.report().records > 0 {
        let (first, _) = Record::read(log)
            .expect("two lines")
            .expect("record 0 passed");
        let origin = first.hash();
        let with = Options {
            expect_origin: Some(origin),
            ..Options::default()
        };
        assert_eq!(
            invariant(buf, with, None, log, &sizes),
            genesis,
            "its own origin"
        );
        let with = Options {
            expect_origin: Some(Hash::from_bytes(origin.as_bytes().map(|b| b ^ 1))),
            ..Options::default()
        };
        let other = invariant(buf, with, None, log, &sizes);
        assert!(
            matches!(other, Verdict::Failed(_, f) if matches!(f.kind, FailureKind::OriginMismatch { .. })),
            "another origin: {other:?}"
        );
    }

    // An arbitrary start and expectations: no panic, chunking invariance.
    let seq = u64::from(h >> 4);
    // Every field set, and `..Default::default()` for fields yet to come.
    #[allow(clippy::needless_update)]
    let arbitrary = Options {
        start: Start::After(Head {
            seq: Some(seq),
            hash: Hash::GENESIS,
        }),
        expect_head: Some(ExpectedHead {
            seq,
            hash: Hash::GENESIS,
        }),
        expect_origin: Some(Hash::GENESIS),
        ..Options::default()
    };
    invariant(buf, arbitrary, None, log, &sizes);
}

fuzz_target!(|data: &[u8]| check(data));
