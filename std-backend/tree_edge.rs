//! The tree's right edge the writer keeps as it appends (opt in with
//! [`OpenOptions::keep_tree`](super::OpenOptions::keep_tree)): a
//! [`CompactRange`] over the records of the log file, so
//! [`LogFile::tree_head`](super::LogFile::tree_head) gives a checkpoint of
//! the live log without reading it.
//!
//! **The append path.** Staging a record copies its digest (SHA-256 of its
//! `block_json`, which staging computed anyway) into a list: 32 bytes, no
//! hashing. When staged records are handed to the OS, their digests are
//! copied to the tree's thread, woken every [`WAKE_AT`] bytes of log (or
//! when a tree head is asked for, or at close), which does the node hashing
//! (one leaf hash and on average one node hash a record).
//!
//! **Persisted** in `<log>.edge` beside the log, two slots written in turn:
//!
//! ```text
//!   slot (2,304 bytes; slot A at 0, slot B at 2,304):
//!   "ILEDGE1\n" | generation u64 | log_end u64 | last_stated (32) |
//!   record0 (32) | range_len u64 | CompactRange encoding (range_len bytes,
//!   zero-padded to 2,056) | SHA-256 of everything before (32)      (all BE)
//! ```
//!
//! A slot is rewritten after at least [`PERSIST_EVERY`] bytes of log were
//! handed over since the last one, and when the log is closed; never synced
//! (the edge is a cache: a crash leaves an older slot, which the next open
//! catches up). A torn slot write fails its checksum, and the other slot, an
//! older but true edge, is used.
//!
//! **Restored at open** in O(1) of the log's size: read the slot with the
//! highest generation that checks, then read the log only after its
//! `log_end` (after a crash, at most [`PERSIST_EVERY`], the bytes the
//! thread had taken but not hashed in and the [`PENDING_MAX`] it had not
//! taken, and a batch or two: about 3 MiB; more than [`CATCH_UP_MAX`] and
//! the edge is left unknown). With no edge file
//! (or no slot that checks), a log of at most [`CATCH_UP_MAX`] bytes is read
//! from its start; a longer one has no tree. **Stale** edges are
//! detected: the log must be at least `log_end` bytes long; the record
//! after `log_end` must link to `last_stated` (its `prev_hash`), and each
//! record read checks as the verifier checks it; with no record after it,
//! the last record must state `last_stated`. Hashes chain each record to all
//! before it, so a log cut back, rewritten or replaced fails one of these,
//! and the tree is then unknown ([`TreeUnknown`]), never wrong:
//! `immutable-log checkpoint` (the `<log>.tree` side file) rebuilds from
//! the log.
//!
//! (Long for one job, the writer's tree: the edge file's two slots, restoring and catching up at open, and the tree's thread; split apart each would need the others' invariants.)

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

use super::log_leaves::{After, LeafError, LeafReader};
use super::tree_file::{read_at, write_at};
use crate::merkle::CompactRange;
use crate::{Hash, TreeHead, TreeOrigin};

const MAGIC: &[u8; 8] = b"ILEDGE1\n";
const SLOT_LEN: usize = 2304;
const RANGE_AT: usize = 8 + 8 + 8 + 32 + 32 + 8;
const SUM_AT: usize = RANGE_AT + CompactRange::MAX_ENCODED_LEN;

/// Bytes of log handed over between two writes of the edge.
pub const PERSIST_EVERY: u64 = 1 << 20;

/// The most log bytes an open reads to catch an edge up.
pub const CATCH_UP_MAX: u64 = 4 << 20;

/// Why a writer has no tree head.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum TreeUnknown {
    /// The log was not opened with `keep_tree(true)`.
    NotKept,
    /// The log has more than [`CATCH_UP_MAX`] bytes of records and no
    /// `<log>.edge` with a slot that checks.
    NoEdge,
    /// The edge does not fit the log: it is shorter than the edge's
    /// `log_end`, or the record there does not link to the edge's last one.
    Stale {
        /// The edge's `log_end`.
        log_end: u64,
        /// The log's length (whole records).
        log_len: u64,
    },
    /// The edge lags the log by more than [`CATCH_UP_MAX`] bytes.
    Lags {
        /// Bytes of log after the edge.
        bytes: u64,
    },
    /// A record after the edge fails its check (line and record as the
    /// verifier counts them).
    Record(crate::Failure),
    /// Reading the log or the edge, or writing the edge, failed.
    Io(io::ErrorKind),
    /// The log rotated: the new file's tree starts unknown.
    Rotated,
}

impl fmt::Display for TreeUnknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TreeUnknown::NotKept => f.write_str("the log was not opened with keep_tree"),
            TreeUnknown::NoEdge => write!(
                f,
                "no edge file (or no slot in it that checks), and more than {CATCH_UP_MAX} bytes of log to read"
            ),
            TreeUnknown::Stale { log_end, log_len } => write!(
                f,
                "the edge file is stale: it ends at byte {log_end}, which is not where a \
                 record of this {log_len}-byte log ends after the record it names"
            ),
            TreeUnknown::Lags { bytes } => write!(
                f,
                "the edge file lags the log by {bytes} bytes (more than {CATCH_UP_MAX} to read)"
            ),
            TreeUnknown::Record(failure) => write!(f, "a record after the edge fails: {failure}"),
            TreeUnknown::Io(kind) => write!(f, "edge file I/O: {kind}"),
            TreeUnknown::Rotated => f.write_str("the log rotated since it was opened"),
        }
    }
}

impl std::error::Error for TreeUnknown {}

/// `<log>.edge`.
pub(crate) fn edge_path(log: &Path) -> PathBuf {
    let mut name = log.as_os_str().to_owned();
    name.push(".edge");
    PathBuf::from(name)
}

/// The edge as a slot states it.
#[derive(Clone, Copy)]
struct Slot {
    generation: u64,
    log_end: u64,
    last_stated: Hash,
    record0: Hash,
    range: CompactRange,
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
}

fn hash_at(bytes: &[u8], at: usize) -> Option<Hash> {
    Some(Hash::from_bytes(bytes.get(at..at + 32)?.try_into().ok()?))
}

impl Slot {
    fn encode(&self) -> Vec<u8> {
        let mut out = vec![0u8; SLOT_LEN];
        let mut range = [0u8; CompactRange::MAX_ENCODED_LEN];
        let range_len = self.range.encode(&mut range).unwrap_or(0);
        let mut head = Vec::with_capacity(RANGE_AT);
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&self.generation.to_be_bytes());
        head.extend_from_slice(&self.log_end.to_be_bytes());
        head.extend_from_slice(self.last_stated.as_bytes());
        head.extend_from_slice(self.record0.as_bytes());
        head.extend_from_slice(&(range_len as u64).to_be_bytes());
        for (dst, src) in out.iter_mut().zip(head.iter().chain(range.iter())) {
            *dst = *src;
        }
        let sum: [u8; 32] = Sha256::digest(out.get(..SUM_AT).unwrap_or_default()).into();
        for (dst, src) in out.iter_mut().skip(SUM_AT).zip(sum) {
            *dst = src;
        }
        out
    }

    fn decode(bytes: &[u8]) -> Option<Slot> {
        if bytes.get(..8)? != MAGIC {
            return None;
        }
        let sum: [u8; 32] = Sha256::digest(bytes.get(..SUM_AT)?).into();
        if bytes.get(SUM_AT..SUM_AT + 32)? != sum {
            return None;
        }
        let range_len = usize::try_from(u64_at(bytes, RANGE_AT - 8)?).ok()?;
        let range = CompactRange::decode(bytes.get(RANGE_AT..RANGE_AT.checked_add(range_len)?)?);
        Some(Slot {
            generation: u64_at(bytes, 8)?,
            log_end: u64_at(bytes, 16)?,
            last_stated: hash_at(bytes, 24)?,
            record0: hash_at(bytes, 56)?,
            range: range.ok()?,
        })
    }
}

/// The writer's tree of the log file's records.
pub(crate) struct WriterTree {
    edge: File,
    range: CompactRange,
    record0: Hash,
    /// The last record in `range` states this.
    last_stated: Hash,
    generation: u64,
    /// The log length the last slot written states.
    persisted_end: u64,
    /// The log length `range` covers.
    log_end: u64,
}

impl fmt::Debug for WriterTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriterTree")
            .field("size", &self.range.size())
            .field("log_end", &self.log_end)
            .finish_non_exhaustive()
    }
}

/// A record staged: its digest (its leaf) and the hash it states.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Staged {
    pub digest: Hash,
    pub stated: Hash,
}

/// The records in `bytes` (whole records, as staged), and the `prev_hash`
/// of the first; `None` if one cannot be read.
pub(crate) fn staged_in(bytes: &[u8]) -> Option<(Vec<Staged>, Option<Hash>)> {
    let mut out = Vec::new();
    let mut first_prev = None;
    for record in crate::records(bytes) {
        let record = record.ok()?;
        first_prev.get_or_insert(record.prev_hash());
        out.push(Staged {
            digest: record.digest(),
            stated: record.hash(),
        });
    }
    Some((out, first_prev))
}

impl WriterTree {
    /// Restores the tree of `log`'s first `log_len` bytes (whole records)
    /// from `<log>.edge`, reading the log only after the edge's end.
    /// `next_prev`: what the record after those bytes links to (the first
    /// staged record's `prev_hash`, or the log's head), `None` for an empty
    /// log.
    pub(crate) fn restore(
        log: &Path,
        log_len: u64,
        next_prev: Option<Hash>,
        keyed: bool,
    ) -> Result<Self, TreeUnknown> {
        let io = |e: io::Error| TreeUnknown::Io(e.kind());
        let edge = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(edge_path(log))
            .map_err(io)?;
        let read = edge.metadata().map_err(io)?.len().min(2 * SLOT_LEN as u64) as usize;
        let mut bytes = vec![0u8; read];
        read_at(&edge, &mut bytes, 0).map_err(io)?;
        let slots = [
            bytes.get(..read.min(SLOT_LEN)).and_then(Slot::decode),
            bytes.get(SLOT_LEN..read).and_then(Slot::decode),
        ];
        let newest = slots.into_iter().flatten().max_by_key(|s| s.generation);
        let mut slot = match newest {
            Some(slot) => slot,
            // No edge yet (a log kept without one so far, or both slots
            // damaged): built from the log's start if it is small enough.
            None if log_len <= CATCH_UP_MAX => Slot {
                generation: 0,
                log_end: 0,
                last_stated: Hash::GENESIS,
                record0: Hash::GENESIS,
                range: CompactRange::new(),
            },
            None => return Err(TreeUnknown::NoEdge),
        };
        let stale = TreeUnknown::Stale {
            log_end: slot.log_end,
            log_len,
        };
        if slot.log_end > log_len {
            return Err(stale);
        }
        if slot.log_end < log_len {
            let bytes = log_len - slot.log_end;
            if bytes > CATCH_UP_MAX {
                return Err(TreeUnknown::Lags { bytes });
            }
            let mut file = File::open(log).map_err(io)?;
            let after = After {
                offset: slot.log_end,
                index: slot.range.size(),
                prev: slot.last_stated,
                keyed,
            };
            let mut reader = LeafReader::new(&mut file, after).map_err(io)?;
            while reader.after().offset < log_len {
                let leaf = match reader.next_leaf() {
                    Ok(Some(leaf)) => leaf,
                    Ok(None) => return Err(stale),
                    // The first record read not linking to the edge's last
                    // one is a stale edge; any other failure is the log's.
                    Err(LeafError::Record(failure)) if failure.record == after.index => {
                        return Err(stale)
                    }
                    Err(LeafError::Record(failure)) => return Err(TreeUnknown::Record(failure)),
                    Err(LeafError::Io(e)) => return Err(io(e)),
                };
                if leaf.index == 0 {
                    slot.record0 = leaf.stated;
                }
                slot.range
                    .push_record(&leaf.digest)
                    .map_err(|_| TreeUnknown::Lags { bytes })?;
                slot.last_stated = leaf.stated;
            }
            if reader.after().offset != log_len {
                return Err(stale);
            }
        }
        if slot.range.size() > 0 && next_prev != Some(slot.last_stated) {
            return Err(stale);
        }
        if slot.range.size() == 0 && log_len > 0 {
            return Err(stale);
        }
        Ok(WriterTree {
            edge,
            range: slot.range,
            record0: slot.record0,
            last_stated: slot.last_stated,
            generation: slot.generation,
            persisted_end: slot.log_end,
            log_end: log_len,
        })
    }

    /// Batches handed to the OS: their leaves join the tree (the node
    /// hashing), batch by batch; after each, the log ends at its `log_end`,
    /// and a slot is written when [`PERSIST_EVERY`] bytes passed since the
    /// last.
    fn take(&mut self, leaves: &Leaves) -> Result<(), TreeUnknown> {
        let mut digests = leaves.digests.iter();
        for end in &leaves.ends {
            if self.range.size() == 0 && end.records > 0 {
                self.record0 = end.first_stated;
            }
            for digest in digests.by_ref().take(end.records) {
                self.range
                    .push_record(digest)
                    .map_err(|_| TreeUnknown::Lags { bytes: 0 })?;
            }
            self.last_stated = end.last_stated;
            self.log_end = end.log_end;
            if end.log_end.saturating_sub(self.persisted_end) >= PERSIST_EVERY {
                self.persist()?;
            }
        }
        Ok(())
    }

    /// Writes the edge as it stands to the slot after the newest.
    pub(crate) fn persist(&mut self) -> Result<(), TreeUnknown> {
        if self.persisted_end == self.log_end && self.generation > 0 {
            return Ok(());
        }
        let generation = self.generation + 1;
        let slot = Slot {
            generation,
            log_end: self.log_end,
            last_stated: self.last_stated,
            record0: self.record0,
            range: self.range,
        };
        let at = (generation % 2) * SLOT_LEN as u64;
        write_at(&self.edge, &slot.encode(), at).map_err(|e| TreeUnknown::Io(e.kind()))?;
        self.generation = generation;
        self.persisted_end = self.log_end;
        Ok(())
    }
}

/// Log bytes handed over before the tree's thread is woken to hash their
/// leaves in (a tree head or a close wakes it at once): a wake-up costs the
/// appender a system call and, on a virtual machine, tens of microseconds,
/// so it comes once per ~2,000 records, not once per batch.
pub(crate) const WAKE_AT: u64 = 512 << 10;

/// Log bytes handed over and not yet taken by the tree's thread at which
/// the appender waits for it. With [`PERSIST_EVERY`], this bounds how far
/// the edge file lags the log after a crash (below [`CATCH_UP_MAX`]).
pub(crate) const PENDING_MAX: u64 = 2 * WAKE_AT;

/// One batch of records handed to the OS, as the tree's thread takes it.
#[derive(Clone, Copy, Debug)]
struct BatchEnd {
    /// Its records' digests (the next this many in [`Leaves::digests`]).
    records: usize,
    /// What its first record states (record 0's, if the tree is empty).
    first_stated: Hash,
    /// What its last record states.
    last_stated: Hash,
    /// The log's length after it.
    log_end: u64,
}

/// Leaves handed over: 32 bytes a record, and each batch's end. Two of
/// these take turns (one filled by the appender, one hashed in by the
/// thread), so the steady state allocates nothing.
#[derive(Debug, Default)]
struct Leaves {
    digests: Vec<Hash>,
    ends: Vec<BatchEnd>,
}

impl Leaves {
    fn clear(&mut self) {
        self.digests.clear();
        self.ends.clear();
    }
}

/// What the appender and the tree's thread share, under one mutex.
#[derive(Debug)]
struct Inbox {
    /// Batches handed over that the thread has not taken.
    leaves: Leaves,
    /// The log's length after the last batch handed over, and after the
    /// last one the thread took: their difference is the pending bytes.
    handed_end: u64,
    taken_end: u64,
    /// Tree heads asked for, and answered (the answer of the latest).
    asked: u64,
    answered: u64,
    answer: Result<(CompactRange, Hash), TreeUnknown>,
    /// Write the edge as it stands and stop; then the outcome.
    stop: bool,
    /// Stop without writing the edge (the worker was dropped).
    quit: bool,
    stopped: Option<Result<(), TreeUnknown>>,
    /// The thread waits for work (a wake-up is owed when work is due).
    sleeping: bool,
    /// The appender waits for the thread to take pending batches.
    full: bool,
    /// The thread ended.
    gone: bool,
}

impl Inbox {
    fn pending(&self) -> u64 {
        self.handed_end.saturating_sub(self.taken_end)
    }

    /// Whether the thread has something to do now.
    fn due(&self) -> bool {
        self.stop || self.quit || self.asked != self.answered || self.pending() >= WAKE_AT
    }
}

#[derive(Debug)]
struct Shared {
    inbox: Mutex<Inbox>,
    /// The thread waits here for work.
    work: Condvar,
    /// The appender waits here for an answer, or for room.
    done: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inbox> {
        // Nothing under this lock panics, so a poisoned inbox is whole.
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the thread if it sleeps (once: no system call per batch).
    fn wake(&self, inbox: &mut Inbox) {
        if inbox.sleeping {
            inbox.sleeping = false;
            self.work.notify_one();
        }
    }

    fn wait_done<'a>(&self, inbox: MutexGuard<'a, Inbox>) -> MutexGuard<'a, Inbox> {
        self.done
            .wait(inbox)
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The writer's tree on a thread of its own: the appender copies each
/// batch's digests into a shared list as it hands records to the OS, and
/// the node hashing and the edge file's writes happen on the thread, off
/// the append path, woken every [`WAKE_AT`] bytes of log.
pub(crate) struct TreeWorker {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for TreeWorker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TreeWorker").finish_non_exhaustive()
    }
}

const LOST: TreeUnknown = TreeUnknown::Io(io::ErrorKind::BrokenPipe);

impl TreeWorker {
    /// Starts the thread with a restored tree.
    pub(crate) fn start(tree: WriterTree) -> Result<Self, TreeUnknown> {
        let shared = Arc::new(Shared {
            inbox: Mutex::new(Inbox {
                leaves: Leaves::default(),
                handed_end: tree.log_end,
                taken_end: tree.log_end,
                asked: 0,
                answered: 0,
                answer: Err(LOST),
                stop: false,
                quit: false,
                stopped: None,
                sleeping: false,
                full: false,
                gone: false,
            }),
            work: Condvar::new(),
            done: Condvar::new(),
        });
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("immutable-log tree".into())
            .spawn(move || work(tree, &theirs))
            .map_err(|e| TreeUnknown::Io(e.kind()))?;
        Ok(TreeWorker {
            shared,
            thread: Some(thread),
        })
    }

    /// Records handed to the OS: their digests, what the first and the last
    /// state, and the log's length after them. Wakes the thread once
    /// [`WAKE_AT`] bytes wait; waits only if [`PENDING_MAX`] do.
    pub(crate) fn handed(
        &self,
        digests: &[Hash],
        first_stated: Hash,
        last_stated: Hash,
        log_end: u64,
    ) -> Result<(), TreeUnknown> {
        let mut inbox = self.shared.lock();
        while inbox.pending() >= PENDING_MAX && !inbox.gone {
            inbox.full = true;
            self.shared.wake(&mut inbox);
            inbox = self.shared.wait_done(inbox);
        }
        if inbox.gone {
            return Err(LOST);
        }
        inbox.leaves.digests.extend_from_slice(digests);
        inbox.leaves.ends.push(BatchEnd {
            records: digests.len(),
            first_stated,
            last_stated,
            log_end,
        });
        inbox.handed_end = log_end;
        if inbox.pending() >= WAKE_AT {
            self.shared.wake(&mut inbox);
        }
        Ok(())
    }

    /// The tree of the records handed over and then the staged ones
    /// (`staged`, the first of which states `first_stated`).
    pub(crate) fn head(
        &self,
        staged: &[Hash],
        first_stated: Option<Hash>,
    ) -> Result<Option<TreeHead>, TreeUnknown> {
        let (mut range, mut record0) = {
            let mut inbox = self.shared.lock();
            inbox.asked += 1;
            let ticket = inbox.asked;
            self.shared.wake(&mut inbox);
            while inbox.answered < ticket && !inbox.gone {
                inbox = self.shared.wait_done(inbox);
            }
            if inbox.answered < ticket {
                return Err(LOST);
            }
            inbox.answer?
        };
        if range.size() == 0 {
            if let Some(first) = first_stated {
                record0 = first;
            }
        }
        for digest in staged {
            range
                .push_record(digest)
                .map_err(|_| TreeUnknown::Lags { bytes: 0 })?;
        }
        Ok((range.size() > 0).then(|| TreeHead {
            size: range.size(),
            root: range.root(),
            origin: TreeOrigin::of(&record0),
        }))
    }

    /// Writes the edge file as it stands and ends the thread.
    pub(crate) fn stop(mut self) -> Result<(), TreeUnknown> {
        let result = {
            let mut inbox = self.shared.lock();
            inbox.stop = true;
            self.shared.wake(&mut inbox);
            while inbox.stopped.is_none() && !inbox.gone {
                inbox = self.shared.wait_done(inbox);
            }
            inbox.stopped.unwrap_or(Err(LOST))
        };
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        result
    }
}

impl Drop for TreeWorker {
    /// A worker dropped without [`stop`](TreeWorker::stop) (the tree became
    /// unknown): its thread ends without writing the edge again.
    fn drop(&mut self) {
        let mut inbox = self.shared.lock();
        inbox.quit = true;
        self.shared.wake(&mut inbox);
    }
}

/// Marks the thread gone when it ends, however it ends, so that no
/// appender waits for it forever.
struct Gone<'a>(&'a Shared);

impl Drop for Gone<'_> {
    fn drop(&mut self) {
        self.0.lock().gone = true;
        self.0.done.notify_all();
    }
}

/// The tree's thread: takes every pending batch at once when work is due,
/// hashes them in, answers the tree heads asked for meanwhile; the first
/// failure is kept and answered from then on.
fn work(mut tree: WriterTree, shared: &Shared) {
    let _gone = Gone(shared);
    let mut taken = Leaves::default();
    let mut failed = None;
    loop {
        let (asked, stop) = {
            let mut inbox = shared.lock();
            while !inbox.due() {
                inbox.sleeping = true;
                inbox = shared
                    .work
                    .wait(inbox)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            inbox.sleeping = false;
            if inbox.quit {
                return;
            }
            std::mem::swap(&mut inbox.leaves, &mut taken);
            inbox.taken_end = inbox.handed_end;
            if inbox.full {
                inbox.full = false;
                shared.done.notify_all();
            }
            (inbox.asked, inbox.stop)
        };
        if failed.is_none() {
            failed = tree.take(&taken).err();
        }
        taken.clear();
        if stop {
            let result = match failed {
                Some(e) => Err(e),
                None => tree.persist(),
            };
            shared.lock().stopped = Some(result);
            shared.done.notify_all();
            return;
        }
        let mut inbox = shared.lock();
        if inbox.answered != asked {
            inbox.answer = match failed {
                Some(e) => Err(e),
                None => Ok((tree.range, tree.record0)),
            };
            inbox.answered = asked;
            shared.done.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_dropped_without_stop_ends_its_thread() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("a.log");
        std::fs::write(&log, b"").unwrap();
        let tree = WriterTree::restore(&log, 0, None, false).unwrap();
        let worker = TreeWorker::start(tree).unwrap();
        let shared = Arc::clone(&worker.shared);
        drop(worker);
        // The thread marks itself gone as it ends (a hang here is the bug).
        let mut inbox = shared.lock();
        while !inbox.gone {
            inbox = shared.wait_done(inbox);
        }
        assert_eq!(inbox.stopped, None, "ended without writing the edge");
    }
}
