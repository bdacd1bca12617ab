//! A chain's head and sink, without a lock: the one path every record takes
//! from a formatted body to the sink.

use core::fmt;
use heapless::Vec;

use crate::clock::Timestamp;
use crate::hash::Hash;
use crate::level::Level;
use crate::record::{self, Body, Draft, Link};
use crate::sink::SinkError;

/// The last record of a chain: its hash, and its `seq` when known.
///
/// `seq` is `None` only after a record written without one (the Python seed
/// writes none); a chain continued from such a record writes none either.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Head {
    /// The record's `seq`: its 0-based index in the chain.
    pub seq: Option<u64>,
    /// The record's hash: the next record's `prev_hash`.
    pub hash: Hash,
}

impl fmt::Display for Head {
    /// `SEQ HASH`, as `immutable-log head` prints it (`-` for an unknown seq).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seq {
            Some(seq) => write!(f, "{seq} {}", self.hash),
            None => write!(f, "- {}", self.hash),
        }
    }
}

/// Where the record after `head` attaches (`None`: the chain is empty).
pub(crate) fn link_after(head: Option<Head>) -> Link {
    match head {
        None => Link {
            prev: Hash::GENESIS,
            seq: Some(0),
        },
        Some(h) => Link {
            prev: h.hash,
            seq: h.seq.and_then(|s| s.checked_add(1)),
        },
    }
}

/// A chain's head and its sink. It has no lock: [`Chain`](crate::Chain) puts
/// one around it for firmware; a host puts it behind a blocking mutex.
///
/// Appending seals the record (adds `prev_hash`, `seq`, `timestamp`), hashes
/// the tail and writes both lines. If the sink fails, the error is returned
/// and the head does not advance. (The sink may then hold part of the record;
/// a file sink can cut it off again, a UART cannot.)
#[derive(Debug)]
pub struct Writer<W> {
    sink: W,
    head: Option<Head>,
}

impl<W> Writer<W> {
    /// A writer that starts a new chain at genesis.
    pub const fn new(sink: W) -> Self {
        Writer { sink, head: None }
    }

    /// A writer that continues a chain after `head` (`None`: at genesis), as
    /// found by [`resume`](crate::resume()).
    pub const fn resume(sink: W, head: Option<Head>) -> Self {
        Writer { sink, head }
    }

    /// The last record written, or `None` while the chain is empty.
    pub fn head(&self) -> Option<Head> {
        self.head
    }

    /// The sink.
    pub fn sink(&self) -> &W {
        &self.sink
    }

    /// The sink, to flush or inspect it. Writing to it directly breaks the log.
    pub fn sink_mut(&mut self) -> &mut W {
        &mut self.sink
    }

    /// Gives the sink back.
    pub fn into_sink(self) -> W {
        self.sink
    }
}

impl<W: embedded_io::Write> Writer<W> {
    /// Appends a record formatted ahead of time. `unlogged` is the number of
    /// records lost just before it (0 normally); the record states it.
    pub fn append_draft<const N: usize>(
        &mut self,
        draft: &mut Draft<N>,
        timestamp: Timestamp,
        unlogged: u64,
    ) -> Result<Head, SinkError<W::Error>> {
        let (json, body) = draft.parts();
        self.append_body(json, body, timestamp, unlogged)
    }

    /// Formats and appends a record using `json` as the buffer.
    pub(crate) fn append_args<const N: usize>(
        &mut self,
        json: &mut Vec<u8, N>,
        level: Level,
        message: fmt::Arguments<'_>,
        timestamp: Timestamp,
        unlogged: u64,
    ) -> Result<Head, SinkError<W::Error>> {
        let body = record::format_body(json, level, message);
        self.append_body(json, &body, timestamp, unlogged)
    }

    fn append_body<const N: usize>(
        &mut self,
        json: &mut Vec<u8, N>,
        body: &Body,
        timestamp: Timestamp,
        unlogged: u64,
    ) -> Result<Head, SinkError<W::Error>> {
        let link = link_after(self.head);
        let hash = record::seal(json, body, link, timestamp, unlogged);
        record::write_record(&mut self.sink, json, body, &link.prev, &hash)?;
        let head = Head {
            seq: link.seq,
            hash,
        };
        self.head = Some(head);
        Ok(head)
    }

    /// Writes the records that keep a torn tail (the bytes of a record cut off
    /// by a crash, found by [`resume`](crate::resume())) inside their messages,
    /// as many as it takes with a buffer of `N` bytes. `offset` is where the
    /// torn bytes stood in the log.
    pub fn append_recovered<const N: usize>(
        &mut self,
        torn: &[u8],
        offset: u64,
        timestamp: Timestamp,
    ) -> Result<Option<Head>, SinkError<W::Error>> {
        let mut json = Vec::<u8, N>::new();
        let recovery = crate::resume::Recovery::new(torn, offset, record::message_capacity(N));
        for part in recovery.parts() {
            self.append_args(
                &mut json,
                Level::Warning,
                format_args!("{part}"),
                timestamp,
                0,
            )?;
        }
        Ok(self.head)
    }

    /// Flushes the sink.
    pub fn flush(&mut self) -> Result<(), W::Error> {
        self.sink.flush()
    }
}
