//! Writes the seed corpus: real logs, written by the crate (and one written the
//! way the Python seed handler writes, made by `seeds.sh`), whole, torn at a
//! few offsets, continued after a crash, keyed, and with one byte changed;
//! framed for each target's input layout; and a checkpoint.
//!
//! `cargo run --example seeds -- <python.log> <corpus dir>` (`seeds.sh` runs it).

use std::path::Path;

use immutable_log::{
    resume, Chain, Checkpoint, Clock, Key, Level, Options, Timestamp, Verdict, VerifyKey, Writer,
};
use immutable_log_fuzz::{keyed_log, record_spans, verify_whole, VecSink, KEY, LIMIT};

const CAP: usize = 1024;

/// One millisecond per record, from a fixed start: byte-identical seeds.
struct StepClock(std::cell::Cell<u64>);

impl Clock for StepClock {
    fn now(&self) -> Timestamp {
        let t = self.0.get();
        self.0.set(t + 1);
        Timestamp::from_ticks(1_764_146_337_000 + t, 1000)
    }
}

/// A log of these messages, written through a `Chain` as firmware would.
fn log_of(messages: &[&str]) -> Vec<u8> {
    let chain: Chain<VecSink, StepClock, CAP> =
        Chain::new(VecSink::default(), StepClock(std::cell::Cell::new(0)));
    let levels = [
        Level::Info,
        Level::Debug,
        Level::Warning,
        Level::Error,
        Level::Critical,
    ];
    for (i, m) in messages.iter().enumerate() {
        chain
            .append(levels[i % levels.len()], format_args!("{m}"))
            .expect("a Vec sink never fails");
    }
    chain.into_writer().into_sink().0
}

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let dir = dir.join(target);
    std::fs::create_dir_all(&dir).expect("create the corpus dir");
    std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write a seed");
}

/// A verify input: `[h, chunk sizes..]` and the log (see `fuzz_targets/verify.rs`).
fn framed(header: &[u8], log: &[u8]) -> Vec<u8> {
    let mut v = header.to_vec();
    v.extend_from_slice(log);
    v
}

/// A roundtrip input: `[sep, mode, pos_lo, pos_hi, xor]` and the messages.
fn messages_input(mode: u8, pos: u16, xor: u8, messages: &[&str]) -> Vec<u8> {
    let [lo, hi] = pos.to_le_bytes();
    let mut v = vec![0x1e, mode, lo, hi, xor];
    v.extend_from_slice(messages.join("\u{1e}").as_bytes());
    v
}

fn main() {
    let mut args = std::env::args().skip(1);
    let python_log = std::fs::read(args.next().expect("usage: seeds <python.log> <corpus dir>"))
        .expect("read the Python-written log");
    let out =
        std::path::PathBuf::from(args.next().expect("usage: seeds <python.log> <corpus dir>"));

    let ordinary_msgs = [
        "2025-11-26 07:39:01,001 - INFO - service started",
        "2025-11-26 07:39:01,002 - DEBUG - config loaded from /etc/app.toml",
        "2025-11-26 07:39:02,517 - WARNING - disk 91% full",
        "2025-11-26 07:39:03,000 - ERROR - upstream timed out after 30s",
        "2025-11-26 07:39:04,250 - CRITICAL - shutting down",
    ];
    let long = "x".repeat(1200);
    let special_msgs = [
        "pipes | in | the | message || and at the end |",
        "quotes \" and backslashes \\ and a tab\there",
        "line one\nline two\r\nbell \u{7} escape \u{1b}[31mred\u{1b}[0m del \u{7f} nul \u{0}",
        "unicode: café ☕ 😀 日本語 \u{fffd}",
        &long, // cut to fit the 1024-byte record buffer
    ];
    let ordinary = log_of(&ordinary_msgs);
    let special = log_of(&special_msgs);

    // Torn: cut inside the last record's display line, right after it, and
    // inside its block line.
    let spans = record_spans(&ordinary);
    let last = spans.last().expect("records").clone();
    let display_end = last.start
        + ordinary[last.start..]
            .iter()
            .position(|&b| b == b'\n')
            .unwrap()
        + 1;
    let torn_display = &ordinary[..last.start + 40];
    let torn_after_display = &ordinary[..display_end];
    let torn_block = &ordinary[..display_end + 30];

    // A crash, then recovery: the torn bytes kept in new records, and more logging.
    let crashed = &special[..special.len() - 25];
    let r = resume(crashed, true).expect("a torn log resumes");
    let mut writer = Writer::resume(VecSink(crashed[..r.end].to_vec()), r.head);
    writer
        .append_recovered::<CAP>(
            &crashed[r.end..],
            r.end as u64,
            Timestamp::new(1_764_146_400, 0),
        )
        .expect("a Vec sink never fails");
    let continued = writer.into_sink().0;

    // Tampered: one digit of a timestamp changed.
    let mut tampered = ordinary.clone();
    let ts = tampered
        .windows(12)
        .position(|w| w == b"\"timestamp\":")
        .unwrap()
        + 14;
    tampered[ts] ^= 1;

    // The seeds are what they claim to be.
    let mut buf = [0u8; LIMIT];
    let mut verdict = |log: &[u8]| verify_whole(&mut buf, Options::default(), None, log);
    for log in [&ordinary, &special, &python_log, &continued] {
        assert!(
            matches!(verdict(log), Verdict::Intact(_)),
            "{:?}",
            verdict(log)
        );
    }
    for log in [torn_display, torn_after_display, torn_block, crashed] {
        assert!(
            matches!(verdict(log), Verdict::Torn(..)),
            "{:?}",
            verdict(log)
        );
    }
    assert!(matches!(verdict(&tampered), Verdict::Failed(..)));
    assert_eq!(verdict(&special).report().truncated, 1);
    let (keyed, _) = keyed_log();
    let key = VerifyKey::new(Key::from_bytes(KEY));
    let keyed_verdict = verify_whole(&mut [0; LIMIT], Options::default(), Some(&key), &keyed);
    assert!(matches!(keyed_verdict, Verdict::Intact(r) if r.records == 4));
    let keyed_spans = record_spans(&keyed);
    let keyed_torn = &keyed[..keyed_spans[3].start + 150];

    // verify: each log behind a different chunking.
    for (name, header, log) in [
        ("special", &[0x02, 0x00, 0x10, 0x8f][..], &special[..]),
        ("python", &[0x01, 0x81, 0x05], &python_log),
        ("torn-block", &[0x00, 0x00], torn_block),
        ("continued", &[0x03, 0x3f, 0x01, 0x9f, 0x07], &continued),
        ("tampered", &[0x00, 0xff], &tampered),
        ("small-limit", &[0x08, 0x20], &ordinary),
    ] {
        write(&out, "verify", name, &framed(header, log));
    }
    // verify_keyed: the keyed log, whole and torn.
    write(
        &out,
        "verify_keyed",
        "keyed",
        &framed(&[0x01, 0x10, 0x85], &keyed),
    );
    write(
        &out,
        "verify_keyed",
        "keyed-torn",
        &framed(&[0x00, 0x00], keyed_torn),
    );

    // resume: torn logs, a continued one, and a tail (the last record and the LF before it).
    let python_spans = record_spans(&python_log);
    let python_last = python_spans.last().expect("python records").clone();
    for (name, log) in [
        ("torn-display", torn_display),
        ("torn-after-display", torn_after_display),
        ("special-torn", crashed),
        ("continued", &continued),
        ("python-torn", &python_log[..python_last.start + 100]),
        ("tail", &ordinary[last.start - 1..]),
        ("keyed-torn", keyed_torn),
    ] {
        write(&out, "resume", name, log);
    }

    // roundtrip: messages, through a Writer and through a Chain.
    let unicode = [
        "café ☕ 😀",
        "\u{1b}[1mbold\u{1b}[0m",
        "tab\tand\nnewline",
        "\u{7f}\u{0}\"\\|",
    ];
    for (name, input) in [
        ("ordinary", messages_input(0x10, 300, 0x01, &ordinary_msgs)),
        (
            "special-chain",
            messages_input(0x82, 1000, 0x20, &special_msgs[..4]),
        ),
        (
            "keyed",
            messages_input(0x44, 333, 0x08, &ordinary_msgs[..3]),
        ),
        (
            "unicode-long",
            messages_input(
                0x2b,
                900,
                0x80,
                &[&unicode[..], &[long.as_str(), ""]].concat(),
            ),
        ),
    ] {
        write(&out, "roundtrip", name, &input);
    }

    // checkpoint: the checkpoint of the ordinary log, with a note signature after it.
    let head = verdict(&ordinary).report().head.expect("a head");
    let origin = verify_whole(
        &mut [0; LIMIT],
        Options::default(),
        None,
        &ordinary[spans[0].clone()],
    )
    .report()
    .head
    .expect("record 0")
    .hash;
    let cp = Checkpoint::new(origin, head).expect("a seq");
    write(
        &out,
        "checkpoint",
        "note",
        format!("{cp}\n\u{2014} witness AbCd==\n").as_bytes(),
    );
}
