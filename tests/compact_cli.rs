//! `immutable-log verify` detects the compact encoding: exit 0 intact, 1 a
//! changed record, 4 incomplete (gaps, with their `seq` ranges); `decode`
//! prints its records as text or JSON lines.
#![cfg(feature = "cli")]

use std::process::Command;

use immutable_log::{CompactChain, Key, Level, NoClock, Queue, SealKey};

const BIN: &str = env!("CARGO_BIN_EXE_immutable-log");

fn capture(n: u64) -> Vec<u8> {
    let queue = Queue::<8192>::new();
    let chain: CompactChain<NoClock, 128, 8192> =
        CompactChain::new(&queue, NoClock).with_sync_every(4);
    let mut out = Vec::<u8>::new();
    for i in 0..n {
        chain
            .append(Level::Warning, format_args!("sensor {i}: tab\there\nline"))
            .unwrap();
        queue.drain(&mut out).unwrap();
    }
    out
}

fn run(args: &[&str], bytes: &[u8]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("capture.bin");
    std::fs::write(&path, bytes).unwrap();
    let mut full: Vec<&str> = args.to_vec();
    full.push(path.to_str().unwrap());
    let out = Command::new(BIN).args(&full).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn frame_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = vec![0];
    starts.extend(
        bytes
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == 0)
            .map(|(i, _)| i + 1),
    );
    starts
}

#[test]
fn verify_reads_a_compact_capture() {
    let bytes = capture(10);
    let (code, out, err) = run(&["verify"], &bytes);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("intact (compact): 10 records verified, head 9 "),
        "{out}"
    );
}

#[test]
fn a_gap_is_exit_4_with_its_range_and_a_change_is_exit_1() {
    let bytes = capture(12);
    let starts = frame_starts(&bytes);
    // Frames: r0 r1 r2 r3 S4 r4 ...: cut from inside r5 to inside r6.
    let mut cut = bytes[..starts[6] + 4].to_vec();
    cut.extend_from_slice(&bytes[starts[7] + 4..]);
    let (code, out, _) = run(&["verify"], &cut);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("INCOMPLETE (compact)"), "{out}");
    assert!(out.contains("gap: seq 5..=7 not verified"), "{out}");
    let (code, out, _) = run(&["verify", "--json"], &cut);
    assert_eq!(code, 4);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["status"], "incomplete");
    assert_eq!(v["gap_list"][0]["first"], 5);
    assert_eq!(v["gap_list"][0]["last"], 7);

    let mut changed = bytes.clone();
    let at = changed.windows(9).position(|w| w == b"sensor 3:").unwrap();
    changed[at] = b'S';
    let (code, out, _) = run(&["verify"], &changed);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("tag mismatch at seq 3"), "{out}");
}

#[test]
fn decode_prints_text_and_json_lines() {
    let bytes = capture(5);
    let (code, out, err) = run(&["decode"], &bytes);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0 0.000000 WARNING sensor 0: tab\there\\nline");
    assert!(lines[4].starts_with("# sync: next seq 4, chain state "));
    let (code, out, _) = run(&["decode", "--json"], &bytes);
    assert_eq!(code, 0);
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["seq"], 0);
    assert_eq!(first["levelno"], 30);
    assert_eq!(first["message"], "sensor 0: tab\there\nline");
}

#[test]
fn a_keyed_compact_capture_needs_its_key() {
    let queue = Queue::<8192>::new();
    let chain: CompactChain<NoClock, 128, 8192, SealKey> = CompactChain::sealed(
        &queue,
        NoClock,
        None,
        SealKey::new(Key::from_bytes([5; 32])),
    );
    for i in 0..3 {
        chain.append(Level::Info, format_args!("k{i}")).unwrap();
    }
    let mut out = Vec::<u8>::new();
    queue.drain(&mut out).unwrap();
    let (code, text, _) = run(&["verify"], &out);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("a verify key is required"), "{text}");
}
