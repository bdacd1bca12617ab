//! The compact chain: records as COBS frames in a [`Queue`], each advancing
//! the 32-byte chain state with one SHA-256 compression inside the critical
//! section.
//!
//! (Over 400 lines: one job, appending a compact record, in and out of the critical section.)

use core::cell::RefCell;
use core::fmt;

use critical_section::Mutex;
use heapless::Vec;

use crate::clock::Clock;
use crate::hash::Hash;
use crate::level::Level;
use crate::queue::Queue;
use crate::queued::EnqueueError;
use crate::seal::{Plain, Seal, SealedRecord, Token};

use super::cobs::{Encoder, SINGLE_BLOCK};
use super::state::{advance, message_digest, sync_digest, GENESIS_STATE};
use super::wire::{
    leb128, level_code, KEYED, KEYED_TAG, KIND_DEFMT, KIND_SYNC, PLAIN_TAG, TRUNCATED, UNLOGGED,
};

/// The longest message a compact record holds, in bytes; a longer one is cut
/// at a character boundary and marked truncated. It keeps every record frame a
/// single COBS block, whose length is known before it is encoded.
pub const MAX_COMPACT_MESSAGE: usize = 200;

/// Records between two sync records unless set otherwise.
pub const DEFAULT_SYNC_EVERY: u32 = 16;

/// The head of a compact chain: the last record's `seq` and the chain state
/// after it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct CompactHead {
    /// The last record's `seq`.
    pub seq: u64,
    /// The chain state after it.
    pub state: Hash,
}

impl fmt::Display for CompactHead {
    /// `SEQ STATE`, the state in hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.state)
    }
}

/// The chain's state, in the critical section.
struct State<S> {
    state: [u8; 32],
    /// The next record's `seq`.
    next: u64,
    seal: S,
    unlogged: u32,
}

/// A message formatted into `M` bytes, cut at a character boundary.
struct Message<const M: usize> {
    bytes: Vec<u8, M>,
    truncated: bool,
}

impl<const M: usize> fmt::Write for Message<M> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.truncated {
            return Ok(());
        }
        let room = M - self.bytes.len();
        let mut cut = s.len().min(room);
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        let _ = self
            .bytes
            .extend_from_slice(s.as_bytes().get(..cut).unwrap_or_default());
        self.truncated = cut < s.len();
        Ok(())
    }
}

/// A compact-encoding chain whose records go into a [`Queue`] of `Q` bytes as
/// COBS frames, for a `static`. Messages up to `M` bytes
/// (at most [`MAX_COMPACT_MESSAGE`]).
///
/// The message is formatted and hashed outside the critical section. Inside
/// it: the clock is read, `seq` assigned, the chain state advanced (one
/// SHA-256 compression; a keyed chain adds its HMAC tag), the frame's place
/// reserved (with a sync record's, every `sync_every` records). The frame is
/// encoded into the queue outside it. A record that does not fit is counted,
/// and the next record says how many were lost.
///
/// ```
/// use immutable_log::{CompactChain, Level, NoClock, Queue};
///
/// static QUEUE: Queue<1024> = Queue::new();
/// static LOG: CompactChain<NoClock, 128, 1024> = CompactChain::new(&QUEUE, NoClock);
///
/// LOG.append(Level::Info, format_args!("adc ch{} = {} mV", 3, 1234)).unwrap();
/// let mut storage = [0u8; 1024];
/// let mut uart: &mut [u8] = &mut storage;
/// let n = QUEUE.drain(&mut uart).unwrap();
/// assert_eq!(n, 1 + 1 + 1 + 1 + 17 + 8 + 1); // code, head, seq, time, message, tag, zero
/// ```
pub struct CompactChain<'q, C, const M: usize, const Q: usize, S = Plain> {
    queue: &'q Queue<Q>,
    state: Mutex<RefCell<State<S>>>,
    clock: C,
    sync_every: u32,
}

impl<'q, C, const M: usize, const Q: usize> CompactChain<'q, C, M, Q> {
    /// A new plain chain at genesis.
    pub const fn new(queue: &'q Queue<Q>, clock: C) -> Self {
        Self::sealed(queue, clock, None, Plain)
    }
}

impl<'q, C, const M: usize, const Q: usize, S> CompactChain<'q, C, M, Q, S> {
    /// A chain that continues after `head` (`None`: at genesis) and seals
    /// with `seal` (for a keyed chain, the [`SealKey`](crate::SealKey) for
    /// the record after `head`).
    pub const fn sealed(queue: &'q Queue<Q>, clock: C, head: Option<CompactHead>, seal: S) -> Self {
        const {
            assert!(
                M <= MAX_COMPACT_MESSAGE,
                "compact messages are at most 200 bytes"
            )
        };
        let (state, next) = match head {
            Some(h) => (*h.state.as_bytes(), h.seq.saturating_add(1)),
            None => (GENESIS_STATE, 0),
        };
        CompactChain {
            queue,
            state: Mutex::new(RefCell::new(State {
                state,
                next,
                seal,
                unlogged: 0,
            })),
            clock,
            sync_every: DEFAULT_SYNC_EVERY,
        }
    }

    /// The same chain with a sync record after every `k` records (0: only
    /// when [`sync`](Self::sync) is called). A reader that lost frames
    /// resumes at the next sync.
    pub const fn with_sync_every(mut self, k: u32) -> Self {
        self.sync_every = k;
        self
    }

    fn with<R>(&self, f: impl FnOnce(&mut State<S>) -> R) -> Option<R> {
        critical_section::with(|cs| Some(f(&mut *self.state.borrow(cs).try_borrow_mut().ok()?)))
    }

    /// The last record queued (`None` while the chain is empty). Never waits.
    pub fn head(&self) -> Option<CompactHead> {
        self.with(|s| {
            s.next.checked_sub(1).map(|seq| CompactHead {
                seq,
                state: Hash::from_bytes(s.state),
            })
        })
        .flatten()
    }

    /// Records lost that no queued record has reported yet.
    pub fn unlogged(&self) -> u32 {
        self.with(|s| s.unlogged).unwrap_or(0)
    }

    /// Counts one record as lost, to be reported by the next record queued.
    pub fn note_unlogged(&self) {
        self.with(|s| s.unlogged = s.unlogged.saturating_add(1));
    }

    /// The queue this chain fills.
    pub fn queue(&self) -> &'q Queue<Q> {
        self.queue
    }

    /// How the chain seals: for a keyed chain, the key state to persist.
    pub fn seal(&self) -> Option<S>
    where
        S: Clone,
    {
        self.with(|s| s.seal.clone())
    }
}

/// A frame's payload in pieces: header, message, tag.
struct Frame {
    header: [u8; 31],
    header_len: usize,
    tag: [u8; KEYED_TAG],
    tag_len: usize,
}

/// A sync frame's payload.
struct SyncFrame {
    bytes: [u8; 1 + 10 + 32 + KEYED_TAG],
    len: usize,
}

impl<C: Clock, const M: usize, const Q: usize, S: Seal + Clone> CompactChain<'_, C, M, Q, S> {
    /// Queues a record. Never waits, from any context; never touches the sink.
    pub fn append(
        &self,
        level: Level,
        message: fmt::Arguments<'_>,
    ) -> Result<CompactHead, EnqueueError> {
        let mut text = Message::<M> {
            bytes: Vec::new(),
            truncated: false,
        };
        if fmt::write(&mut text, message).is_err() {
            text.truncated = true;
        }
        self.append_bytes(level_code(level), &text.bytes, text.truncated)
    }

    /// Queues one defmt frame (its raw encoding: the interned string's index,
    /// defmt's timestamp, the arguments) as a record whose message is those
    /// bytes, marked as a defmt record (FORMAT.md, "defmt records"). A frame
    /// longer than `M` bytes is cut and marked truncated. Never waits.
    pub fn append_defmt(&self, frame: &[u8]) -> Result<CompactHead, EnqueueError> {
        let cut = frame.len().min(M);
        self.append_bytes(
            KIND_DEFMT,
            frame.get(..cut).unwrap_or_default(),
            cut < frame.len(),
        )
    }

    /// As [`append_defmt`](Self::append_defmt), for a frame already cut to
    /// fit (its record is marked truncated).
    pub fn append_defmt_truncated(&self, frame: &[u8]) -> Result<CompactHead, EnqueueError> {
        let cut = frame.len().min(M);
        self.append_bytes(KIND_DEFMT, frame.get(..cut).unwrap_or_default(), true)
    }

    /// Queues a record of `message` (at most `M` bytes) under head byte `head`
    /// (its kind and level).
    fn append_bytes(
        &self,
        mut head: u8,
        message: &[u8],
        truncated: bool,
    ) -> Result<CompactHead, EnqueueError> {
        let keyed = self.with(|s| s.seal.is_keyed()).unwrap_or(false);
        if truncated {
            head |= TRUNCATED;
        }
        if keyed {
            head |= KEYED;
        }
        let digest = message_digest(head, message);
        let (reservation, frame, sync, queued) = critical_section::with(|cs| {
            let mut st = self
                .state
                .borrow(cs)
                .try_borrow_mut()
                .map_err(|_| EnqueueError::Full)?;
            let result = self.seal_and_reserve(cs, &mut st, head, &digest, message.len());
            if matches!(result, Err(EnqueueError::Full | EnqueueError::TooLong)) {
                st.unlogged = st.unlogged.saturating_add(1);
            }
            result
        })?;
        let mut slot = self.queue.slot(&reservation);
        let mut encoder = Encoder::new(&mut slot);
        encoder.write(frame.header.get(..frame.header_len).unwrap_or_default());
        encoder.write(message);
        encoder.write(frame.tag.get(..frame.tag_len).unwrap_or_default());
        encoder.finish();
        if let Some(sync) = sync {
            let mut encoder = Encoder::new(&mut slot);
            encoder.write(sync.bytes.get(..sync.len).unwrap_or_default());
            encoder.finish();
        }
        // Counted exactly; were a byte left, a zero is an empty frame.
        while slot.push(0) {}
        self.queue.commit(reservation);
        Ok(queued)
    }

    /// Queues a sync record now (at a checkpoint): the chain state after the
    /// last record, so a reader that lost frames resumes here. A full queue
    /// refuses it (nothing is lost: the next sync says the same).
    pub fn sync(&self) -> Result<(), EnqueueError> {
        let (reservation, sync) = critical_section::with(|cs| {
            let st = self
                .state
                .borrow(cs)
                .try_borrow()
                .map_err(|_| EnqueueError::Full)?;
            let sync = sync_frame(&st.seal, st.next, &st.state)?;
            let reservation = self
                .queue
                .reserve(cs, sync.len + 2)
                .ok_or(EnqueueError::Full)?;
            Ok((reservation, sync))
        })?;
        let mut slot = self.queue.slot(&reservation);
        let mut encoder = Encoder::new(&mut slot);
        encoder.write(sync.bytes.get(..sync.len).unwrap_or_default());
        encoder.finish();
        while slot.push(0) {}
        self.queue.commit(reservation);
        Ok(())
    }

    /// Inside the critical section.
    #[allow(clippy::type_complexity)]
    fn seal_and_reserve(
        &self,
        cs: critical_section::CriticalSection<'_>,
        st: &mut State<S>,
        mut head: u8,
        digest: &Hash,
        message_len: usize,
    ) -> Result<
        (
            crate::queue::Reservation,
            Frame,
            Option<SyncFrame>,
            CompactHead,
        ),
        EnqueueError,
    > {
        let now = self.clock.now();
        let time_us = now
            .secs()
            .saturating_mul(1_000_000)
            .saturating_add(u64::from(now.micros()));
        let seq = st.next;
        let unlogged = u64::from(st.unlogged);
        let state = advance(&st.state, digest, seq, time_us, unlogged);
        let mut seal = st.seal.clone();
        let mut frame = Frame {
            header: [0; 31],
            header_len: 0,
            tag: [0; KEYED_TAG],
            tag_len: PLAIN_TAG,
        };
        if seal.is_keyed() {
            let tag = seal
                .tag(Some(seq), &Hash::from_bytes(state))
                .map_err(EnqueueError::Seal)?;
            frame.tag.copy_from_slice(&tag.as_bytes()[..KEYED_TAG]);
            frame.tag_len = KEYED_TAG;
            seal.advance(
                SealedRecord {
                    tag,
                    digest: Hash::from_bytes(state),
                },
                Token(()),
            );
        } else {
            frame.tag[..PLAIN_TAG].copy_from_slice(&state[..PLAIN_TAG]);
        }
        if unlogged > 0 {
            head |= UNLOGGED;
        }
        let mut n = [0u8; 10];
        let mut len = 0;
        let mut put = |bytes: &[u8], frame: &mut Frame| {
            for &b in bytes {
                if let Some(slot) = frame.header.get_mut(len) {
                    *slot = b;
                    len += 1;
                }
            }
        };
        put(&[head], &mut frame);
        let k = leb128(seq, &mut n);
        put(n.get(..k).unwrap_or_default(), &mut frame);
        let k = leb128(time_us, &mut n);
        put(n.get(..k).unwrap_or_default(), &mut frame);
        if unlogged > 0 {
            let k = leb128(unlogged, &mut n);
            put(n.get(..k).unwrap_or_default(), &mut frame);
        }
        frame.header_len = len;
        let payload = len + message_len + frame.tag_len;
        if payload > SINGLE_BLOCK {
            return Err(EnqueueError::TooLong);
        }
        let next = seq.saturating_add(1);
        let sync = match self.sync_every {
            0 => None,
            k if next.is_multiple_of(u64::from(k)) => Some(sync_frame(&seal, next, &state)?),
            _ => None,
        };
        let total = payload + 2 + sync.as_ref().map_or(0, |s| s.len + 2);
        if total > Q {
            return Err(EnqueueError::TooLong);
        }
        let reservation = self.queue.reserve(cs, total).ok_or(EnqueueError::Full)?;
        st.state = state;
        st.next = next;
        st.seal = seal;
        st.unlogged = 0;
        let queued = CompactHead {
            seq,
            state: Hash::from_bytes(state),
        };
        Ok((reservation, frame, sync, queued))
    }
}

/// A sync record's payload: `next`, the state, and a keyed chain's tag (made
/// with the key for `next`, which the seal holds once record `next - 1` is sealed).
fn sync_frame<S: Seal>(seal: &S, next: u64, state: &[u8; 32]) -> Result<SyncFrame, EnqueueError> {
    let mut sync = SyncFrame {
        bytes: [0; 1 + 10 + 32 + KEYED_TAG],
        len: 0,
    };
    let keyed = seal.is_keyed();
    let mut n = [0u8; 10];
    let k = leb128(next, &mut n);
    let tag = if keyed {
        let tag = seal
            .tag(Some(next), &sync_digest(next, state))
            .map_err(EnqueueError::Seal)?;
        Some(tag)
    } else {
        None
    };
    let kind = [KIND_SYNC | if keyed { KEYED } else { 0 }];
    let tag_bytes = tag
        .as_ref()
        .and_then(|t| t.as_bytes().get(..KEYED_TAG))
        .unwrap_or_default();
    let parts: [&[u8]; 4] = [&kind, n.get(..k).unwrap_or_default(), state, tag_bytes];
    for byte in parts.iter().flat_map(|p| p.iter()) {
        if let Some(slot) = sync.bytes.get_mut(sync.len) {
            *slot = *byte;
            sync.len += 1;
        }
    }
    Ok(sync)
}

impl<C, const M: usize, const Q: usize, S> fmt::Debug for CompactChain<'_, C, M, Q, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompactChain")
            .field("capacity", &M)
            .field("head", &self.head())
            .field("unlogged", &self.unlogged())
            .finish_non_exhaustive()
    }
}

/// The compact encoder writes COBS frames straight into the queue's reservation.
impl<const Q: usize> super::cobs::Out for crate::queue::Slot<'_, Q> {
    fn pos(&self) -> usize {
        self.written()
    }
    fn push(&mut self, byte: u8) {
        crate::queue::Slot::push(self, byte);
    }
    fn patch(&mut self, at: usize, byte: u8) {
        crate::queue::Slot::patch(self, at, byte);
    }
}
