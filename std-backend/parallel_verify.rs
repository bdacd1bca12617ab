//! Verifying on two cores: a second thread reads the log in fixed batches,
//! finds the records in each and computes SHA-256 of their `block_json`s;
//! the calling thread runs the one sequential [`Verifier`] over the batches,
//! in order.
//!
//! The verdict cannot differ from the sequential one: the verifier is fed the
//! same bytes in the same order and decides everything; the only thing the
//! helper gives it is digests, each `BlockHasher::hash` of exactly the bytes
//! the verifier asks about (matched by position and length in the batch;
//! anything not matched is hashed on the spot).
//!
//! Hashing is shared per batch: the verifier claims records from the front,
//! the reading thread from the back (a compare-and-swap per record), so
//! neither waits for the other while both have work. Memory: [`BATCHES`] batches of [`BATCH`]
//! bytes beside the verifier's own record buffer.
//!
//! (Over 450 lines with its differential unit tests; the reading thread and the matching are under 390.)

use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;

use crate::hash::{BlockHasher, Hash};
use crate::record::BLOCK_PREFIX;
use crate::verify::{Computed, Digests};
use crate::{Options, Verdict, Verifier, VerifyKey};

use super::MAX_RECORD;

/// Bytes read at a time: one batch.
pub const BATCH: usize = 128 * 1024;

/// Batches in memory at once: the one being verified (and hashed from the
/// back), one read ahead, one being read, one on its way back.
pub const BATCHES: usize = 4;

/// A record's slot: nobody has claimed it yet.
const FREE: u8 = 0;
/// Claimed, being hashed.
const CLAIMED: u8 = 1;
/// Hashed: the digest is in place.
const DONE: u8 = 2;

/// One record whose two lines stand whole in a batch: where its `block_json`
/// is, and its digest once hashed.
#[derive(Debug)]
struct Slot {
    start: usize,
    end: usize,
    state: AtomicU8,
    digest: [AtomicU64; 4],
}

impl Slot {
    fn new(start: usize, end: usize) -> Self {
        Slot {
            start,
            end,
            state: AtomicU8::new(FREE),
            digest: Default::default(),
        }
    }

    /// Claims the slot for the caller to hash: false if someone else has.
    fn claim(&self) -> bool {
        self.state
            .compare_exchange(FREE, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    fn store(&self, hash: Hash) {
        for (word, bytes) in self.digest.iter().zip(hash.as_bytes().chunks_exact(8)) {
            word.store(
                bytes.try_into().map_or(0, u64::from_le_bytes),
                Ordering::Relaxed,
            );
        }
        self.state.store(DONE, Ordering::Release);
    }

    /// The digest another thread stored, once it is there.
    fn wait(&self) -> Hash {
        let mut spins = 0u32;
        while self.state.load(Ordering::Acquire) != DONE {
            spins += 1;
            if spins < 1 << 10 {
                std::hint::spin_loop();
            } else {
                // The hashing thread was descheduled mid-record.
                thread::yield_now();
            }
        }
        let mut bytes = [0u8; 32];
        for (word, out) in self.digest.iter().zip(bytes.chunks_exact_mut(8)) {
            out.copy_from_slice(&word.load(Ordering::Relaxed).to_le_bytes());
        }
        Hash::from_bytes(bytes)
    }
}

/// A batch of the log: its bytes and the records that stand whole in it.
#[derive(Debug)]
struct Batch {
    bytes: Vec<u8>,
    len: usize,
    slots: Vec<Slot>,
}

impl Batch {
    fn bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }

    fn block(&self, slot: &Slot) -> &[u8] {
        self.bytes.get(slot.start..slot.end).unwrap_or_default()
    }

    /// Hashes the unclaimed records from the back until it meets the
    /// verifier (or `stop` is set).
    fn hash_from_back(&self, stop: &AtomicBool) {
        for slot in self.slots.iter().rev() {
            if stop.load(Ordering::Relaxed) || !slot.claim() {
                // The verifier claims front to back: all before are its.
                return;
            }
            slot.store(BlockHasher::hash(self.block(slot)));
        }
    }
}

/// Where records start and end across batches: the log's lines counted from
/// its start, two to a record, as the verifier reads them.
#[derive(Debug, Default)]
struct Lines {
    /// A record's first line has ended and its second has not.
    in_second: bool,
    /// The record being read has bytes in the batches before.
    partial: bool,
}

impl Lines {
    /// Finds the records that stand whole in `batch` (both lines) and fills
    /// its slots.
    fn scan(&mut self, batch: &mut Batch) {
        batch.slots.clear();
        let bytes = batch.bytes.get(..batch.len).unwrap_or_default();
        // The record being read began in this batch.
        let mut whole = !self.partial;
        let mut line2_start = 0;
        let mut record_end = None;
        for lf in memchr::memchr_iter(b'\n', bytes) {
            if self.in_second {
                let line2 = bytes.get(line2_start..lf).unwrap_or_default();
                if whole && line2.starts_with(BLOCK_PREFIX) {
                    let slot = Slot::new(line2_start + BLOCK_PREFIX.len(), lf);
                    batch.slots.push(slot);
                }
                self.in_second = false;
                whole = true;
                record_end = Some(lf + 1);
            } else {
                self.in_second = true;
                line2_start = lf + 1;
            }
        }
        self.partial = match record_end {
            Some(end) => end < bytes.len(),
            None => self.partial || !bytes.is_empty(),
        };
    }
}

/// Hands the verifier the digests the hashing thread computed for `batch`,
/// matched by position; hashes the rest itself.
struct FromBatch<'b> {
    batch: &'b Batch,
    next: usize,
}

impl Digests for FromBatch<'_> {
    fn digest(&mut self, block_json: &[u8]) -> Hash {
        let base = self.batch.bytes.as_ptr() as usize;
        let at = (block_json.as_ptr() as usize).wrapping_sub(base);
        if at >= self.batch.len {
            // In the verifier's own buffer: a record carried over.
            return Computed.digest(block_json);
        }
        while let Some(slot) = self.batch.slots.get(self.next) {
            if slot.start >= at {
                break;
            }
            self.next += 1;
        }
        match self.batch.slots.get(self.next) {
            Some(slot) if slot.start == at && slot.end - slot.start == block_json.len() => {
                self.next += 1;
                if slot.claim() {
                    let hash = BlockHasher::hash(block_json);
                    slot.store(hash);
                    hash
                } else {
                    slot.wait()
                }
            }
            // Not a record standing whole in the batch (it began in the one
            // before): the verifier's own buffer holds it.
            _ => Computed.digest(block_json),
        }
    }
}

/// Reads `reader` in batches of `size` bytes into at most [`BATCHES`]
/// buffers, each reused once the verifier sends it back and no one else
/// holds it.
struct Reading<'r, R> {
    reader: &'r mut R,
    size: usize,
    made: usize,
    /// Sent back by the verifier; this thread may still hold one of them.
    returned: Vec<Arc<Batch>>,
    lines: Lines,
}

impl<R: Read> Reading<'_, R> {
    /// A buffer for the next batch; `None` when the verifier has stopped.
    fn free(&mut self, back: &mpsc::Receiver<Arc<Batch>>) -> Option<Batch> {
        loop {
            while let Ok(used) = back.try_recv() {
                self.returned.push(used);
            }
            if let Some(i) = self.returned.iter().position(|b| Arc::strong_count(b) == 1) {
                match Arc::try_unwrap(self.returned.swap_remove(i)) {
                    Ok(batch) => return Some(batch),
                    Err(shared) => self.returned.push(shared),
                }
            }
            if self.made < BATCHES {
                self.made += 1;
                return Some(Batch {
                    bytes: vec![0; self.size],
                    len: 0,
                    slots: Vec::new(),
                });
            }
            // Every buffer is out: wait for the verifier to finish one.
            self.returned.push(back.recv().ok()?);
        }
    }

    /// The next batch; `None` when the verifier has stopped.
    fn next(&mut self, back: &mpsc::Receiver<Arc<Batch>>) -> Option<io::Result<Batch>> {
        let mut batch = self.free(back)?;
        batch.len = loop {
            match self.reader.read(&mut batch.bytes) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Some(Err(e)),
            }
        };
        self.lines.scan(&mut batch);
        Some(Ok(batch))
    }
}

/// The reading thread: reads each batch and hands it to the verifier, then
/// hashes the batch before it (the one the verifier is on) from the back
/// until they meet: the next batch is read before the verifier needs it.
/// Ends at the end of the input (an empty batch), at a read error (handed
/// on), or when the verifier stops.
fn read_and_hash<R: Read>(
    mut reading: Reading<'_, R>,
    to_verifier: &mpsc::SyncSender<io::Result<Arc<Batch>>>,
    back: &mpsc::Receiver<Arc<Batch>>,
    stop: &AtomicBool,
) {
    let mut previous: Option<Arc<Batch>> = None;
    while let Some(next) = reading.next(back) {
        let batch = match next {
            Ok(batch) => Arc::new(batch),
            Err(e) => {
                let _ = to_verifier.send(Err(e));
                return;
            }
        };
        let end = batch.len == 0;
        if to_verifier.send(Ok(Arc::clone(&batch))).is_err() {
            return;
        }
        if let Some(previous) = previous.take() {
            previous.hash_from_back(stop);
        }
        if end {
            return;
        }
        previous = Some(batch);
    }
}

/// Verifies everything `reader` yields, as [`verify_reader_keyed`] does, on
/// two threads: the same verdict, sooner. A second thread reads the input in
/// batches, finds the records in each and hashes them from the back; this
/// thread runs the one sequential verifier over the batches in order,
/// hashing from the front what the other has not reached.
///
/// [`verify_reader_keyed`]: super::verify_reader_keyed
pub(crate) fn verify_reader_parallel(
    reader: impl Read + Send,
    options: Options,
    key: Option<VerifyKey>,
) -> io::Result<Verdict> {
    verify_reader_batched(reader, options, key, BATCH)
}

/// [`verify_reader_parallel`] with batches of `batch` bytes.
fn verify_reader_batched(
    mut reader: impl Read + Send,
    options: Options,
    key: Option<VerifyKey>,
    batch: usize,
) -> io::Result<Verdict> {
    let mut buf = vec![0; MAX_RECORD];
    let mut verifier = match key {
        Some(key) => Verifier::keyed(&mut buf, options, key),
        None => Verifier::new(&mut buf, options),
    };
    let stop = AtomicBool::new(false);
    let (to_verifier, batches) = mpsc::sync_channel(BATCHES);
    let (send_back, back) = mpsc::channel();
    let reading = Reading {
        reader: &mut reader,
        size: batch.max(1),
        made: 0,
        returned: Vec::with_capacity(BATCHES),
        lines: Lines::default(),
    };
    thread::scope(|scope| {
        let stop = &stop;
        scope.spawn(move || read_and_hash(reading, &to_verifier, &back, stop));
        let result = verify_batches(&mut verifier, &batches, &send_back);
        // Whatever the reading thread is doing, it stops.
        stop.store(true, Ordering::Relaxed);
        drop(batches);
        drop(send_back);
        result
    })?;
    Ok(verifier.finish())
}

/// Feeds the batches to the verifier in order, sending each back, until the
/// end of the input or the verifier's first failure.
fn verify_batches(
    verifier: &mut Verifier<'_>,
    batches: &mpsc::Receiver<io::Result<Arc<Batch>>>,
    send_back: &mpsc::Sender<Arc<Batch>>,
) -> io::Result<()> {
    // The reading thread ends with an empty batch or an error, or stops
    // once this thread has; if it panics, the scope panics after it and no
    // verdict is given.
    while let Ok(next) = batches.recv() {
        let batch = next?;
        if batch.len == 0 {
            break;
        }
        let fed = verifier.feed_with(
            batch.bytes(),
            &mut FromBatch {
                batch: &batch,
                next: 0,
            },
        );
        let _ = send_back.send(batch);
        if fed.is_err() {
            // The verdict holds the failure; the rest need not be read.
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::std_backend::verify_reader_keyed;
    use crate::{Chain, Key, Level, NoClock, SealKey, Start, Writer};

    /// A plain log of `n` records, messages of many lengths and escapes.
    fn plain_log(n: usize) -> Vec<u8> {
        let chain: Chain<Vec<u8>, NoClock, 1024> = Chain::new(Vec::new(), NoClock);
        for i in 0..n {
            let pad = "x".repeat(i * 7 % 300);
            let odd = [
                "",
                "é | pipes |",
                "tab\there \"q\" \\",
                "new\nline \u{1b}",
                "😀",
            ][i % 5];
            chain
                .append(Level::Info, format_args!("{i} {odd} {pad}"))
                .unwrap_or_else(|e| panic!("{e:?}"));
        }
        chain.into_writer().into_sink()
    }

    const K0: [u8; 32] = [0x42; 32];

    fn keyed_log(n: usize) -> Vec<u8> {
        let writer = Writer::sealed(Vec::new(), None, SealKey::new(Key::from_bytes(K0)));
        let chain: Chain<Vec<u8>, NoClock, 1024, SealKey> = Chain::from_writer(writer, NoClock);
        for i in 0..n {
            let pad = "k".repeat(i * 13 % 200);
            chain
                .append(Level::Warning, format_args!("keyed {i} {pad}"))
                .unwrap_or_else(|e| panic!("{e:?}"));
        }
        chain.into_writer().into_sink()
    }

    fn key() -> Option<VerifyKey> {
        Some(VerifyKey::new(Key::from_bytes(K0)))
    }

    /// The parallel verdict, with batches of each size, is the sequential one.
    fn same_verdict(log: &[u8], options: Options, keyed: bool) -> Verdict {
        let key = || if keyed { key() } else { None };
        let one = verify_reader_keyed(log, options, key()).unwrap_or_else(|e| panic!("{e}"));
        for batch in [300, 1000, 4096] {
            let two =
                verify_reader_batched(log, options, key(), batch).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                two,
                one,
                "batch {batch}, log {:?}",
                String::from_utf8_lossy(log)
            );
        }
        one
    }

    /// Changes of one byte, deletions, inserted line ends and cuts at many
    /// positions: every verdict, failure, line and record is the same on two
    /// threads as on one.
    #[test]
    fn tampered_logs_get_the_sequential_verdict_on_two_threads() {
        for (log, keyed) in [(plain_log(90), false), (keyed_log(40), true)] {
            assert!(
                matches!(same_verdict(&log, Options::default(), keyed), Verdict::Intact(r) if r.records > 0)
            );
            let mut failed = 0;
            for at in (0..log.len()).step_by(83) {
                let mut flipped = log.clone();
                flipped[at] ^= 0x01;
                let mut deleted = log.clone();
                deleted.remove(at);
                let mut split = log.clone();
                split.insert(at, b'\n');
                for changed in [&flipped, &deleted, &split, &log[..at].to_vec()] {
                    if let Verdict::Failed(..) = same_verdict(changed, Options::default(), keyed) {
                        failed += 1;
                    }
                }
                let segment = Options {
                    start: Start::Segment,
                    ..Options::default()
                };
                same_verdict(log.get(at..).unwrap_or_default(), segment, keyed);
            }
            assert!(failed > log.len() / 83, "most changes fail: {failed}");
        }
    }

    /// Records moved: one removed (not the last), two swapped, one repeated.
    #[test]
    fn moved_records_get_the_sequential_verdict_on_two_threads() {
        let log = plain_log(60);
        let records: Vec<&[u8]> = log.split_inclusive(|&b| b == b'\n').collect();
        let pairs: Vec<Vec<u8>> = records.chunks(2).map(|r| r.concat()).collect();
        for i in 0..pairs.len() {
            let mut removed = pairs.clone();
            // Removing the last record leaves an intact (shorter) chain.
            removed.remove(i.min(pairs.len() - 2));
            let mut swapped = pairs.clone();
            swapped.swap(i, (i + 1) % pairs.len());
            let mut repeated = pairs.clone();
            repeated.insert(i, pairs[i].clone());
            for changed in [removed, swapped, repeated] {
                let verdict = same_verdict(&changed.concat(), Options::default(), false);
                assert!(matches!(verdict, Verdict::Failed(..)), "{verdict:?}");
            }
        }
    }

    /// Lines longer than the verifier's limit, and no line end at all.
    #[test]
    fn long_lines_and_garbage_get_the_sequential_verdict() {
        let mut long = plain_log(3);
        long.extend(std::iter::repeat_n(b'a', MAX_RECORD + 10));
        same_verdict(&long, Options::default(), false);
        same_verdict(&[b'z'; 5000], Options::default(), false);
        same_verdict(b"", Options::default(), false);
        same_verdict(&vec![b'\n'; 3000], Options::default(), false);
    }

    fn slots_of(chunks: &[&[u8]]) -> Vec<Vec<(usize, usize)>> {
        let mut lines = Lines::default();
        chunks
            .iter()
            .map(|chunk| {
                let mut batch = Batch {
                    bytes: chunk.to_vec(),
                    len: chunk.len(),
                    slots: Vec::new(),
                };
                lines.scan(&mut batch);
                batch.slots.iter().map(|s| (s.start, s.end)).collect()
            })
            .collect()
    }

    #[test]
    fn only_records_standing_whole_in_a_batch_get_slots() {
        // Two records in one batch.
        assert_eq!(
            slots_of(&[b"a\nBLOCK_DATA:x\nb\nBLOCK_DATA:yy\n"]),
            [vec![(13, 14), (28, 30)]]
        );
        // A record cut after its first line, then after its second's start;
        // the next record, whole in the second batch, gets its slot.
        assert_eq!(
            slots_of(&[b"a\nBLOCK_D", b"ATA:x\nb\nBLOCK_DATA:y\n"]),
            [vec![], vec![(19, 20)]]
        );
        assert_eq!(
            slots_of(&[b"a", b"\nBLOCK_DATA:x\nb\nBLOCK_DATA:y\n"]),
            [vec![], vec![(27, 28)]]
        );
        // A second line without the prefix gets no slot, and the count of
        // lines stays right after it.
        assert_eq!(
            slots_of(&[b"a\nnot a block\nb\nBLOCK_DATA:y\n", b"c\nBLOCK_DATA:z\n"]),
            [vec![(27, 28)], vec![(13, 14)]]
        );
    }
}
