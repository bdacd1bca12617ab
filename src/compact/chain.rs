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
    /// Records since the last sync record (a resumed chain starts at the
    /// maximum: its first record is followed by a sync).
    since_sync: u32,
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
        // Byte by byte, not `extend_from_slice`: no `memcpy` linked for it
        // (about 740 bytes of flash on a Cortex-M, more than this copy costs).
        for &byte in s.as_bytes().get(..cut).unwrap_or_default() {
            let _ = self.bytes.push(byte);
        }
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
    /// the record after `head`). A chain that continues a head sends a sync
    /// record after its first record, so a capture of this run verifies
    /// from there; then one after every `sync_every` records.
    pub const fn sealed(queue: &'q Queue<Q>, clock: C, head: Option<CompactHead>, seal: S) -> Self {
        const {
            assert!(
                M <= MAX_COMPACT_MESSAGE,
                "compact messages are at most 200 bytes"
            )
        };
        let (state, next, since_sync) = match head {
            Some(h) => (*h.state.as_bytes(), h.seq.saturating_add(1), u32::MAX),
            None => (GENESIS_STATE, 0, 0),
        };
        CompactChain {
            queue,
            state: Mutex::new(RefCell::new(State {
                state,
                next,
                seal,
                unlogged: 0,
                since_sync,
            })),
            clock,
            sync_every: DEFAULT_SYNC_EVERY,
        }
    }

    /// The same chain with a sync record after every `k` records (0: only
    /// when [`sync`](Self::sync) is called); from genesis, after records
    /// `k - 1`, `2k - 1`, ... A reader that lost frames
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

/// What the critical section decided for one record: the fields its frame
/// states (written into the queue after the section ends) and its place.
struct Sealed {
    reservation: crate::queue::Reservation,
    /// The head byte, with the unlogged bit if `unlogged` > 0.
    head: u8,
    seq: u64,
    time_us: u64,
    unlogged: u64,
    /// The tag: the state's first 8 bytes, or a keyed chain's HMAC.
    tag: [u8; KEYED_TAG],
    tag_len: usize,
    /// The state after the record, for its head and a sync record.
    state: [u8; 32],
    /// A sync record follows: its keyed tag (`None` in a plain chain).
    sync: Option<Option<[u8; KEYED_TAG]>>,
}

/// Bytes of `n` as LEB128, without writing it: arithmetic only, for the
/// critical section.
fn leb128_len(mut n: u64) -> usize {
    // A loop, not `leading_zeros`: rv32imc has no count-leading-zeros instruction.
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// A sync record's payload length: head, `next`, state, keyed tag.
fn sync_len(next: u64, keyed: bool) -> usize {
    1 + leb128_len(next) + 32 + if keyed { KEYED_TAG } else { 0 }
}

/// Writes `n` as LEB128 into a frame.
#[inline(never)]
fn put_leb128<O: super::cobs::Out>(encoder: &mut Encoder<'_, O>, n: u64) {
    let mut bytes = [0u8; 10];
    let len = leb128(n, &mut bytes);
    encoder.write(bytes.get(..len).unwrap_or_default());
}

/// Encodes a sync record's frame (without its zero) into `out`.
#[inline(never)]
fn put_sync<O: super::cobs::Out>(
    out: &mut O,
    next: u64,
    state: &[u8; 32],
    tag: Option<&[u8; KEYED_TAG]>,
) {
    let mut encoder = Encoder::new(out);
    encoder.write(&[KIND_SYNC | if tag.is_some() { KEYED } else { 0 }]);
    put_leb128(&mut encoder, next);
    encoder.write(state);
    if let Some(tag) = tag {
        encoder.write(tag);
    }
    encoder.finish();
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
        let formatted = match message.as_str() {
            // A message without arguments: copied, not formatted.
            Some(s) => fmt::Write::write_str(&mut text, s),
            None => fmt::write(&mut text, message),
        };
        if formatted.is_err() {
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
        let sealed = critical_section::with(|cs| {
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
        // Outside the critical section: the frame(s) into the reserved place.
        let mut slot = self.queue.slot(&sealed.reservation);
        let mut encoder = Encoder::new(&mut slot);
        encoder.write(&[sealed.head]);
        put_leb128(&mut encoder, sealed.seq);
        put_leb128(&mut encoder, sealed.time_us);
        if sealed.unlogged > 0 {
            put_leb128(&mut encoder, sealed.unlogged);
        }
        encoder.write(message);
        encoder.write(sealed.tag.get(..sealed.tag_len).unwrap_or_default());
        encoder.finish();
        if let Some(sync_tag) = sealed.sync {
            let next = sealed.seq.saturating_add(1);
            put_sync(&mut slot, next, &sealed.state, sync_tag.as_ref());
        }
        // Counted exactly; were a byte left, a zero is an empty frame.
        while slot.push(0) {}
        self.queue.commit(sealed.reservation);
        Ok(CompactHead {
            seq: sealed.seq,
            state: Hash::from_bytes(sealed.state),
        })
    }

    /// Queues a sync record now (at a checkpoint): the chain state after the
    /// last record, so a reader that lost frames resumes here. A full queue
    /// refuses it (nothing is lost: the next sync says the same).
    pub fn sync(&self) -> Result<(), EnqueueError> {
        let (reservation, next, state, tag) = critical_section::with(|cs| {
            let st = self
                .state
                .borrow(cs)
                .try_borrow()
                .map_err(|_| EnqueueError::Full)?;
            let tag = sync_tag(&st.seal, st.next, &st.state)?;
            let reservation = self
                .queue
                .reserve(cs, sync_len(st.next, tag.is_some()) + 2)
                .ok_or(EnqueueError::Full)?;
            Ok((reservation, st.next, st.state, tag))
        })?;
        let mut slot = self.queue.slot(&reservation);
        put_sync(&mut slot, next, &state, tag.as_ref());
        while slot.push(0) {}
        self.queue.commit(reservation);
        Ok(())
    }

    /// Inside the critical section: the clock, `seq`, the state advanced (one
    /// compression), the tag, the lengths counted and the place reserved.
    /// Nothing is encoded here.
    fn seal_and_reserve(
        &self,
        cs: critical_section::CriticalSection<'_>,
        st: &mut State<S>,
        mut head: u8,
        digest: &Hash,
        message_len: usize,
    ) -> Result<Sealed, EnqueueError> {
        let now = self.clock.now();
        let time_us = now
            .secs()
            .saturating_mul(1_000_000)
            .saturating_add(u64::from(now.micros()));
        let seq = st.next;
        let unlogged = u64::from(st.unlogged);
        let state = advance(&st.state, digest, seq, time_us, unlogged);
        let mut seal = st.seal.clone();
        let mut tag = [0u8; KEYED_TAG];
        let tag_len = if seal.is_keyed() {
            let keyed = seal
                .tag(Some(seq), &Hash::from_bytes(state))
                .map_err(EnqueueError::Seal)?;
            tag.copy_from_slice(keyed.as_bytes().get(..KEYED_TAG).unwrap_or(&[0; KEYED_TAG]));
            seal.advance(
                SealedRecord {
                    tag: keyed,
                    digest: Hash::from_bytes(state),
                },
                Token(()),
            );
            KEYED_TAG
        } else {
            tag[..PLAIN_TAG].copy_from_slice(&state[..PLAIN_TAG]);
            PLAIN_TAG
        };
        let mut header = 1 + leb128_len(seq) + leb128_len(time_us);
        if unlogged > 0 {
            head |= UNLOGGED;
            header += leb128_len(unlogged);
        }
        let payload = header + message_len + tag_len;
        if payload > SINGLE_BLOCK {
            return Err(EnqueueError::TooLong);
        }
        let next = seq.saturating_add(1);
        // Counted, not `next % k`: no 64-bit division on 32-bit targets.
        let since_sync = st.since_sync.saturating_add(1);
        let sync_due = self.sync_every != 0 && since_sync >= self.sync_every;
        let sync = if sync_due {
            Some(sync_tag(&seal, next, &state)?)
        } else {
            None
        };
        let total = payload + 2 + sync.as_ref().map_or(0, |t| sync_len(next, t.is_some()) + 2);
        if total > Q {
            return Err(EnqueueError::TooLong);
        }
        let reservation = self.queue.reserve(cs, total).ok_or(EnqueueError::Full)?;
        st.state = state;
        st.next = next;
        st.seal = seal;
        st.unlogged = 0;
        st.since_sync = if sync_due { 0 } else { since_sync };
        Ok(Sealed {
            reservation,
            head,
            seq,
            time_us,
            unlogged,
            tag,
            tag_len,
            state,
            sync,
        })
    }
}

/// A keyed chain's sync tag (made with the key for `next`, which the seal
/// holds once record `next - 1` is sealed); `None` in a plain chain.
fn sync_tag<S: Seal>(
    seal: &S,
    next: u64,
    state: &[u8; 32],
) -> Result<Option<[u8; KEYED_TAG]>, EnqueueError> {
    if !seal.is_keyed() {
        return Ok(None);
    }
    let tag = seal
        .tag(Some(next), &sync_digest(next, state))
        .map_err(EnqueueError::Seal)?;
    let mut out = [0u8; KEYED_TAG];
    out.copy_from_slice(tag.as_bytes().get(..KEYED_TAG).unwrap_or(&[0; KEYED_TAG]));
    Ok(Some(out))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb128_len_counts_what_leb128_writes() {
        let mut buf = [0u8; 10];
        for n in [0, 1, 0x7f, 0x80, 0x3fff, 0x4000, 1 << 35, u64::MAX] {
            assert_eq!(leb128_len(n), leb128(n, &mut buf), "{n}");
        }
    }
}
