//! The tree side file: every hash of a log's Merkle tree, so a root or a
//! proof costs O(log n) reads, not a pass over the log.
//!
//! `<log>.tree` (e.g. `app.log.tree`) beside the log:
//!
//! ```text
//!   0            256          512
//!   +------------+------------+-------------------------------------------+
//!   | slot A     | slot B     | hashes, 32 bytes each, in Go tlog's         |
//!   | (commit)   | (commit)   | StoredHashIndex order: leaf 0, leaf 1,      |
//!   |            |            | node(1,0), leaf 2, leaf 3, node(1,1),       |
//!   |            |            | node(2,0), ...  (2n - popcount(n) hashes)  |
//!   +------------+------------+-------------------------------------------+
//!
//!   slot: "ILTREE1\n" | generation u64 | size u64 | log_end u64 |
//!         last_start u64 | keyed u64 | origin (32) | last_stated (32) |
//!         root (32) | SHA-256 of the 144 bytes before (32)      (all BE)
//! ```
//!
//! A leaf hash is `SHA-256(0x00 ‖ digest of the record's block_json)`;
//! `node(l, i)` is the root of leaves `i·2^l .. (i+1)·2^l`.
//!
//! **Crash safety.** New hashes are written after the committed ones and
//! synced; only then is the slot not holding the newest commit overwritten
//! (generation + 1) and synced. Opening takes the valid slot (magic and
//! checksum) with the highest generation and cuts off any hash after its
//! `size` (written, never committed). A torn slot write leaves the other
//! slot, an older but true commit.
//!
//! **Staleness.** At open the commit is checked against the log: the log's
//! record 0 states `origin`; the bytes `last_start..log_end` of the log are
//! one record, stating `last_stated`, whose leaf hash is the stored leaf
//! `size - 1`; the right edge read from the file folds to `root`. Each
//! record's `prev_hash` commits to the one before (the hash chain), so the
//! last record standing where it stood means the records before it are the
//! ones the tree was built from. Anything else (another log, a log cut back
//! and rewritten, a damaged file) and the file is rebuilt from the log, and
//! [`TreeFile::rebuilt`] says why. Records are appended to the tree only
//! after they pass the checks of `log_leaves` (linked, plain hashes right),
//! so the tree stops at a failing record ([`TreeFile::stopped`]).
//!
//! The side file is a cache for proofs, not a witness: `verify --checkpoint`
//! recomputes the root from the log itself.
//!
//! (Over 450 lines: the file's format, its commit protocol and its checks
//! against the log are one job, and split apart would each need the others'
//! invariants; a quarter of it is unit tests.)

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::log_leaves::{After, Leaf, LeafError, LeafReader};
use crate::merkle::{
    consistency_proof, inclusion_proof, leaf_hash, node_hash, subtree_root, CompactRange,
    LeafSource, ProveError, EMPTY_ROOT, MAX_CONSISTENCY_PROOF_LEN, MAX_INCLUSION_PROOF_LEN,
};
use crate::{Failure, Hash, Record};

const MAGIC: &[u8; 8] = b"ILTREE1\n";
const SLOT_LEN: u64 = 256;
const SLOT_FIELDS: usize = 8 * 6 + 32 * 3;
const HASHES_AT: u64 = 2 * SLOT_LEN;
/// Hashes kept in memory before they are written and committed.
const FLUSH_EVERY: usize = 1 << 16;

/// Where a side file operation failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum TreeStep {
    /// Opening the log.
    OpenLog,
    /// Reading the log.
    ReadLog,
    /// Opening or locking the side file.
    OpenTree,
    /// Reading the side file.
    ReadTree,
    /// Writing, syncing or cutting the side file.
    WriteTree,
}

impl fmt::Display for TreeStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TreeStep::OpenLog => "opening the log",
            TreeStep::ReadLog => "reading the log",
            TreeStep::OpenTree => "opening the tree file",
            TreeStep::ReadTree => "reading the tree file",
            TreeStep::WriteTree => "writing the tree file",
        })
    }
}

/// A stored hash could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// Reading the side file failed.
    Read(io::Error),
    /// The hash is not in the tree (past its size).
    Missing {
        /// Its level (0: a leaf).
        level: u8,
        /// Its index on that level.
        index: u64,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Read(e) => write!(f, "reading the tree file: {e}"),
            StoreError::Missing { level, index } => {
                write!(f, "hash {index} of level {level} is past the tree's size")
            }
        }
    }
}

/// What a tree of a log file could not give.
#[derive(Debug)]
#[non_exhaustive]
pub enum TreeError {
    /// Reading or writing a file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        step: TreeStep,
        /// The error.
        source: io::Error,
    },
    /// A tree of `size` records was asked for, and the log has fewer
    /// complete records that pass (`records`; `stopped`: the record that
    /// failed, if one did).
    SizePastLog {
        /// The log.
        path: PathBuf,
        /// The size asked for.
        size: u64,
        /// The records the tree covers.
        records: u64,
        /// Why the tree stops there, when a record fails.
        stopped: Option<Box<Failure>>,
    },
    /// A proof cannot be made for these sizes or this index, or a hash could
    /// not be read.
    Prove {
        /// The log.
        path: PathBuf,
        /// What is wrong.
        error: ProveError<StoreError>,
    },
}

impl fmt::Display for TreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TreeError::Io { path, step, source } => {
                write!(f, "{}: {step}: {source}", path.display())
            }
            TreeError::SizePastLog {
                path,
                size,
                records,
                stopped,
            } => {
                write!(
                    f,
                    "{}: a tree of {size} records was asked for; the log has {records}",
                    path.display()
                )?;
                match stopped {
                    Some(failure) => write!(f, " that pass, then {failure}"),
                    None => f.write_str(" (cut below the checkpoint, or another log)"),
                }
            }
            TreeError::Prove { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for TreeError {}

/// Why the side file was set aside and rebuilt from the log at open.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Rebuilt {
    /// Neither slot holds a commit (a torn first commit, or not a tree file).
    NoCommit,
    /// The log's record 0 is not the one the tree was built for: another log.
    OtherLog,
    /// The log no longer has the tree's last record where it stood (cut
    /// back, rewritten, or replaced).
    LogChanged,
    /// The file is shorter than its commit's hashes (damaged).
    Short,
    /// The stored right edge does not fold to the committed root (damaged).
    RootMismatch,
}

impl fmt::Display for Rebuilt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rebuilt::NoCommit => "it held no valid commit",
            Rebuilt::OtherLog => "it was built for another log",
            Rebuilt::LogChanged => "the log no longer holds its last record where it stood",
            Rebuilt::Short => "it was shorter than its hashes",
            Rebuilt::RootMismatch => "its hashes did not give its committed root",
        })
    }
}

/// One commit: the state of the tree the hashes before it describe.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Slot {
    generation: u64,
    size: u64,
    log_end: u64,
    last_start: u64,
    keyed: bool,
    origin: Hash,
    last_stated: Hash,
    root: Hash,
}

impl Slot {
    fn encode(&self) -> [u8; SLOT_LEN as usize] {
        let mut out = [0u8; SLOT_LEN as usize];
        let mut fields = [0u8; SLOT_FIELDS];
        let words = [
            self.generation,
            self.size,
            self.log_end,
            self.last_start,
            u64::from(self.keyed),
        ];
        fields[..8].copy_from_slice(MAGIC);
        for (chunk, word) in fields[8..48].chunks_exact_mut(8).zip(words) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        for (chunk, hash) in
            fields[48..]
                .chunks_exact_mut(32)
                .zip([self.origin, self.last_stated, self.root])
        {
            chunk.copy_from_slice(hash.as_bytes());
        }
        out[..SLOT_FIELDS].copy_from_slice(&fields);
        out[SLOT_FIELDS..SLOT_FIELDS + 32].copy_from_slice(&Sha256::digest(fields));
        out
    }

    fn decode(bytes: &[u8]) -> Option<Slot> {
        let fields = bytes.get(..SLOT_FIELDS)?;
        let sum = bytes.get(SLOT_FIELDS..SLOT_FIELDS + 32)?;
        if fields.get(..8)? != MAGIC || Sha256::digest(fields).as_slice() != sum {
            return None;
        }
        let word = |i: usize| -> Option<u64> {
            Some(u64::from_be_bytes(
                fields.get(8 + 8 * i..16 + 8 * i)?.try_into().ok()?,
            ))
        };
        let hash = |i: usize| -> Option<Hash> {
            Some(Hash::from_bytes(
                fields.get(48 + 32 * i..80 + 32 * i)?.try_into().ok()?,
            ))
        };
        Some(Slot {
            generation: word(0)?,
            size: word(1)?,
            log_end: word(2)?,
            last_start: word(3)?,
            keyed: word(4)? == 1,
            origin: hash(0)?,
            last_stated: hash(1)?,
            root: hash(2)?,
        })
    }
}

/// Go tlog's `StoredHashIndex`: where hash `n` of `level` stands among the
/// stored hashes.
pub fn stored_hash_index(level: u8, n: u64) -> u64 {
    let mut n = n;
    for _ in 0..level {
        n = n.wrapping_mul(2).wrapping_add(1);
    }
    let mut i = 0u64;
    while n > 0 {
        i = i.wrapping_add(n);
        n >>= 1;
    }
    i.wrapping_add(u64::from(level))
}

/// Go tlog's `StoredHashCount`: the hashes stored for a tree of `n` leaves.
pub fn stored_hash_count(n: u64) -> u64 {
    match n.checked_sub(1) {
        None => 0,
        Some(last) => stored_hash_index(0, last) + 1 + u64::from(last.trailing_ones()),
    }
}

/// Where the hashes live: the side file, or memory when it cannot be
/// written (a read-only directory).
#[derive(Debug)]
enum Store {
    File(File),
    Memory(Vec<Hash>),
}

/// A log's Merkle tree, kept in its side file (see the module docs).
#[derive(Debug)]
pub struct TreeFile {
    log: PathBuf,
    path: PathBuf,
    store: Store,
    commit: Option<Slot>,
    /// The right edge at `commit.size`, by level.
    edge: [Hash; 64],
    stopped: Option<Failure>,
    rebuilt: Option<Rebuilt>,
}

/// The side file's path for a log: `<log>.tree`.
pub fn tree_path(log: &Path) -> PathBuf {
    let mut name = log.as_os_str().to_os_string();
    name.push(".tree");
    PathBuf::from(name)
}

impl TreeFile {
    /// Opens the tree of the log at `log` from its side file `<log>.tree`
    /// (created, or rebuilt, as needed) and brings it up to the log's last
    /// complete record. When the side file cannot be created or written,
    /// the tree is built in memory.
    pub fn open(log: impl AsRef<Path>) -> Result<Self, TreeError> {
        let log = log.as_ref();
        Self::open_at(log, &tree_path(log))
    }

    /// [`open`](Self::open), with the side file at `tree`.
    pub fn open_at(log: &Path, tree: &Path) -> Result<Self, TreeError> {
        let io_err = |path: &Path, step| {
            let path = path.to_path_buf();
            move |source| TreeError::Io { path, step, source }
        };
        let mut log_file = File::open(log).map_err(io_err(log, TreeStep::OpenLog))?;
        // No side file for a file whose first record does not read (empty,
        // not a log): the tree is empty, or stops at once.
        let first_reads = matches!(
            LeafReader::new(&mut log_file, After::START)
                .map_err(io_err(log, TreeStep::ReadLog))?
                .next_leaf(),
            Ok(Some(_))
        );
        let exists = std::fs::symlink_metadata(tree).is_ok();
        let store = if first_reads || exists {
            open_store(tree)?
        } else {
            Store::Memory(Vec::new())
        };
        let mut tree = TreeFile {
            log: log.to_path_buf(),
            path: tree.to_path_buf(),
            store,
            commit: None,
            edge: [Hash::GENESIS; 64],
            stopped: None,
            rebuilt: None,
        };
        tree.load(&mut log_file)?;
        tree.extend(&mut log_file)?;
        Ok(tree)
    }

    /// The records the tree covers: the log's complete records, up to the
    /// first that fails.
    pub fn size(&self) -> u64 {
        self.commit.map_or(0, |c| c.size)
    }

    /// The hash record 0 states (the log's identity), if it has one.
    pub fn origin(&self) -> Option<Hash> {
        self.commit.map(|c| c.origin)
    }

    /// The hash the last record covered states.
    pub fn last_hash(&self) -> Option<Hash> {
        self.commit.map(|c| c.last_stated)
    }

    /// The record the tree stops before, when one fails.
    pub fn stopped(&self) -> Option<&Failure> {
        self.stopped.as_ref()
    }

    /// Why the side file was rebuilt at open, if it was.
    pub fn rebuilt(&self) -> Option<Rebuilt> {
        self.rebuilt
    }

    /// Whether the hashes are kept in memory (the side file could not be
    /// written).
    pub fn in_memory(&self) -> bool {
        matches!(self.store, Store::Memory(_))
    }

    /// The side file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The root of the tree of the first `size` records.
    pub fn root(&self, size: u64) -> Result<Hash, TreeError> {
        self.check_size(size)?;
        if size == 0 {
            return Ok(EMPTY_ROOT);
        }
        subtree_root(0, size, self.source()).map_err(|error| self.prove_error(error))
    }

    /// The inclusion proof of record `index` in the tree of `size` records.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, TreeError> {
        let mut out = [Hash::GENESIS; MAX_INCLUSION_PROOF_LEN];
        if size <= self.size() {
            let n = inclusion_proof(index, size, self.source(), &mut out)
                .map_err(|error| self.prove_error(error))?;
            return Ok(out.get(..n).unwrap_or_default().to_vec());
        }
        // Past the log: a bad index or size is named first, as it would be.
        let probe = inclusion_proof(index, size, &[][..], &mut []);
        if let Err(e @ (ProveError::EmptyTree | ProveError::IndexOutOfRange { .. })) = probe {
            return Err(self.prove_error(relabel(e)));
        }
        Err(self.past_log(size))
    }

    /// The consistency proof from the tree of `first` records to the tree
    /// of `second`.
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, TreeError> {
        let mut out = [Hash::GENESIS; MAX_CONSISTENCY_PROOF_LEN];
        if second <= self.size() || first > second || first == 0 {
            let n = consistency_proof(first, second, self.source(), &mut out)
                .map_err(|error| self.prove_error(error))?;
            return Ok(out.get(..n).unwrap_or_default().to_vec());
        }
        Err(self.past_log(second))
    }

    fn check_size(&self, size: u64) -> Result<(), TreeError> {
        if size > self.size() {
            return Err(self.past_log(size));
        }
        Ok(())
    }

    fn past_log(&self, size: u64) -> TreeError {
        TreeError::SizePastLog {
            path: self.log.clone(),
            size,
            records: self.size(),
            stopped: self.stopped.map(Box::new),
        }
    }

    fn prove_error(&self, error: ProveError<StoreError>) -> TreeError {
        TreeError::Prove {
            path: self.log.clone(),
            error,
        }
    }

    fn source(&self) -> Source<'_> {
        Source { tree: self }
    }

    /// Reads stored hash `index`.
    fn read_hash(&self, index: u64) -> io::Result<Hash> {
        match &self.store {
            Store::File(file) => {
                let mut bytes = [0u8; 32];
                let at = index
                    .checked_mul(32)
                    .and_then(|o| o.checked_add(HASHES_AT))
                    .ok_or(io::ErrorKind::InvalidInput)?;
                read_at(file, &mut bytes, at)?;
                Ok(Hash::from_bytes(bytes))
            }
            Store::Memory(hashes) => usize::try_from(index)
                .ok()
                .and_then(|i| hashes.get(i))
                .copied()
                .ok_or_else(|| io::ErrorKind::UnexpectedEof.into()),
        }
    }

    /// Reads the newest valid commit and checks it against the log; cuts
    /// off uncommitted hashes. Anything wrong and the tree starts empty.
    fn load(&mut self, log: &mut File) -> Result<(), TreeError> {
        let Store::File(file) = &self.store else {
            return Ok(());
        };
        let len = file
            .metadata()
            .map_err(|e| self.io(TreeStep::ReadTree, e))?
            .len();
        let mut slots = [0u8; 2 * SLOT_LEN as usize];
        let read = (len >= HASHES_AT)
            .then(|| read_at(file, &mut slots, 0))
            .transpose()
            .map_err(|e| self.io(TreeStep::ReadTree, e))?;
        let best = read.and_then(|()| {
            let (a, b) = slots.split_at(SLOT_LEN as usize);
            match (Slot::decode(a), Slot::decode(b)) {
                (Some(a), Some(b)) => Some(if a.generation >= b.generation { a } else { b }),
                (a, b) => a.or(b),
            }
        });
        let verdict = match best {
            None if len == 0 => return Ok(()),
            None => Err(Rebuilt::NoCommit),
            Some(slot) => self.check_commit(slot, len, log)?,
        };
        match verdict {
            Ok(slot) => {
                let keep = HASHES_AT + 32 * stored_hash_count(slot.size);
                if len > keep {
                    self.set_len(keep)?;
                }
                self.commit = Some(slot);
            }
            Err(reason) => {
                self.rebuilt = Some(reason);
                self.set_len(0)?;
            }
        }
        Ok(())
    }

    /// A commit against the file's length and the log (module docs).
    fn check_commit(
        &mut self,
        slot: Slot,
        len: u64,
        log: &mut File,
    ) -> Result<Result<Slot, Rebuilt>, TreeError> {
        let Some(needed) = stored_hash_count(slot.size)
            .checked_mul(32)
            .and_then(|n| n.checked_add(HASHES_AT))
        else {
            return Ok(Err(Rebuilt::Short));
        };
        if len < needed || slot.size == 0 {
            return Ok(Err(Rebuilt::Short));
        }
        let mut reader =
            LeafReader::new(log, After::START).map_err(|e| self.log_io(TreeStep::ReadLog, e))?;
        match reader.next_leaf() {
            Ok(Some(first)) if first.stated == slot.origin => {}
            Ok(_) | Err(LeafError::Record(_)) => return Ok(Err(Rebuilt::OtherLog)),
            Err(LeafError::Io(e)) => return Err(self.log_io(TreeStep::ReadLog, e)),
        }
        let Some(record_len) = slot
            .log_end
            .checked_sub(slot.last_start)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= 2 * super::MAX_RECORD)
        else {
            return Ok(Err(Rebuilt::LogChanged));
        };
        let mut bytes = vec![0u8; record_len];
        match read_at(log, &mut bytes, slot.last_start) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Ok(Err(Rebuilt::LogChanged))
            }
            Err(e) => return Err(self.log_io(TreeStep::ReadLog, e)),
        }
        let last_leaf = self
            .read_hash(stored_hash_index(0, slot.size - 1))
            .map_err(|e| self.io(TreeStep::ReadTree, e))?;
        let same = match Record::read(&bytes) {
            Some(Ok((record, rest))) => {
                rest.is_empty()
                    && record.hash() == slot.last_stated
                    && leaf_hash(&record.digest()) == last_leaf
                    && record.seq().is_none_or(|s| s == slot.size - 1)
            }
            _ => false,
        };
        if !same {
            return Ok(Err(Rebuilt::LogChanged));
        }
        let range = CompactRange::from_source(slot.size, Source { tree: self });
        match range {
            Ok(range) if range.root() == slot.root => {
                self.edge = edge_of(&range);
                Ok(Ok(slot))
            }
            Ok(_) => Ok(Err(Rebuilt::RootMismatch)),
            Err(ProveError::Source {
                error: StoreError::Read(e),
                ..
            }) => Err(self.io(TreeStep::ReadTree, e)),
            Err(_) => Ok(Err(Rebuilt::Short)),
        }
    }

    /// Appends the log's records after the commit, committing every
    /// [`FLUSH_EVERY`] hashes and at the end.
    fn extend(&mut self, log: &mut File) -> Result<(), TreeError> {
        let after = match self.commit {
            Some(c) => After {
                offset: c.log_end,
                index: c.size,
                prev: c.last_stated,
                keyed: c.keyed,
            },
            None => After::START,
        };
        let mut reader =
            LeafReader::new(log, after).map_err(|e| self.log_io(TreeStep::ReadLog, e))?;
        let mut pending: Vec<Hash> = Vec::new();
        let mut state = self.commit;
        loop {
            match reader.next_leaf() {
                Ok(Some(leaf)) => {
                    let keyed = reader.after().keyed;
                    state = Some(self.push(state, &leaf, keyed, &mut pending));
                    if pending.len() >= FLUSH_EVERY {
                        self.flush(state, &mut pending)?;
                    }
                }
                Ok(None) => break,
                Err(LeafError::Record(failure)) => {
                    self.stopped = Some(failure);
                    break;
                }
                Err(LeafError::Io(e)) => return Err(self.log_io(TreeStep::ReadLog, e)),
            }
        }
        self.flush(state, &mut pending)
    }

    /// Adds one leaf to the right edge; queues its stored hashes.
    fn push(
        &mut self,
        state: Option<Slot>,
        leaf: &Leaf,
        keyed: bool,
        pending: &mut Vec<Hash>,
    ) -> Slot {
        let n = leaf.index;
        let mut carried = leaf_hash(&leaf.digest);
        pending.push(carried);
        let carries = n.trailing_ones() as usize;
        for left in self.edge.iter_mut().take(carries) {
            carried = node_hash(left, &carried);
            *left = Hash::GENESIS;
            pending.push(carried);
        }
        if let Some(slot) = self.edge.get_mut(carries) {
            *slot = carried;
        }
        let size = n + 1;
        Slot {
            generation: state.map_or(0, |s| s.generation),
            size,
            log_end: leaf.end,
            last_start: leaf.start,
            keyed,
            origin: state.map_or(leaf.stated, |s| s.origin),
            last_stated: leaf.stated,
            root: fold(&self.edge, size),
        }
    }

    /// Writes the queued hashes after the committed ones, syncs, then
    /// commits `state` in the older slot and syncs.
    fn flush(&mut self, state: Option<Slot>, pending: &mut Vec<Hash>) -> Result<(), TreeError> {
        let (Some(mut slot), false) = (state, pending.is_empty()) else {
            return Ok(());
        };
        let first = stored_hash_count(self.size());
        slot.generation = self.commit.map_or(1, |c| c.generation + 1);
        match &mut self.store {
            Store::Memory(hashes) => hashes.extend(pending.iter()),
            Store::File(file) => {
                let bytes: Vec<u8> = pending.iter().flat_map(|h| *h.as_bytes()).collect();
                let at = HASHES_AT + 32 * first;
                let slot_at = SLOT_LEN * (slot.generation % 2);
                let written = write_at(file, &bytes, at)
                    .and_then(|()| file.sync_data())
                    .and_then(|()| write_at(file, &slot.encode(), slot_at))
                    .and_then(|()| file.sync_data());
                if let Err(e) = written {
                    return Err(TreeError::Io {
                        path: self.path.clone(),
                        step: TreeStep::WriteTree,
                        source: e,
                    });
                }
            }
        }
        pending.clear();
        self.commit = Some(slot);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), TreeError> {
        if let Store::File(file) = &self.store {
            file.set_len(len)
                .map_err(|e| self.io(TreeStep::WriteTree, e))?;
        }
        Ok(())
    }

    fn io(&self, step: TreeStep, source: io::Error) -> TreeError {
        TreeError::Io {
            path: self.path.clone(),
            step,
            source,
        }
    }

    fn log_io(&self, step: TreeStep, source: io::Error) -> TreeError {
        TreeError::Io {
            path: self.log.clone(),
            step,
            source,
        }
    }
}

/// Opens (creating) and locks the side file; memory when it cannot be
/// written.
fn open_store(tree: &Path) -> Result<Store, TreeError> {
    let fail = |source| TreeError::Io {
        path: tree.to_path_buf(),
        step: TreeStep::OpenTree,
        source,
    };
    let opened = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(tree);
    match opened {
        Ok(file) => {
            file.lock().map_err(fail)?;
            Ok(Store::File(file))
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            Ok(Store::Memory(Vec::new()))
        }
        Err(e) => Err(fail(e)),
    }
}

/// Reads exactly `buf.len()` bytes at `offset` (no shared cursor on unix).
pub(super) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = file;
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(buf)
    }
}

/// Writes all of `buf` at `offset`.
pub(super) fn write_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
    }
    #[cfg(not(unix))]
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut file = file;
        file.seek(SeekFrom::Start(offset))?;
        file.write_all(buf)
    }
}

/// A proof error about sizes, from a probe whose source has no hashes.
fn relabel(error: ProveError<crate::merkle::MissingLeaf>) -> ProveError<StoreError> {
    match error {
        ProveError::EmptyTree => ProveError::EmptyTree,
        ProveError::IndexOutOfRange { index, size } => ProveError::IndexOutOfRange { index, size },
        _ => ProveError::EmptyTree,
    }
}

/// The edge by level from a range (one subtree root per set bit of its size).
fn edge_of(range: &CompactRange) -> [Hash; 64] {
    let mut edge = [Hash::GENESIS; 64];
    let size = range.size();
    let levels = (0..64usize).rev().filter(|l| size >> l & 1 == 1);
    for (level, hash) in levels.zip(range.hashes()) {
        if let Some(slot) = edge.get_mut(level) {
            *slot = *hash;
        }
    }
    edge
}

/// The root of a tree of `size` leaves from its edge by level.
fn fold(edge: &[Hash; 64], size: u64) -> Hash {
    let mut root: Option<Hash> = None;
    for (level, hash) in edge.iter().enumerate() {
        if size >> level & 1 == 1 {
            root = Some(match root {
                None => *hash,
                Some(right) => node_hash(hash, &right),
            });
        }
    }
    root.unwrap_or(EMPTY_ROOT)
}

/// The tree's hashes as a [`LeafSource`]: leaves and whole subtrees.
struct Source<'a> {
    tree: &'a TreeFile,
}

impl Source<'_> {
    fn size(&self) -> u64 {
        // During a check at open, before the commit is taken, the slot
        // being checked is not yet `commit`: every stored hash is readable.
        self.tree.commit.map_or(u64::MAX, |c| c.size)
    }
}

impl LeafSource for Source<'_> {
    type Error = StoreError;

    fn leaf(&mut self, index: u64) -> Result<Hash, StoreError> {
        if index >= self.size() {
            return Err(StoreError::Missing { level: 0, index });
        }
        self.tree
            .read_hash(stored_hash_index(0, index))
            .map_err(StoreError::Read)
    }

    fn node(&mut self, level: u8, index: u64) -> Result<Option<Hash>, StoreError> {
        let complete = index
            .checked_add(1)
            .and_then(|n| n.checked_mul(1u64.checked_shl(u32::from(level))?))
            .is_some_and(|end| end <= self.size());
        if !complete {
            return Ok(None);
        }
        self.tree
            .read_hash(stored_hash_index(level, index))
            .map(Some)
            .map_err(StoreError::Read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::verify_inclusion;
    use crate::std_backend::LogFile;
    use crate::Level;

    fn write(path: &Path, from: usize, n: usize) {
        let log = LogFile::open(path).unwrap();
        for i in from..from + n {
            log.append(Level::Info, format_args!("record {i}")).unwrap();
        }
        log.close().unwrap();
    }

    /// Leaf hashes of a log, read the plain way.
    fn leaves(path: &Path) -> Vec<Hash> {
        let bytes = std::fs::read(path).unwrap();
        crate::records(&bytes)
            .map(|r| leaf_hash(&r.unwrap().digest()))
            .collect()
    }

    fn root_of(leaves: &[Hash]) -> Hash {
        let mut range = CompactRange::new();
        for l in leaves {
            range.push(*l).unwrap();
        }
        range.root()
    }

    #[test]
    fn go_stored_hash_layout() {
        // Go tlog: leaf 0, leaf 1, node(1,0), leaf 2, leaf 3, node(1,1), node(2,0), leaf 4.
        let order = [
            (0, 0),
            (0, 1),
            (1, 0),
            (0, 2),
            (0, 3),
            (1, 1),
            (2, 0),
            (0, 4),
        ];
        for (i, (level, n)) in order.into_iter().enumerate() {
            assert_eq!(stored_hash_index(level, n), i as u64);
        }
        for (n, count) in [(0, 0), (1, 1), (2, 3), (3, 4), (4, 7), (5, 8), (8, 15)] {
            assert_eq!(stored_hash_count(n), count);
        }
    }

    #[test]
    fn roots_and_proofs_match_the_log_as_it_grows() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("a.log");
        write(&log, 0, 13);
        let tree = TreeFile::open(&log).unwrap();
        assert_eq!((tree.size(), tree.rebuilt()), (13, None));
        drop(tree);
        write(&log, 13, 20);
        let tree = TreeFile::open(&log).unwrap();
        assert_eq!((tree.size(), tree.rebuilt()), (33, None));
        let all = leaves(&log);
        for size in 1..=33u64 {
            let root = root_of(&all[..size as usize]);
            assert_eq!(tree.root(size).unwrap(), root, "size {size}");
            for index in [0, size / 2, size - 1] {
                let proof = tree.inclusion_proof(index, size).unwrap();
                verify_inclusion(index, size, &all[index as usize], &proof, &root).unwrap();
            }
        }
        // The file is exactly the hashes of 33 leaves after the slots.
        let len = std::fs::metadata(tree_path(&log)).unwrap().len();
        assert_eq!(len, HASHES_AT + 32 * stored_hash_count(33));
        // A tree built in one go is byte-identical to one grown in two.
        let copy = dir.path().join("b.log");
        std::fs::copy(&log, &copy).unwrap();
        drop(TreeFile::open(&copy).unwrap());
        let a = std::fs::read(tree_path(&log)).unwrap();
        let b = std::fs::read(tree_path(&copy)).unwrap();
        assert_eq!(a[HASHES_AT as usize..], b[HASHES_AT as usize..]);
    }

    #[test]
    fn uncommitted_hashes_are_cut_and_a_torn_slot_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("a.log");
        write(&log, 0, 5);
        drop(TreeFile::open(&log).unwrap());
        write(&log, 5, 4);
        drop(TreeFile::open(&log).unwrap());
        let side = tree_path(&log);
        let good = std::fs::read(&side).unwrap();
        // Hashes written but never committed (a crash before the slot).
        let mut more = good.clone();
        more.extend_from_slice(&[0xee; 96]);
        std::fs::write(&side, &more).unwrap();
        let tree = TreeFile::open(&log).unwrap();
        assert_eq!((tree.size(), tree.rebuilt()), (9, None));
        drop(tree);
        assert_eq!(std::fs::read(&side).unwrap(), good);
        // The newest slot torn (generation 2 is in slot 0): the older commit
        // (5 records) is taken, and the tree grows back to 9.
        let mut torn = good.clone();
        torn[100] ^= 1;
        std::fs::write(&side, &torn).unwrap();
        let tree = TreeFile::open(&log).unwrap();
        assert_eq!((tree.size(), tree.rebuilt()), (9, None));
        assert_eq!(tree.root(9).unwrap(), root_of(&leaves(&log)));
        // Both slots gone: rebuilt.
        let mut none = good.clone();
        none[..HASHES_AT as usize].fill(0);
        drop(tree);
        std::fs::write(&side, &none).unwrap();
        let tree = TreeFile::open(&log).unwrap();
        assert_eq!((tree.size(), tree.rebuilt()), (9, Some(Rebuilt::NoCommit)));
        // A hash of the right edge damaged: rebuilt.
        drop(tree);
        let mut bad = good.clone();
        let at = (HASHES_AT + 32 * stored_hash_index(3, 0)) as usize;
        bad[at] ^= 1;
        std::fs::write(&side, &bad).unwrap();
        let tree = TreeFile::open(&log).unwrap();
        assert_eq!(tree.rebuilt(), Some(Rebuilt::RootMismatch));
        assert_eq!(tree.root(9).unwrap(), root_of(&leaves(&log)));
        // Cut short inside its hashes: rebuilt.
        drop(tree);
        std::fs::write(&side, &good[..good.len() - 10]).unwrap();
        let tree = TreeFile::open(&log).unwrap();
        assert_eq!(tree.rebuilt(), Some(Rebuilt::Short));
    }

    #[test]
    fn another_log_or_a_rewritten_one_rebuilds() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("a.log");
        write(&log, 0, 6);
        drop(TreeFile::open(&log).unwrap());
        // Cut back to 3 records and 4 others appended: same length class,
        // another last record.
        let text = std::fs::read_to_string(&log).unwrap();
        let cut: String = text.lines().take(6).map(|l| format!("{l}\n")).collect();
        std::fs::write(&log, cut).unwrap();
        write(&log, 100, 4);
        let tree = TreeFile::open(&log).unwrap();
        assert_eq!(
            (tree.size(), tree.rebuilt()),
            (7, Some(Rebuilt::LogChanged))
        );
        assert_eq!(tree.root(7).unwrap(), root_of(&leaves(&log)));
        drop(tree);
        // Replaced by another log.
        std::fs::remove_file(&log).unwrap();
        write(&log, 50, 8);
        let tree = TreeFile::open(&log).unwrap();
        assert_eq!((tree.size(), tree.rebuilt()), (8, Some(Rebuilt::OtherLog)));
        drop(tree);
        // Cut back only: the last record is gone.
        let text = std::fs::read_to_string(&log).unwrap();
        let cut: String = text.lines().take(4).map(|l| format!("{l}\n")).collect();
        std::fs::write(&log, cut).unwrap();
        let tree = TreeFile::open(&log).unwrap();
        assert_eq!(
            (tree.size(), tree.rebuilt()),
            (2, Some(Rebuilt::LogChanged))
        );
    }

    #[test]
    fn a_failing_record_stops_the_tree_and_sizes_past_it_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("a.log");
        write(&log, 0, 6);
        let text = std::fs::read_to_string(&log).unwrap();
        std::fs::write(&log, text.replacen("record 4", "record X", 2)).unwrap();
        let tree = TreeFile::open(&log).unwrap();
        assert_eq!(tree.size(), 4);
        assert_eq!(tree.stopped().map(|f| (f.line, f.record)), Some((9, 4)));
        let err = tree.root(5).unwrap_err();
        assert!(matches!(
            err,
            TreeError::SizePastLog {
                size: 5,
                records: 4,
                stopped: Some(_),
                ..
            }
        ));
        assert!(
            err.to_string().contains("hash mismatch") || err.to_string().contains("line 9"),
            "{err}"
        );
        assert!(matches!(
            tree.inclusion_proof(7, 7),
            Err(TreeError::Prove {
                error: ProveError::IndexOutOfRange { index: 7, size: 7 },
                ..
            })
        ));
        assert!(matches!(
            tree.inclusion_proof(0, 0),
            Err(TreeError::Prove {
                error: ProveError::EmptyTree,
                ..
            })
        ));
        assert!(matches!(
            tree.inclusion_proof(2, 9),
            Err(TreeError::SizePastLog { .. })
        ));
        assert!(matches!(
            tree.consistency_proof(0, 3),
            Err(TreeError::Prove {
                error: ProveError::FirstTreeEmpty,
                ..
            })
        ));
        assert!(matches!(
            tree.consistency_proof(3, 2),
            Err(TreeError::Prove {
                error: ProveError::SizesReversed { .. },
                ..
            })
        ));
        assert!(matches!(
            tree.consistency_proof(2, 5),
            Err(TreeError::SizePastLog { .. })
        ));
        assert_eq!(tree.consistency_proof(4, 4).unwrap(), Vec::<Hash>::new());
    }

    #[test]
    fn an_empty_log_has_the_empty_root() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("a.log");
        std::fs::write(&log, "").unwrap();
        let tree = TreeFile::open(&log).unwrap();
        assert_eq!(tree.size(), 0);
        assert_eq!(tree.root(0).unwrap(), EMPTY_ROOT);
        assert_eq!(tree.origin(), None);
    }
}
