//! The chain's state under the lock: the core writer (its sink is the bytes
//! staged in memory), how much of the log the file holds, and how records go
//! from memory to the file without ever leaving part of one in it.
//!
//! (Long for one job: staging, handing over in one write or a group write's batches, and taking back what a failed write leaves, with the tree leaves that follow the records; its unit tests are the last 40 lines.)

use std::convert::Infallible;
use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::recovery_fs::RecoveryFs;
use super::tree_edge::{staged_in, Staged, TreeUnknown, TreeWorker, WriterTree};
use super::{Error, Step, RECORD_CAPACITY};
use crate::Hash;
use crate::{Draft, Head, SealKey, SinkError, Timestamp, TreeHead, WriteError, Writer};

/// Where staging stood before a record, to take the record back out. For a
/// keyed chain it holds the key from before the record, until the record is
/// handed to the OS or taken back.
#[derive(Clone, Debug)]
pub(crate) struct Mark {
    bytes: usize,
    head: Option<Head>,
    seal: Option<SealKey>,
    /// The staged records' `unlogged` counts, and their waiters, up to here.
    unlogged: u64,
    waiters: u64,
    /// The staged records' tree leaves, up to here (with a tree).
    leaves: usize,
}

/// Records taken out of staging to be handed to the OS in one write, outside
/// the chain's lock (a group write): they are either written and kept
/// ([`Appender::batch_written`]) or taken back with everything staged after
/// them ([`Appender::batch_failed`]).
#[derive(Debug)]
pub(crate) struct Batch {
    /// The records' bytes, whole records only.
    pub(crate) bytes: Vec<u8>,
    /// The file they go to (the file at the time they were staged).
    pub(crate) file: Arc<File>,
    /// The newest record's ticket.
    pub(crate) last: u64,
    /// A keyed chain's key state after the batch's last record: what its key
    /// file holds once the batch is durable.
    pub(crate) seal: Option<SealKey>,
    /// The chain as it stood before the batch's first record.
    base: Mark,
    /// The batch's tree leaves (with a tree), for the tree's thread once the
    /// batch is in the file: the records' digests, and what the first and
    /// the last state.
    leaves: Vec<Hash>,
    leaves_first: Option<Hash>,
    leaves_last: Option<Hash>,
}

/// The writer and the file's length, kept together under the handler's mutex.
#[derive(Debug)]
pub(crate) struct Appender {
    /// The chain; its sink holds the records not yet handed to the OS. It is
    /// keyed when it has a seal key.
    writer: Writer<Vec<u8>, Option<SealKey>>,
    /// The file's length: every byte handed to the OS, all whole records.
    len: u64,
    /// The ticket of the newest record handed to the OS. Each record staged
    /// gets the next ticket (1, 2, 3, ...): tickets grow in file order, and a
    /// ticket taken back is never given again.
    handed: u64,
    /// The newest ticket given to a staged record.
    staged: u64,
    /// The chain as it stood before the oldest staged record (`bytes` 0):
    /// where a failed group write takes the chain back to.
    base: Mark,
    /// The `unlogged` counts of the staged records, to give back if they are
    /// taken back.
    staged_unlogged: u64,
    /// Staged records whose appenders wait for them to be handed to the OS.
    staged_waiters: u64,
    /// The buffer staging moves to when a batch takes the staged bytes.
    spare: Vec<u8>,
    /// A failure that could not be undone; nothing more is written.
    broken: Option<Step>,
    /// The tree of the file's records handed over (`keep_tree`), or why not.
    tree: Result<TreeWorker, TreeUnknown>,
    /// The leaves of the records staged (kept only with a tree): their
    /// digests, and what the first states.
    leaves: Vec<Hash>,
    leaves_first: Option<Hash>,
    /// The leaves' buffer a batch gives back, for the next batch.
    leaves_spare: Vec<Hash>,
}

impl Appender {
    /// An appender continuing after `head`, over a file of `len` bytes,
    /// sealing with `seal` (a keyed chain) or plain.
    pub(crate) fn new(head: Option<Head>, len: u64, seal: Option<SealKey>) -> Self {
        let base = Mark {
            bytes: 0,
            head,
            seal: seal.clone(),
            unlogged: 0,
            waiters: 0,
            leaves: 0,
        };
        Appender {
            writer: Writer::sealed(Vec::new(), head, seal),
            len,
            handed: 0,
            staged: 0,
            base,
            staged_unlogged: 0,
            staged_waiters: 0,
            spare: Vec::new(),
            broken: None,
            tree: Err(TreeUnknown::NotKept),
            leaves: Vec::new(),
            leaves_first: None,
            leaves_spare: Vec::new(),
        }
    }

    /// Keeps the tree of the log file's records from now on, restored from
    /// `<log>.edge` (see `tree_edge`); the records already staged join it.
    pub(crate) fn keep_tree(&mut self, log: &Path) {
        let Some((staged, first_prev)) = staged_in(self.staged()) else {
            return self.tree_stale();
        };
        let next_prev = first_prev.or(self.head().map(|h| h.hash));
        self.tree = WriterTree::restore(log, self.len, next_prev, self.seal().is_some())
            .and_then(TreeWorker::start);
        self.leaves.clear();
        self.leaves_first = None;
        self.push_leaves(&staged);
    }

    /// Leaves read back from staging join the staged ones.
    fn push_leaves(&mut self, staged: &[Staged]) {
        if let Some(first) = staged.first() {
            self.leaves_first.get_or_insert(first.stated);
        }
        self.leaves.extend(staged.iter().map(|s| s.digest));
    }

    /// The tree of every record appended (handed over or staged): `None`
    /// while the log has none.
    pub(crate) fn tree_head(&self) -> Result<Option<TreeHead>, TreeUnknown> {
        match &self.tree {
            Ok(tree) => tree.head(&self.leaves, self.leaves_first),
            Err(e) => Err(*e),
        }
    }

    /// Whether the writer keeps the tree (`keep_tree`, and it is known).
    pub(crate) fn keeps_tree(&self) -> bool {
        self.tree.is_ok()
    }

    /// Writes the tree's edge file as it stands and stops its thread (at
    /// close).
    pub(crate) fn persist_tree(&mut self) {
        let tree = std::mem::replace(&mut self.tree, Err(TreeUnknown::NotKept));
        if let Ok(tree) = tree {
            self.tree = Err(tree.stop().err().unwrap_or(TreeUnknown::NotKept));
        }
    }

    /// The ticket of the newest record staged.
    pub(crate) fn newest_staged(&self) -> u64 {
        self.staged
    }

    /// The last record appended (staged or handed over).
    pub(crate) fn head(&self) -> Option<Head> {
        self.writer.head()
    }

    /// The file's length: every byte handed to the OS.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Continues in another file of `len` bytes (a rotation's next file, or
    /// back in the old one when the rotation is undone).
    pub(crate) fn set_len(&mut self, len: u64) {
        self.len = len;
        if let Ok(tree) = std::mem::replace(&mut self.tree, Err(TreeUnknown::Rotated)) {
            // The old file's edge is written; the new file's tree is unknown.
            let _ = tree.stop();
        }
    }

    /// Bytes staged, not yet handed to the OS.
    pub(crate) fn staged_bytes(&self) -> usize {
        self.writer.sink().len()
    }

    /// The records staged, not yet handed to the OS.
    pub(crate) fn staged(&self) -> &[u8] {
        self.writer.sink()
    }

    /// A keyed chain's key state: the key for the next record.
    pub(crate) fn seal(&self) -> Option<&SealKey> {
        self.writer.seal().as_ref()
    }

    /// Stops this appender after a failure that leaves the log and what is
    /// known about it out of step (a failed sync, a key state not stored).
    pub(crate) fn set_broken(&mut self, step: Step) {
        self.broken.get_or_insert(step);
    }

    /// The failure that stopped this appender, if one did.
    pub(crate) fn broken(&self) -> Option<Step> {
        self.broken
    }

    /// Where staging stands now.
    pub(crate) fn mark(&self) -> Mark {
        Mark {
            bytes: self.staged_bytes(),
            head: self.head(),
            seal: self.writer.seal().clone(),
            unlogged: self.staged_unlogged,
            waiters: self.staged_waiters,
            leaves: self.leaves.len(),
        }
    }

    /// Seals a draft and stages it in memory; returns its head. Only its
    /// ~150-byte tail is hashed here.
    pub(crate) fn stage(
        &mut self,
        draft: &mut Draft<RECORD_CAPACITY>,
        timestamp: Timestamp,
        unlogged: u64,
    ) -> Result<Head, WriteError<Infallible>> {
        let (before, genesis) = (self.staged_bytes(), self.head().is_none());
        let head = self.writer.append_draft(draft, timestamp, unlogged)?;
        self.staged += 1;
        self.staged_unlogged = self.staged_unlogged.saturating_add(unlogged);
        if self.tree.is_ok() {
            self.stage_leaf(before, genesis, head);
        }
        Ok(head)
    }

    /// The tree leaf of the record just staged (from `before` in staging),
    /// or the tree becomes unknown if it cannot be had.
    fn stage_leaf(&mut self, before: usize, genesis: bool, head: Head) {
        if genesis && self.seal().is_some() {
            // A keyed log's first append wrote its chain-start record too:
            // read both back (once per log).
            return self.stage_leaves_read_back(before);
        }
        // The digest staging computed: a plain record states it, a keyed
        // one's key state keeps it. No hashing here.
        let digest = match self.writer.seal() {
            Some(key) => key.last().map(|sealed| sealed.digest),
            None => Some(head.hash),
        };
        match digest {
            Some(digest) => {
                self.leaves_first.get_or_insert(head.hash);
                self.leaves.push(digest);
            }
            None => self.tree_stale(),
        }
    }

    /// The leaves of the records staged from `before`, read back from
    /// staging (rare: a keyed log's first records, a torn tail at open).
    fn stage_leaves_read_back(&mut self, before: usize) {
        match self.staged().get(before..).and_then(staged_in) {
            Some((staged, _)) => self.push_leaves(&staged),
            None => self.tree_stale(),
        }
    }

    /// The tree cannot follow staging: it becomes unknown.
    fn tree_stale(&mut self) {
        self.tree = Err(TreeUnknown::Stale {
            log_end: self.len,
            log_len: self.len,
        });
    }

    /// Notes that the appender of the record just staged waits until it is
    /// handed to the OS (so a failed group write owes it an error).
    pub(crate) fn wait_for_newest(&mut self) {
        self.staged_waiters += 1;
    }

    /// Takes every staged record out of staging for a group write to `file`
    /// (`None` when nothing is staged). Records staged from now on follow
    /// them, in the next batch.
    pub(crate) fn take_batch(&mut self, file: &Arc<File>) -> Option<Batch> {
        if self.staged_bytes() == 0 {
            return None;
        }
        let spare = std::mem::take(&mut self.spare);
        let bytes = std::mem::replace(self.writer.sink_mut(), spare);
        let next = Mark {
            bytes: 0,
            head: self.head(),
            seal: self.writer.seal().clone(),
            unlogged: 0,
            waiters: 0,
            leaves: 0,
        };
        let base = std::mem::replace(&mut self.base, next);
        let waiters = std::mem::take(&mut self.staged_waiters);
        let unlogged = std::mem::take(&mut self.staged_unlogged);
        let spare = std::mem::take(&mut self.leaves_spare);
        Some(Batch {
            bytes,
            file: Arc::clone(file),
            last: self.staged,
            seal: self.writer.seal().clone(),
            base: Mark {
                unlogged,
                waiters,
                ..base
            },
            leaves: std::mem::replace(&mut self.leaves, spare),
            leaves_first: self.leaves_first.take(),
            leaves_last: self.head().map(|h| h.hash),
        })
    }

    /// A batch is in the file: its bytes count, its buffer is kept for the
    /// next one.
    pub(crate) fn batch_written(&mut self, batch: Batch) {
        let mut bytes = batch.bytes;
        self.len += bytes.len() as u64;
        self.handed = self.handed.max(batch.last);
        bytes.clear();
        self.spare = bytes;
        let mut leaves = batch.leaves;
        self.tree_handed(&leaves, batch.leaves_first, batch.leaves_last);
        leaves.clear();
        self.leaves_spare = leaves;
    }

    /// Records whose leaves these are (`first` and `last` what the first
    /// and the last state) are in the file, which is now `len` bytes long:
    /// the tree's thread hashes them in (with a tree). Copies 32 bytes a
    /// record; the caller keeps its buffer.
    fn tree_handed(&mut self, leaves: &[Hash], first: Option<Hash>, last: Option<Hash>) {
        let (Ok(tree), Some(first), Some(last)) = (&self.tree, first, last) else {
            return;
        };
        if let Err(e) = tree.handed(leaves, first, last, self.len) {
            self.tree = Err(e);
        }
    }

    /// A batch could not be written (the file was cut back to the length
    /// before it): it is taken back, and so is every record staged after it
    /// (they are chained to it). The head and key state go back to where
    /// they stood before the batch. Returns the tickets lost, after `handed`
    /// up to the returned one; the `unlogged` counts they carried; and how
    /// many appenders wait for them.
    pub(crate) fn batch_failed(&mut self, batch: Batch) -> Lost {
        let lost = Lost {
            after: self.handed,
            last: self.staged,
            unlogged: batch.base.unlogged.saturating_add(self.staged_unlogged),
            waiters: batch.base.waiters + self.staged_waiters,
        };
        let mut bytes = std::mem::take(self.writer.sink_mut());
        bytes.clear();
        let base = Mark {
            unlogged: 0,
            waiters: 0,
            leaves: 0,
            ..batch.base
        };
        self.writer = Writer::sealed(bytes, base.head, base.seal.clone());
        self.base = base;
        self.staged_unlogged = 0;
        self.staged_waiters = 0;
        self.handed = self.handed.max(self.staged);
        self.leaves.clear();
        self.leaves_first = None;
        lost
    }

    /// Stages the records that keep a torn tail found at `offset`.
    pub(crate) fn stage_recovered(
        &mut self,
        torn: &[u8],
        offset: u64,
        timestamp: Timestamp,
    ) -> Result<Option<Head>, WriteError<Infallible>> {
        let before = self.staged_bytes();
        let head = self
            .writer
            .append_recovered::<RECORD_CAPACITY>(torn, offset, timestamp)?;
        self.staged += 1;
        if self.tree.is_ok() {
            self.stage_leaves_read_back(before);
        }
        Ok(head)
    }

    /// Takes everything staged since `mark` back out, head included: for a
    /// record whose hand-over failed.
    pub(crate) fn unstage(&mut self, mark: Mark) {
        let mut bytes = std::mem::take(self.writer.sink_mut());
        bytes.truncate(mark.bytes);
        self.staged_unlogged = mark.unlogged;
        self.staged_waiters = mark.waiters;
        if mark.bytes == 0 {
            // Nothing was staged at the mark: the chain stood there before
            // the oldest staged record too (a record handed over since, as
            // a rotation's first, is taken back with the rest).
            self.base = Mark {
                unlogged: 0,
                waiters: 0,
                leaves: 0,
                ..mark.clone()
            };
        }
        self.writer = Writer::sealed(bytes, mark.head, mark.seal);
        self.leaves.truncate(mark.leaves);
        if self.leaves.is_empty() {
            self.leaves_first = None;
        }
    }

    /// Hands every staged record to the OS in one write (under the chain's
    /// lock), and returns the newest record's ticket. If the write fails, the file is cut back to its
    /// length before it (no part of a record stays in it) and the records stay
    /// staged; if even the cut fails, the appender is broken. With nothing
    /// staged, returns the newest ticket without writing. The writes go
    /// through `fs` (the filesystem itself, but for tests of recovery).
    pub(crate) fn hand_over<F: RecoveryFs + ?Sized>(
        &mut self,
        fs: &F,
        file: &File,
    ) -> io::Result<u64> {
        let bytes = self.writer.sink();
        if bytes.is_empty() {
            return Ok(self.handed);
        }
        if let Err(e) = fs.write_all(file, bytes) {
            if fs.set_len(file, self.len).is_err() {
                self.broken = Some(Step::Cut);
            }
            return Err(e);
        }
        self.len += bytes.len() as u64;
        self.writer.sink_mut().clear();
        self.handed = self.staged;
        self.base = Mark {
            bytes: 0,
            unlogged: 0,
            waiters: 0,
            leaves: 0,
            ..self.mark()
        };
        self.staged_unlogged = 0;
        self.staged_waiters = 0;
        let leaves = std::mem::take(&mut self.leaves);
        let first = self.leaves_first.take();
        self.tree_handed(&leaves, first, self.head().map(|h| h.hash));
        self.leaves = leaves;
        self.leaves.clear();
        Ok(self.handed)
    }
}

/// What a failed group write took back ([`Appender::batch_failed`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lost {
    /// The tickets lost are those after this one...
    pub(crate) after: u64,
    /// ... up to this one.
    pub(crate) last: u64,
    /// The `unlogged` counts the lost records carried.
    pub(crate) unlogged: u64,
    /// The appenders waiting for them.
    pub(crate) waiters: u64,
}

/// Why a record could not be staged for the log at `log`: staging writes to
/// a `Vec`, which cannot fail, but a seal key out of step with the log can.
pub(crate) fn staging_error(log: &Path, e: WriteError<Infallible>) -> Error {
    match e {
        WriteError::Seal(source) => Error::Seal {
            path: log.to_path_buf(),
            source,
        },
        WriteError::Sink(SinkError::Io(never)) => match never {},
        // `SinkError::WriteZero` (a `Vec` takes every byte), in io's words.
        _ => Error::io(log, Step::Write, io::ErrorKind::WriteZero.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Hash, Key, Level, SealError};

    #[test]
    fn a_seal_out_of_step_is_a_seal_error_that_names_both_seqs() {
        let head = Head {
            seq: Some(3),
            hash: Hash::from_bytes([1; 32]),
        };
        // The key is for seq 7; the next record is seq 4.
        let key = SealKey::from_parts(7, Key::from_bytes([2; 32]), None);
        let mut appender = Appender::new(Some(head), 100, Some(key));
        let mut draft = Draft::new(Level::Info, format_args!("x"));
        let e = appender
            .stage(&mut draft, Timestamp::new(1, 0), 0)
            .unwrap_err();
        let err = staging_error(Path::new("k.log"), e);
        let Error::Seal { path, source } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(path, Path::new("k.log"));
        assert_eq!(
            *source,
            SealError::OutOfStep {
                key_seq: 7,
                record_seq: Some(4)
            }
        );
        assert!(err.is_integrity());
        assert_eq!(
            err.to_string(),
            "k.log: cannot seal the next record (the seal key is for seq 7, the record \
             is seq 4); nothing of it was written"
        );
        assert_eq!(appender.staged_bytes(), 0, "nothing staged");
    }

    /// A record handed over and then taken back with an unstage (a rotation
    /// that fails after its first record): a later failed batch must take
    /// the chain back to before it, not to it.
    #[test]
    fn an_unstage_to_empty_staging_moves_the_base_back_too() {
        let file = tempfile::tempfile().unwrap();
        let fs = super::super::recovery_fs::RealFs;
        let mut appender = Appender::new(None, 0, None);
        let mut draft = Draft::new(Level::Info, format_args!("kept"));
        let kept = appender.stage(&mut draft, Timestamp::new(1, 0), 0).unwrap();
        appender.hand_over(&fs, &file).unwrap();
        let mark = appender.mark();
        let mut draft = Draft::new(Level::Info, format_args!("taken back"));
        appender.stage(&mut draft, Timestamp::new(2, 0), 0).unwrap();
        appender.hand_over(&fs, &file).unwrap();
        appender.unstage(mark);
        assert_eq!(appender.head(), Some(kept));
        let mut draft = Draft::new(Level::Info, format_args!("in a failed batch"));
        appender.stage(&mut draft, Timestamp::new(3, 0), 0).unwrap();
        let batch = appender.take_batch(&std::sync::Arc::new(file)).unwrap();
        let _ = appender.batch_failed(batch);
        assert_eq!(appender.head(), Some(kept));
    }
}
