//! Where the compact chain puts its sync records: after every K records from
//! genesis, and right after the first record of a chain that continues a head
//! (so a capture of a new run verifies from there).

use immutable_log::compact::{parse, Payload};
use immutable_log::{
    CompactChain, CompactHead, CompactVerdict, CompactVerifier, Hash, Level, NoClock, Queue,
};

/// Decodes each COBS frame (the test's own decoder) and lists what it is:
/// `Ok(seq)` for a record, `Err(next)` for a sync.
fn kinds(bytes: &[u8]) -> Vec<Result<u64, u64>> {
    let mut out = Vec::new();
    for frame in bytes.split(|&b| b == 0).filter(|f| !f.is_empty()) {
        let mut payload = Vec::new();
        let mut i = 0;
        while i < frame.len() {
            let code = usize::from(frame[i]);
            payload.extend_from_slice(&frame[i + 1..i + code]);
            i += code;
            if code < 0xff && i < frame.len() {
                payload.push(0);
            }
        }
        match parse(&payload).unwrap() {
            Payload::Record(r) => out.push(Ok(r.seq)),
            Payload::Sync(s) => out.push(Err(s.next)),
        }
    }
    out
}

#[test]
fn from_genesis_a_sync_follows_every_kth_record() {
    let queue = Queue::<4096>::new();
    let chain: CompactChain<NoClock, 64, 4096> =
        CompactChain::new(&queue, NoClock).with_sync_every(3);
    for i in 0..7 {
        chain.append(Level::Info, format_args!("r{i}")).unwrap();
    }
    let mut out = Vec::new();
    queue.drain(&mut out).unwrap();
    assert_eq!(
        kinds(&out),
        [
            Ok(0),
            Ok(1),
            Ok(2),
            Err(3),
            Ok(3),
            Ok(4),
            Ok(5),
            Err(6),
            Ok(6)
        ]
    );
}

#[test]
fn a_resumed_chain_syncs_after_its_first_record() {
    let queue = Queue::<4096>::new();
    let head = CompactHead {
        seq: 99,
        state: Hash::from_bytes([7; 32]),
    };
    let chain: CompactChain<NoClock, 64, 4096> =
        CompactChain::sealed(&queue, NoClock, Some(head), immutable_log::Plain).with_sync_every(4);
    for i in 0..6 {
        chain.append(Level::Info, format_args!("r{i}")).unwrap();
    }
    let mut out = Vec::new();
    queue.drain(&mut out).unwrap();
    assert_eq!(
        kinds(&out),
        [
            Ok(100),
            Err(101),
            Ok(101),
            Ok(102),
            Ok(103),
            Ok(104),
            Err(105),
            Ok(105)
        ]
    );
    // The run's capture verifies as a segment from that first sync on.
    let mut buf = [0u8; 512];
    let mut verifier = CompactVerifier::new(&mut buf, true);
    let _ = verifier.feed(&out);
    match verifier.finish() {
        CompactVerdict::Intact(r) | CompactVerdict::Incomplete(r) => {
            assert_eq!(r.head.map(|h| h.seq), Some(105));
        }
        other => panic!("{other:?}"),
    }
}
