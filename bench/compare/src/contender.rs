//! Who is measured: immutable-log's variants, the peers, the limits; each by
//! the name the driver passes to a child process.

use std::path::Path;

use immutable_log::std_backend::Durability;

use crate::common::{Measured, Res};
use crate::peers::TracingWriter;
use crate::{events, limits, peers, subject};

/// One contender of a workload.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Contender {
    /// immutable-log appending with this durability, keyed or not.
    Log(Durability, bool),
    /// immutable-log's `CompactLog` (the compact encoding) with this durability.
    Compact(Durability),
    /// immutable-log's `verify_compact_path` on a compact log.
    CompactVerify,
    /// `tracing` through this writer.
    Tracing(TracingWriter),
    /// `fern` to a file.
    Fern,
    /// `audit-trail`, flushed after each record or not.
    AuditTrail(bool),
    /// The buffered limit.
    LimitBuffered,
    /// The flush limit.
    LimitFlush,
    /// immutable-log's `verify_path_threads` on this many threads.
    LogVerify(usize),
    /// `audit-trail`'s `FileReader` and `Verifier`.
    AuditTrailVerify,
    /// SHA-256 over the blocks alone.
    LimitVerify,
    /// immutable-log's `TracingLayer` with this durability, on events with fields.
    Layer(Durability),
    /// A `fmt` layer through `tracing-appender` (blocking or not), on the same events.
    EventsAppender(bool),
}

/// Every contender with its command-line name.
const NAMES: [(Contender, &str); 26] = [
    (Contender::Compact(Durability::Buffered), "compact-buffered"),
    (Contender::Compact(Durability::Flush), "compact-flush"),
    (Contender::Compact(Durability::Sync), "compact-sync"),
    (Contender::CompactVerify, "compact-verify"),
    (Contender::Log(Durability::Buffered, false), "log-buffered"),
    (Contender::Log(Durability::Flush, false), "log-flush"),
    (Contender::Log(Durability::Sync, false), "log-sync"),
    (
        Contender::Log(Durability::Buffered, true),
        "log-keyed-buffered",
    ),
    (Contender::Log(Durability::Flush, true), "log-keyed-flush"),
    (Contender::Log(Durability::Sync, true), "log-keyed-sync"),
    (
        Contender::Tracing(TracingWriter::BufWriter),
        "tracing-bufwriter",
    ),
    (
        Contender::Tracing(TracingWriter::AppenderBlocking),
        "appender-blocking",
    ),
    (
        Contender::Tracing(TracingWriter::AppenderNonBlocking),
        "appender-nonblocking",
    ),
    (Contender::Fern, "fern"),
    (Contender::AuditTrail(false), "audit-trail-buffered"),
    (Contender::AuditTrail(true), "audit-trail-flush"),
    (Contender::LimitBuffered, "limit-buffered"),
    (Contender::LimitFlush, "limit-flush"),
    (Contender::LogVerify(1), "log-verify-1"),
    (Contender::LogVerify(2), "log-verify-2"),
    (Contender::AuditTrailVerify, "audit-trail-verify"),
    (Contender::LimitVerify, "limit-verify"),
    (Contender::Layer(Durability::Flush), "layer-flush"),
    (Contender::Layer(Durability::Buffered), "layer-buffered"),
    (Contender::EventsAppender(true), "events-appender-blocking"),
    (
        Contender::EventsAppender(false),
        "events-appender-nonblocking",
    ),
];

/// The log file [`Contender::LogVerify`] and [`Contender::LimitVerify`] read.
pub const VERIFY_LOG: &str = "verify-immutable.log";
/// The compact log [`Contender::CompactVerify`] reads.
pub const VERIFY_COMPACT: &str = "verify-immutable-compact.bin";
/// The file [`Contender::AuditTrailVerify`] reads.
pub const VERIFY_AUDIT_TRAIL: &str = "verify-audit-trail.log";

impl Contender {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(c, _)| *c == self)
            .map_or("?", |(_, name)| name)
    }

    /// The contender called `name`.
    pub fn parse(name: &str) -> Option<Contender> {
        NAMES.iter().find(|(_, n)| *n == name).map(|(c, _)| *c)
    }

    /// How the table names it.
    pub fn label(self) -> String {
        match self {
            Contender::Log(durability, keyed) => {
                let keyed = if keyed { "keyed " } else { "plain " };
                format!("immutable-log {keyed}`{durability}`")
            }
            Contender::Compact(durability) => format!("immutable-log compact `{durability}`"),
            Contender::CompactVerify => "immutable-log `verify_compact_path`".into(),
            Contender::Tracing(TracingWriter::BufWriter) => {
                "`tracing` fmt → `Mutex<BufWriter>`".into()
            }
            Contender::Tracing(TracingWriter::AppenderBlocking) => {
                "`tracing-appender` blocking".into()
            }
            Contender::Tracing(TracingWriter::AppenderNonBlocking) => {
                "`tracing-appender` non-blocking".into()
            }
            Contender::Fern => "`fern`".into(),
            Contender::AuditTrail(_) | Contender::AuditTrailVerify => "`audit-trail`".into(),
            Contender::LimitBuffered | Contender::LimitFlush | Contender::LimitVerify => {
                "limit".into()
            }
            Contender::LogVerify(1) => "immutable-log `verify_path`, 1 thread".into(),
            Contender::LogVerify(n) => format!("immutable-log `verify_path`, {n} threads"),
            Contender::Layer(durability) => format!("immutable-log `TracingLayer` `{durability}`"),
            Contender::EventsAppender(true) => "`fmt` + `tracing-appender` blocking".into(),
            Contender::EventsAppender(false) => "`fmt` + `tracing-appender` non-blocking".into(),
        }
    }

    /// Runs it once in this process: `threads` × `per_thread` records into
    /// new files in `dir` (for the verify contenders: the prepared files in
    /// `dir`, `per_thread` records).
    pub fn run(self, dir: &Path, threads: usize, per_thread: usize) -> Res<Measured> {
        let records = (threads * per_thread) as u64;
        match self {
            Contender::Log(durability, keyed) => {
                subject::append(dir, threads, per_thread, durability, keyed)
            }
            Contender::Compact(durability) => {
                subject::append_compact(dir, threads, per_thread, durability)
            }
            Contender::CompactVerify => subject::verify_compact(&dir.join(VERIFY_COMPACT), records),
            Contender::Tracing(writer) => peers::tracing(dir, threads, per_thread, writer),
            Contender::Fern => peers::fern(dir, threads, per_thread),
            Contender::AuditTrail(flush) => peers::audit_trail(dir, threads, per_thread, flush),
            Contender::LimitBuffered => {
                let size = subject::record_size(dir)?;
                limits::buffered(dir, threads, per_thread, size)
            }
            Contender::LimitFlush => {
                let size = subject::record_size(dir)?;
                limits::flush(dir, threads, per_thread, size)
            }
            Contender::LogVerify(threads) => {
                subject::verify(&dir.join(VERIFY_LOG), records, threads)
            }
            Contender::AuditTrailVerify => {
                peers::audit_trail_verify(&dir.join(VERIFY_AUDIT_TRAIL), records)
            }
            Contender::LimitVerify => limits::verify(&dir.join(VERIFY_LOG), records),
            Contender::Layer(durability) => events::layer(dir, threads, per_thread, durability),
            Contender::EventsAppender(blocking) => {
                events::appender(dir, threads, per_thread, blocking)
            }
        }
    }
}
