//! Test doubles and helpers shared by the core test suites.
#![allow(dead_code)]

use immutable_log::{
    Chain, Clock, Head, Level, NoClock, Options, Timestamp, Verdict, Verifier, Writer,
};
use std::sync::atomic::{AtomicU64, Ordering};

/// A growable in-memory sink.
#[derive(Default, Debug)]
pub struct VecSink(pub Vec<u8>);

impl embedded_io::ErrorType for VecSink {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Write for VecSink {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

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

pub const CAP: usize = 1024;

/// A log of these messages, written by the core through a `Writer` sized `CAP`.
pub fn log_of(messages: &[&str]) -> (Vec<u8>, Option<Head>) {
    let chain: Chain<VecSink, NoClock, CAP> = Chain::new(VecSink::default(), NoClock);
    for (i, m) in messages.iter().enumerate() {
        let level = [Level::Info, Level::Warning, Level::Error][i % 3];
        chain
            .append(level, format_args!("{m}"))
            .expect("vec sink never fails");
    }
    let head = chain.head();
    (chain.into_writer().into_sink().0, head)
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

/// Byte ranges of each record (both lines with their LFs).
pub fn record_spans(log: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut spans = Vec::new();
    let mut start = 0;
    let mut lfs = 0;
    for (i, &b) in log.iter().enumerate() {
        if b == b'\n' {
            lfs += 1;
            if lfs % 2 == 0 {
                spans.push(start..i + 1);
                start = i + 1;
            }
        }
    }
    spans
}

/// The block JSON objects of a log, parsed with serde_json.
pub fn blocks(log: &[u8]) -> Vec<serde_json::Value> {
    log.split(|&b| b == b'\n')
        .filter_map(|l| l.strip_prefix(b"BLOCK_DATA:"))
        .map(|j| serde_json::from_slice(j).expect("block is JSON"))
        .collect()
}

/// The display fields of a log.
pub fn displays(log: &[u8]) -> Vec<Vec<u8>> {
    log.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty() && !l.starts_with(b"BLOCK_DATA:"))
        .map(|l| l[65..l.len() - 65].to_vec())
        .collect()
}

/// A writer over a vec, for tests that need the unlocked path.
pub fn vec_writer(head: Option<Head>) -> Writer<VecSink> {
    Writer::resume(VecSink::default(), head)
}
