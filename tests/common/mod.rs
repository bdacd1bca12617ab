//! What the integration tests share (`mod common;`): sinks and clocks, logs
//! written by the core, reading records back with the crate's own reader,
//! verdicts, and Python. `files` adds the std helpers, `cli` runs the command.
#![allow(dead_code)]

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "std")]
pub mod files;

use std::io::Write as _;
use std::ops::Range;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use immutable_log::{
    records, Chain, Clock, Failure, FailureKind, Head, Level, NoClock, Options, Record, Timestamp,
    Verdict, Verifier, Writer,
};

// ---------------------------------------------------------------------------
// Sinks and clocks (a `Vec<u8>` is a sink: embedded-io's `alloc` impls)
// ---------------------------------------------------------------------------

/// A sink that misbehaves after `ok_bytes` bytes: it errors, accepts 0
/// bytes, or accepts at most `short` bytes per call.
#[derive(Debug)]
pub struct FlakySink {
    pub data: Vec<u8>,
    pub ok_bytes: usize,
    pub mode: Flaw,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Flaw {
    Error,
    Zero,
    Short(usize),
}

impl embedded_io::ErrorType for FlakySink {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Write for FlakySink {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let room = self.ok_bytes.saturating_sub(self.data.len());
        let n = match self.mode {
            Flaw::Short(max) => buf.len().min(max),
            _ if room == 0 && !buf.is_empty() => {
                return match self.mode {
                    Flaw::Error => Err(embedded_io::ErrorKind::Other),
                    _ => Ok(0),
                }
            }
            _ => buf.len().min(room),
        };
        self.data.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// A clock that ticks one millisecond per call, for distinct timestamps.
#[derive(Default)]
pub struct StepClock(pub AtomicU64);

impl Clock for StepClock {
    fn now(&self) -> Timestamp {
        let t = self.0.fetch_add(1, Ordering::Relaxed);
        Timestamp::from_ticks(1_764_146_337_000 + t, 1000)
    }
}

// ---------------------------------------------------------------------------
// Logs written by the core, and verified
// ---------------------------------------------------------------------------

pub const CAP: usize = 1024;

/// A log of these messages, written by the core through a `Chain` sized
/// `CAP`, at levels Info, Warning, Error in turn.
pub fn log_of(messages: &[&str]) -> (Vec<u8>, Option<Head>) {
    let chain: Chain<Vec<u8>, NoClock, CAP> = Chain::new(Vec::new(), NoClock);
    for (i, m) in messages.iter().enumerate() {
        let level = [Level::Info, Level::Warning, Level::Error][i % 3];
        chain
            .append(level, format_args!("{m}"))
            .expect("vec sink never fails");
    }
    let head = chain.head();
    (chain.into_writer().into_sink(), head)
}

/// A writer over a vec, for tests that need the unlocked path.
pub fn vec_writer(head: Option<Head>) -> Writer<Vec<u8>> {
    Writer::resume(Vec::new(), head)
}

/// Verifies `log` whole, with a record limit of `limit` bytes.
pub fn verify_with(log: &[u8], options: Options, limit: usize) -> Verdict {
    let mut buf = vec![0u8; limit];
    let mut v = Verifier::new(&mut buf, options);
    let _ = v.feed(log);
    v.finish()
}

pub fn verify(log: &[u8]) -> Verdict {
    verify_with(log, Options::default(), 64 * 1024)
}

/// Verifies feeding `chunk` bytes at a time.
pub fn verify_chunked(log: &[u8], chunk: usize, options: Options, limit: usize) -> Verdict {
    let mut buf = vec![0u8; limit];
    let mut v = Verifier::new(&mut buf, options);
    for piece in log.chunks(chunk.max(1)) {
        if v.feed(piece).is_err() {
            break;
        }
    }
    v.finish()
}

// ---------------------------------------------------------------------------
// Verdicts
// ---------------------------------------------------------------------------

/// The failure a verdict names. Panics, showing the verdict, unless it failed.
#[track_caller]
pub fn failure(verdict: &Verdict) -> Failure {
    match verdict {
        Verdict::Failed(_, failure) => *failure,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// Asserts that `verdict` is a failure whose kind `kind` accepts.
#[track_caller]
pub fn assert_fails(verdict: &Verdict, kind: impl FnOnce(&FailureKind) -> bool) {
    assert!(kind(&failure(verdict).kind), "{verdict:?}");
}

/// Asserts that `verdict` is a failure at record `record` (0-based), of a
/// kind that `kind` accepts.
#[track_caller]
pub fn assert_fails_at(verdict: &Verdict, record: u64, kind: impl FnOnce(&FailureKind) -> bool) {
    let f = failure(verdict);
    assert_eq!(f.record, record, "{verdict:?}");
    assert!(kind(&f.kind), "{verdict:?}");
}

// ---------------------------------------------------------------------------
// Reading records back, with the crate's reader
// ---------------------------------------------------------------------------

/// The records of `log`, read with [`immutable_log::records`]: every record
/// must read, and the log must end cleanly (no torn tail).
#[track_caller]
pub fn read_records(log: &[u8]) -> Vec<Record<'_>> {
    let mut reader = records(log);
    let read = reader
        .by_ref()
        .map(|r| r.unwrap_or_else(|fault| panic!("a record does not read: {fault}")))
        .collect();
    assert!(
        reader.remainder().is_empty(),
        "{} bytes after the last record",
        reader.remainder().len()
    );
    read
}

/// The byte range of each record of `log` (both lines with their LFs), as the
/// crate's reader reads them; `log` must be whole records (see [`read_records`]).
#[track_caller]
pub fn record_spans(log: &[u8]) -> Vec<Range<usize>> {
    let mut reader = records(log);
    let mut spans = Vec::new();
    let mut start = 0;
    while let Some(record) = reader.next() {
        record.unwrap_or_else(|fault| panic!("a record does not read: {fault}"));
        let end = log.len() - reader.remainder().len();
        spans.push(start..end);
        start = end;
    }
    assert_eq!(start, log.len(), "bytes after the last record");
    spans
}

/// A record's message, its escapes decoded by the crate's reader; serde_json
/// must read the same message from the block.
#[track_caller]
pub fn message(record: &Record) -> String {
    let ours: String = record
        .message()
        .collect::<Result<_, _>>()
        .expect("a message that was read decodes");
    let block = block(record);
    assert_eq!(
        block["message"].as_str(),
        Some(ours.as_str()),
        "serde_json reads another message"
    );
    ours
}

/// The messages of the records of `log` (see [`message`]).
#[track_caller]
pub fn messages(log: &[u8]) -> Vec<String> {
    read_records(log).iter().map(message).collect()
}

/// A record's block as serde_json reads it: for what the crate's reader does
/// not say (which keys a block has, their order, their JSON types).
#[track_caller]
pub fn block(record: &Record) -> serde_json::Value {
    serde_json::from_slice(record.block_json()).expect("the block is JSON to serde_json")
}

/// The torn bytes kept by the recovery records of `log`, put back together
/// from their messages, `immutable-log: recovered torn tail at byte X, part
/// i/n, bytes a..b of L, utf8: TEXT` (or `hex: HEX`), checking that the parts
/// are numbered in turn and their ranges join up to `L`. Returns `X` and the
/// bytes; `None` if the log holds no recovery record.
#[track_caller]
pub fn recovered_bytes(log: &[u8]) -> Option<(u64, Vec<u8>)> {
    const PREFIX: &str = "immutable-log: recovered torn tail at byte ";
    let parts: Vec<String> = messages(log)
        .into_iter()
        .filter(|m| m.starts_with(PREFIX))
        .collect();
    let (mut offset, mut total) = (None, None);
    let mut bytes = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let rest = &part[PREFIX.len()..];
        let (at, rest) = rest.split_once(", part ").expect("part");
        let at: u64 = at.parse().expect("offset");
        assert_eq!(*offset.get_or_insert(at), at, "one torn tail: {part}");
        let (numbered, rest) = rest.split_once(", bytes ").expect("bytes");
        assert_eq!(numbered, format!("{}/{}", i + 1, parts.len()), "{part}");
        let (range, rest) = rest.split_once(" of ").expect("of");
        let (len, payload) = rest.split_once(", ").expect("payload");
        let (start, end) = range.split_once("..").expect("a range");
        let (start, end): (usize, usize) = (start.parse().unwrap(), end.parse().unwrap());
        assert_eq!(start, bytes.len(), "the parts join up: {part}");
        if let Some(text) = payload.strip_prefix("utf8: ") {
            bytes.extend_from_slice(text.as_bytes());
        } else {
            let hex = payload.strip_prefix("hex: ").expect("utf8 or hex");
            assert_eq!(hex.len() % 2, 0, "{part}");
            for pair in hex.as_bytes().chunks(2) {
                let pair = std::str::from_utf8(pair).unwrap();
                bytes.push(u8::from_str_radix(pair, 16).expect("hex"));
            }
        }
        assert_eq!(end, bytes.len(), "the part holds its range: {part}");
        let len: usize = len.parse().expect("a length");
        assert_eq!(*total.get_or_insert(len), len, "one length: {part}");
    }
    assert_eq!(total.unwrap_or(0), bytes.len(), "every part is there");
    offset.map(|o| (o, bytes))
}

/// True if `message` looks like `2026-11-26 10:15:42,123+01:00 - LEVEL - text`
/// (the offset optional).
pub fn seed_formatted(message: &str, level: &str, text: &str) -> bool {
    let Some((time, rest)) = message.split_at_checked(23) else {
        return false;
    };
    // A local time states its offset: `+01:00`.
    let offset_shape = |o: &[u8]| {
        o.len() == 6
            && matches!(o[0], b'+' | b'-')
            && o[1..3].iter().all(u8::is_ascii_digit)
            && o[3] == b':'
            && o[4..].iter().all(u8::is_ascii_digit)
    };
    let rest = match rest.split_at_checked(6) {
        Some((offset, after)) if offset_shape(offset.as_bytes()) => after,
        _ => rest,
    };
    let shape = time.bytes().enumerate().all(|(i, b)| match i {
        4 | 7 => b == b'-',
        10 => b == b' ',
        13 | 16 => b == b':',
        19 => b == b',',
        _ => b.is_ascii_digit(),
    });
    shape && rest == format!(" - {level} - {text}")
}

// ---------------------------------------------------------------------------
// Other processes
// ---------------------------------------------------------------------------

/// Runs `command` with `stdin` as its input, its output captured. The input
/// is fed from a thread: the process may exit without reading all of it.
pub fn run_with_input(command: &mut Command, stdin: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?} does not start: {e}"));
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let feeder = thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

/// Runs a Python 3 `script` (the seed's code, to check against) with these
/// arguments and input; returns what it printed. Panics if it fails.
pub fn python(script: &str, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let out = run_with_input(
        Command::new("python3").arg("-c").arg(script).args(args),
        stdin,
    );
    assert!(
        out.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
