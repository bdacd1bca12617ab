//! defmt records in the compact encoding: a defmt frame is a record's message
//! (any bytes, zeros included), marked by its kind; it verifies like any
//! record, without the ELF, and a change to any byte is seen.

use immutable_log::compact::{parse, Payload};
use immutable_log::{CompactChain, CompactVerdict, CompactVerifier, Level, NoClock, Queue};

const Q: usize = 4096;

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x} "))
        .collect::<String>()
        .trim_end()
        .to_string()
}

fn verify(bytes: &[u8]) -> CompactVerdict {
    let mut buf = [0u8; 300];
    let mut v = CompactVerifier::new(&mut buf, false);
    let _ = v.feed(bytes);
    v.finish()
}

/// The payloads of the frames of `bytes`.
fn payloads(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split(|&b| b == 0)
        .filter(|f| !f.is_empty())
        .map(|f| {
            // COBS decode by hand: the test does not trust the crate's.
            let mut out = Vec::new();
            let mut i = 0;
            while i < f.len() {
                let code = f[i] as usize;
                out.extend_from_slice(&f[i + 1..i + code]);
                i += code;
                if code < 0xff && i < f.len() {
                    out.push(0);
                }
            }
            out
        })
        .collect()
}

#[test]
fn the_defmt_test_vector_of_format_md() {
    let queue: Queue<Q> = Queue::new();
    let chain: CompactChain<NoClock, 64, Q> = CompactChain::new(&queue, NoClock).with_sync_every(2);
    // defmt's raw encoding: index u16 LE, then the arguments (here one u8, 42).
    let first = chain.append_defmt(&[0x01, 0x00, 0x2a]).unwrap();
    let second = chain.append_defmt(&[0x02, 0x00]).unwrap();
    let mut out = Vec::new();
    queue.drain(&mut out).unwrap();
    let text: Vec<String> = out.split_inclusive(|&b| b == 0).map(hex).collect();
    assert_eq!(
        text,
        [
            "02 80 01 02 01 0a 2a 07 4b 45 84 b1 18 0e 97 00",
            "03 80 01 02 02 09 c0 3c 54 15 96 40 68 96 00",
            "23 40 02 c0 3c 54 15 96 40 68 96 ee 7e 80 27 fb b2 d3 9d d7 1c f2 24 44 2f a1 9f 9a \
             2e 42 59 23 d5 3e 9a 00",
        ]
    );
    assert_eq!(
        first.state.to_string(),
        "074b4584b1180e97df3a8698e670695c19621a37616fc9a86eccf335939774c6"
    );
    assert_eq!(
        second.state.to_string(),
        "c03c541596406896ee7e8027fbb2d39dd71cf224442fa19f9a2e425923d53e9a"
    );
    let CompactVerdict::Intact(report) = verify(&out) else {
        panic!("not intact: {:?}", verify(&out));
    };
    assert_eq!((report.records, report.syncs), (2, 1));
    let p = payloads(&out);
    let Ok(Payload::Record(r)) = parse(&p[0]) else {
        panic!("record 0 not read");
    };
    assert!(r.is_defmt());
    assert_eq!(r.bytes, [0x01, 0x00, 0x2a]);
}

/// A capture of defmt records beside text ones, with a sync every 4.
fn mixed() -> Vec<u8> {
    let queue: Queue<Q> = Queue::new();
    let chain: CompactChain<NoClock, 64, Q> = CompactChain::new(&queue, NoClock).with_sync_every(4);
    for i in 0..10u8 {
        if i % 3 == 0 {
            chain.append(Level::Info, format_args!("text {i}")).unwrap();
        } else {
            chain.append_defmt(&[i, 0, 0, i, 0xff]).unwrap();
        }
    }
    let mut out = Vec::new();
    queue.drain(&mut out).unwrap();
    out
}

#[test]
fn every_single_byte_change_of_a_defmt_capture_is_never_intact() {
    let log = mixed();
    assert!(matches!(verify(&log), CompactVerdict::Intact(r) if r.records == 10));
    for at in 0..log.len() {
        for flip in [0x01u8, 0x80] {
            let mut bad = log.clone();
            bad[at] ^= flip;
            assert!(
                !matches!(verify(&bad), CompactVerdict::Intact(_)),
                "byte {at} ^ {flip:#x} read as intact"
            );
        }
    }
}

#[test]
fn a_record_cannot_pass_as_the_other_kind() {
    // The same bytes as a text record and as a defmt record give other
    // states: the kind is under the chain state.
    let q1: Queue<Q> = Queue::new();
    let q2: Queue<Q> = Queue::new();
    let text: CompactChain<NoClock, 64, Q> = CompactChain::new(&q1, NoClock);
    let defmt: CompactChain<NoClock, 64, Q> = CompactChain::new(&q2, NoClock);
    let a = text.append(Level::Trace, format_args!("ab")).unwrap();
    let b = defmt.append_defmt(b"ab").unwrap();
    assert_ne!(a.state, b.state);
}

#[test]
fn a_frame_longer_than_the_room_is_cut_and_marked() {
    let queue: Queue<Q> = Queue::new();
    let chain: CompactChain<NoClock, 8, Q> = CompactChain::new(&queue, NoClock);
    chain.append_defmt(&[7; 20]).unwrap();
    let mut out = Vec::new();
    queue.drain(&mut out).unwrap();
    let p = payloads(&out);
    let Ok(Payload::Record(r)) = parse(&p[0]) else {
        panic!("not read");
    };
    assert!(r.is_defmt() && r.truncated());
    assert_eq!(r.bytes, [7; 8]);
    assert!(matches!(verify(&out), CompactVerdict::Intact(r) if r.truncated == 1));
}
