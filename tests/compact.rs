//! The compact encoding: round trips, overhead, gaps read as incomplete with
//! the right `seq` range, changes read as failures, keyed chains, segments.

use immutable_log::compact::{CompactFailureKind, Gap, GENESIS_STATE};
use immutable_log::{
    Clock, CompactChain, CompactVerdict, CompactVerifier, EnqueueError, Key, Level, NoClock, Queue,
    SealKey, Timestamp, VerifyKey,
};

/// A millisecond clock that moves 1 ms per record.
#[derive(Default)]
struct Ms(std::sync::atomic::AtomicU64);

impl Clock for Ms {
    fn now(&self) -> Timestamp {
        let t = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Timestamp::from_ticks(1000 + t, 1000)
    }
}

const Q: usize = 16 * 1024;

/// A plain compact log of `n` records, a sync every 4; drained.
fn log(n: u64) -> Vec<u8> {
    let queue = Queue::<Q>::new();
    let chain: CompactChain<Ms, 128, Q> =
        CompactChain::new(&queue, Ms::default()).with_sync_every(4);
    let mut out = Vec::new();
    for i in 0..n {
        chain
            .append(
                Level::Info,
                format_args!("record {i}: adc ch3 = {} mV", 1200 + i),
            )
            .unwrap();
        queue.drain(&mut out).unwrap();
    }
    out
}

fn verify(bytes: &[u8], segment: bool) -> CompactVerdict {
    let mut buf = [0u8; 512];
    let mut v = CompactVerifier::new(&mut buf, segment);
    let _ = v.feed(bytes);
    v.finish()
}

/// Byte ranges of the frames (each with its zero).
fn frames(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if b == 0 {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    out
}

#[test]
fn a_compact_log_verifies_intact() {
    let bytes = log(20);
    match verify(&bytes, false) {
        CompactVerdict::Intact(r) => {
            assert_eq!(r.records, 20);
            assert_eq!(r.syncs, 5);
            assert_eq!(r.head.map(|h| h.seq), Some(19));
        }
        other => panic!("{other:?}"),
    }
    // One byte at a time gives the same verdict.
    let mut buf = [0u8; 512];
    let mut v = CompactVerifier::new(&mut buf, false);
    for b in &bytes {
        v.feed(std::slice::from_ref(b)).unwrap();
    }
    assert!(matches!(v.finish(), CompactVerdict::Intact(r) if r.records == 20));
}

#[test]
fn a_record_costs_at_most_24_bytes_beyond_its_message() {
    for (message, keyed) in [
        ("adc ch3 = 1234 mV", false),
        ("adc ch3 = 1234 mV", true),
        ("", false),
    ] {
        let queue = Queue::<1024>::new();
        let mut out = Vec::new();
        // Time and seq as late as a long run makes them: 3 days, seq 2^20.
        struct Late;
        impl Clock for Late {
            fn now(&self) -> Timestamp {
                Timestamp::new(3 * 86_400, 999_999)
            }
        }
        let head = Some(immutable_log::CompactHead {
            seq: 1 << 20,
            state: immutable_log::Hash::GENESIS,
        });
        if keyed {
            let key = SealKey::from_parts((1 << 20) + 1, Key::from_bytes([1; 32]), None);
            let chain: CompactChain<Late, 128, 1024, SealKey> =
                CompactChain::sealed(&queue, Late, head, key).with_sync_every(0);
            chain
                .append(Level::Info, format_args!("{message}"))
                .unwrap();
        } else {
            let chain: CompactChain<Late, 128, 1024> =
                CompactChain::sealed(&queue, Late, head, immutable_log::Plain).with_sync_every(0);
            chain
                .append(Level::Info, format_args!("{message}"))
                .unwrap();
        }
        queue.drain(&mut out).unwrap();
        let overhead = out.len() - message.len();
        assert!(
            overhead <= if keyed { 32 } else { 24 },
            "{overhead} keyed={keyed}"
        );
    }
}

#[test]
fn every_single_byte_change_is_never_intact_and_a_message_change_fails() {
    let bytes = log(12);
    for i in 0..bytes.len() {
        for flip in [0x01u8, 0x80] {
            let mut changed = bytes.clone();
            changed[i] ^= flip;
            let v = verify(&changed, false);
            assert!(
                !matches!(v, CompactVerdict::Intact(_)),
                "byte {i} ^ {flip:#x}: {v:?}"
            );
        }
    }
    // A letter of record 5's message: a failure at seq 5, not a gap.
    let at = bytes.windows(9).position(|w| w == b"record 5:").unwrap();
    let mut changed = bytes.clone();
    changed[at] = b'R';
    match verify(&changed, false) {
        CompactVerdict::Failed(_, f) => {
            assert_eq!(f.kind, CompactFailureKind::TagMismatch { seq: 5 });
            assert_eq!(f.frame, 5 + 1 + 1, "records 0-4, one sync, then record 5");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn whole_frames_removed_are_an_exact_gap() {
    let bytes = log(16);
    let spans = frames(&bytes);
    // Frames: r0 r1 r2 r3 S4 r4 r5 r6 r7 S8 ... Remove r5 and r6 (frames 6, 7).
    let mut cut = bytes[..spans[6].start].to_vec();
    cut.extend_from_slice(&bytes[spans[7].end..]);
    match verify(&cut, false) {
        CompactVerdict::Incomplete(r) => {
            assert_eq!(
                r.gap_list.as_slice(),
                &[Gap {
                    first: 5,
                    last: 7,
                    missing: 2
                }]
            );
            assert_eq!(r.records, 16 - 3, "r7 is present but not verifiable");
            assert_eq!(r.unverified, 1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bytes_cut_from_the_middle_are_a_gap_with_its_seq_range() {
    let bytes = log(16);
    let spans = frames(&bytes);
    // From the middle of r5 (frame 6) to the middle of r9 (frame 11).
    let from = spans[6].start + 5;
    let to = spans[11].start + 7;
    let mut cut = bytes[..from].to_vec();
    cut.extend_from_slice(&bytes[to..]);
    match verify(&cut, false) {
        CompactVerdict::Incomplete(r) => {
            assert_eq!(r.gaps, 1);
            let g = r.gap_list[0];
            assert_eq!(
                (g.first, g.last),
                (5, 11),
                "resumes at the sync before seq 12"
            );
            assert_eq!(r.records, 16 - 7);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_capture_joined_mid_stream_is_a_segment() {
    let bytes = log(10);
    let spans = frames(&bytes);
    // Starts in the middle of frame 2.
    let tail = &bytes[spans[2].start + 3..];
    match verify(tail, true) {
        CompactVerdict::Incomplete(r) => {
            assert_eq!(r.start, Some(4));
            assert_eq!(r.records, 6);
            assert_eq!(r.unverified, 1, "r3, before the first sync");
        }
        other => panic!("{other:?}"),
    }
    // Without --allow-segment: records 0.. are a gap.
    assert!(
        matches!(verify(tail, false), CompactVerdict::Incomplete(r) if r.gap_list[0].first == 0)
    );
}

#[test]
fn a_full_queue_is_counted_and_reported() {
    let queue = Queue::<256>::new();
    let chain: CompactChain<NoClock, 128, 256> = CompactChain::new(&queue, NoClock);
    let mut lost = 0;
    for i in 0..20 {
        if let Err(e) = chain.append(Level::Warning, format_args!("overrun {i}")) {
            assert_eq!(e, EnqueueError::Full);
            lost += 1;
        }
    }
    assert!(lost > 0);
    let mut out = Vec::new();
    queue.drain(&mut out).unwrap();
    chain.append(Level::Info, format_args!("after")).unwrap();
    queue.drain(&mut out).unwrap();
    match verify(&out, false) {
        CompactVerdict::Intact(r) => assert_eq!(r.unlogged, lost),
        other => panic!("{other:?}"),
    }
}

#[test]
fn keyed_compact_chains() {
    let queue = Queue::<Q>::new();
    let chain: CompactChain<NoClock, 128, Q, SealKey> = CompactChain::sealed(
        &queue,
        NoClock,
        None,
        SealKey::new(Key::from_bytes([3; 32])),
    )
    .with_sync_every(3);
    for i in 0..10 {
        chain
            .append(Level::Error, format_args!("keyed {i}"))
            .unwrap();
    }
    let mut out = Vec::new();
    queue.drain(&mut out).unwrap();
    let keyed = |bytes: &[u8], k: u8| {
        let mut buf = [0u8; 512];
        let mut v =
            CompactVerifier::keyed(&mut buf, false, VerifyKey::new(Key::from_bytes([k; 32])));
        let _ = v.feed(bytes);
        v.finish()
    };
    assert!(matches!(keyed(&out, 3), CompactVerdict::Intact(r) if r.records == 10 && r.syncs == 3));
    assert!(
        matches!(keyed(&out, 4), CompactVerdict::Failed(..)),
        "another key"
    );
    assert!(matches!(
        verify(&out, false),
        CompactVerdict::Failed(_, f) if f.kind == CompactFailureKind::KeyRequired
    ));
    // A plain log given a key is refused.
    assert!(matches!(
        keyed(&log(3), 3),
        CompactVerdict::Failed(_, f) if f.kind == CompactFailureKind::NotKeyed
    ));
    // A gap in a keyed log resumes at the next (keyed) sync.
    let spans = frames(&out);
    let mut cut = out[..spans[1].start].to_vec();
    cut.extend_from_slice(&out[spans[1].end..]);
    assert!(matches!(
        keyed(&cut, 3),
        CompactVerdict::Incomplete(r) if r.gap_list[0] == Gap { first: 1, last: 2, missing: 1 }
    ));
    assert_eq!(chain.seal().map(|s| s.seq()), Some(10));
}

#[test]
fn an_empty_log_is_intact_and_genesis_is_zeros() {
    assert!(matches!(verify(&[], false), CompactVerdict::Intact(r) if r.records == 0));
    assert_eq!(GENESIS_STATE, [0; 32]);
}

#[test]
fn a_capture_cut_inside_a_frame_is_torn() {
    let bytes = log(3);
    assert!(
        matches!(verify(&bytes[..bytes.len() - 4], false), CompactVerdict::Torn(r, _) if r.records == 2)
    );
}

/// FORMAT.md's test vectors, byte for byte.
#[test]
fn the_test_vectors_of_format_md() {
    struct HalfSeconds(std::sync::atomic::AtomicU64);
    impl Clock for HalfSeconds {
        fn now(&self) -> Timestamp {
            let t = self.0.fetch_add(500, std::sync::atomic::Ordering::Relaxed);
            Timestamp::from_ticks(1000 + t, 1000)
        }
    }
    let hex = |s: &str| -> Vec<u8> {
        s.split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect()
    };
    let queue = Queue::<1024>::new();
    let chain: CompactChain<HalfSeconds, 128, 1024> =
        CompactChain::new(&queue, HalfSeconds(0.into())).with_sync_every(2);
    chain.note_unlogged();
    chain
        .append(Level::Info, format_args!("adc ch3 = 1234 mV"))
        .unwrap();
    chain.append(Level::Warning, format_args!("")).unwrap();
    let mut out = Vec::new();
    queue.drain(&mut out).unwrap();
    assert_eq!(
        out,
        hex(
            "02 12 1e c0 84 3d 01 61 64 63 20 63 68 33 20 3d 20 31 32 33 34 20 6d 56 \
             1a 5f d9 04 18 35 64 18 00 \
             0e 03 01 e0 c6 5b a4 22 90 34 8e 67 41 97 00 \
             23 40 02 a4 22 90 34 8e 67 41 97 29 e7 2d 0c 21 5f c0 c0 f1 95 a2 ab c3 3a \
             82 86 48 3a 16 ba a4 63 ea 85 00"
        )
    );
    let queue = Queue::<1024>::new();
    let chain: CompactChain<HalfSeconds, 128, 1024, SealKey> = CompactChain::sealed(
        &queue,
        HalfSeconds(0.into()),
        None,
        SealKey::new(Key::from_bytes([0x42; 32])),
    )
    .with_sync_every(1);
    chain.append(Level::Error, format_args!("k")).unwrap();
    let mut out = Vec::new();
    queue.drain(&mut out).unwrap();
    assert_eq!(
        out,
        hex(
            "02 24 15 c0 84 3d 6b ff 3a 33 05 ab 66 7c 88 4d ed 57 4a f0 4d 33 a4 00 \
             33 60 01 0f 25 e9 dd 15 ea be bd db 5e 64 23 b5 71 c4 77 24 4e ee 2c 88 8d \
             56 5a 03 a9 15 ba b7 5c b7 77 cd fd a4 c1 d3 11 38 0b 32 af eb 23 9f 41 3d a3 00"
        )
    );
}

#[test]
fn only_mostly_valid_frames_look_compact() {
    use immutable_log::compact::looks_compact;
    let bytes = log(10);
    assert!(looks_compact(&bytes));
    // A capture joined inside a frame still looks compact.
    assert!(looks_compact(&bytes[5..]));
    // A text log does not, nor binary data that merely has zeros.
    assert!(!looks_compact(
        format!("{}|x|{}\n", "0".repeat(64), "a".repeat(64)).as_bytes()
    ));
    let gzip = [
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x0b, 0xc9, 0xc8, 0x2c, 0x56,
        0x00, 0xa2, 0x44, 0x85, 0x92, 0xd4, 0xe2, 0x12, 0x2e, 0x00, 0x7d, 0x0d, 0x6c, 0x0e, 0x0f,
        0x00, 0x00, 0x00,
    ];
    assert!(!looks_compact(&gzip));
    assert!(!looks_compact(b"no zero at all"));
}
