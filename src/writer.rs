//! A chain's head and sink, without a lock: the one path every record takes
//! from a formatted body to the sink.

use core::fmt;

use crate::clock::Timestamp;
use crate::draft::{message_capacity, Draft, Tail, MIN_CAPACITY};
use crate::hash::Hash;
use crate::head::{link_after, Head};
use crate::level::Level;
use crate::recovery::Recovery;
use crate::seal::{Plain, Seal, SealError, SealedRecord, Token, CHAIN_START_MESSAGE};
use crate::sink::SinkError;

/// A record could not be appended; nothing of it is in the chain.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum WriteError<E> {
    /// The sink failed; the head did not advance.
    Sink(SinkError<E>),
    /// A keyed writer's key is not the one for this record.
    Seal(SealError),
}

impl<E> From<SinkError<E>> for WriteError<E> {
    fn from(e: SinkError<E>) -> Self {
        WriteError::Sink(e)
    }
}

impl<E: fmt::Debug> fmt::Display for WriteError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Sink(e) => e.fmt(f),
            WriteError::Seal(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for WriteError<E> {}

/// A chain's head, its sink and how it seals records. It has no lock:
/// [`Chain`](crate::Chain) puts one around it for firmware; a host puts it
/// behind a blocking mutex.
///
/// Appending closes the block (adds `prev_hash`, `seq`, `timestamp`), hashes
/// the tail, seals it (`S`: [`Plain`] or a [`SealKey`](crate::SealKey)) and
/// writes both lines. If the sink fails, the error is returned and the head
/// does not advance. (The sink may then hold part of the record; a file sink
/// can cut it off again, a UART cannot.)
///
/// A keyed writer at genesis first writes the chain-start record.
#[derive(Debug)]
pub struct Writer<W, S = Plain> {
    sink: W,
    /// The last record, meaningful once `started`. Kept as a plain `Head` and
    /// a flag (not `Option<Head>`) so an empty writer is all zero bytes: a
    /// `static` chain then sits in `.bss` and costs no flash for its image.
    last: Head,
    started: bool,
    seal: S,
}

/// The `last` of a writer with no record yet: all zeros.
const NO_HEAD: Head = Head {
    seq: None,
    hash: Hash::GENESIS,
};

impl<W> Writer<W> {
    /// A writer that starts a new plain chain at genesis.
    pub const fn new(sink: W) -> Self {
        Self::resume(sink, None)
    }

    /// A plain writer that continues a chain after `head` (`None`: at
    /// genesis), as found by [`resume`](crate::resume()).
    pub const fn resume(sink: W, head: Option<Head>) -> Self {
        Writer::sealed(sink, head, Plain)
    }
}

impl<W, S> Writer<W, S> {
    /// A writer that continues after `head` and seals with `seal`. For a keyed
    /// chain, pass the [`SealKey`](crate::SealKey) for the record after `head`.
    pub const fn sealed(sink: W, head: Option<Head>, seal: S) -> Self {
        let (last, started) = match head {
            Some(head) => (head, true),
            None => (NO_HEAD, false),
        };
        Writer {
            sink,
            last,
            started,
            seal,
        }
    }

    /// How this writer seals: for a keyed writer, the key state to persist
    /// after each record.
    pub fn seal(&self) -> &S {
        &self.seal
    }

    /// The last record written, or `None` while the chain is empty.
    pub fn head(&self) -> Option<Head> {
        if self.started {
            Some(self.last)
        } else {
            None
        }
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

impl<W: embedded_io::Write, S: Seal> Writer<W, S> {
    /// Appends a record: closes the draft under the head (adds `prev_hash`,
    /// `seq`, `timestamp`), hashes its tail, seals it and writes both lines.
    /// `unlogged` is the number of records lost just before it (0 normally);
    /// the record states it. The draft can be reformatted and used again.
    pub fn append_draft<const N: usize>(
        &mut self,
        draft: &mut Draft<N>,
        timestamp: Timestamp,
        unlogged: u64,
    ) -> Result<Head, WriteError<W::Error>> {
        if self.seal.is_keyed() && !self.started {
            self.write_chain_start(timestamp)?;
        }
        self.write_closed(draft, timestamp, unlogged, false)
    }

    /// A keyed chain's first record: says the chain is keyed and in which format.
    fn write_chain_start(&mut self, timestamp: Timestamp) -> Result<Head, WriteError<W::Error>> {
        let mut draft =
            Draft::<MIN_CAPACITY>::new(Level::Info, format_args!("{CHAIN_START_MESSAGE}"));
        self.write_closed(&mut draft, timestamp, 0, true)
    }

    fn write_closed<const N: usize>(
        &mut self,
        draft: &mut Draft<N>,
        timestamp: Timestamp,
        unlogged: u64,
        chain_start: bool,
    ) -> Result<Head, WriteError<W::Error>> {
        let link = link_after(self.head());
        let tail = Tail {
            link,
            timestamp,
            unlogged,
            chain_start,
        };
        let digest = draft.close(&tail);
        let hash = self.seal.tag(link.seq, &digest).map_err(WriteError::Seal)?;
        draft.write_to(&mut self.sink, &link.prev, &hash)?;
        self.seal
            .advance(SealedRecord { tag: hash, digest }, Token(()));
        let head = Head {
            seq: link.seq,
            hash,
        };
        self.last = head;
        self.started = true;
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
    ) -> Result<Option<Head>, WriteError<W::Error>> {
        let recovery = Recovery::new(torn, offset, message_capacity(N));
        for part in recovery.parts() {
            let mut draft = Draft::<N>::new(Level::Warning, format_args!("{part}"));
            self.append_draft(&mut draft, timestamp, 0)?;
        }
        Ok(self.head())
    }

    /// Flushes the sink.
    pub fn flush(&mut self) -> Result<(), W::Error> {
        self.sink.flush()
    }
}
