//! What the handler and its flusher thread share: the chain and the file
//! under one lock (with the rotation state), the pen (group write), group
//! commit, the count of records lost.
//!
//! With `Flush` and `Sync`, an appender stages its record under the chain's
//! lock, lets go of it, and waits until a group write (`group_write`) has
//! handed its record to the OS; a keyed log's key file follows once per
//! write, not once per record.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use super::appender::{staging_error, Appender, Batch};
use super::format::Format;
use super::group_commit::GroupCommit;
use super::group_write::{GroupWrite, Unwritten};
use super::key_store::KeyStore;
use super::recovery_fs::RecoveryFs;
use super::rotate::rotate;
use super::rotation::Rotor;
use super::{Durability, Error, Step, SystemClock, RECORD_CAPACITY};
use crate::{Draft, Head};

/// What the handler's lock guards.
pub(crate) struct State {
    /// The chain, and the records staged for the file.
    pub(crate) appender: Appender,
    /// The file written now: opened for appending, and locked. Written only
    /// under this lock; synced outside it (through a clone of the `Arc`). A
    /// rotation replaces it, after syncing it.
    pub(crate) file: Arc<File>,
    /// When and how the log rotates (`None`: never).
    pub(crate) rotor: Option<Rotor>,
}

/// What the handler and its flusher thread share.
pub(crate) struct Shared {
    pub(crate) path: PathBuf,
    pub(crate) durability: Durability,
    pub(crate) format: Arc<dyn Format>,
    pub(crate) buffer_size: usize,
    state: Mutex<State>,
    /// A keyed log's key file, replaced under the lock.
    pub(crate) keys: KeyStore,
    pub(crate) group: GroupCommit,
    /// Appenders sharing writes; its pen is held by whatever writes.
    pub(crate) writes: GroupWrite,
    /// Records that front ends could not write, stated by the next one.
    pub(crate) unlogged: AtomicU64,
    /// What records are written through: the filesystem, or a test's fault
    /// injector.
    pub(crate) fs: Arc<dyn RecoveryFs>,
}

impl Shared {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        path: PathBuf,
        durability: Durability,
        format: Arc<dyn Format>,
        buffer_size: usize,
        state: State,
        keys: KeyStore,
        fs: Arc<dyn RecoveryFs>,
    ) -> Self {
        Shared {
            path,
            durability,
            format,
            buffer_size,
            state: Mutex::new(state),
            keys,
            group: GroupCommit::default(),
            writes: GroupWrite::default(),
            unlogged: AtomicU64::new(0),
            fs,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing under this lock panics, so a poisoned state is whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the pen, to write under the chain's lock (taken after it).
    pub(crate) fn pen(&self) -> MutexGuard<'_, ()> {
        self.writes.pen()
    }

    pub(crate) fn broken(&self, step: Step) -> Error {
        Error::Broken {
            path: self.path.clone(),
            step,
        }
    }

    /// Hands the staged records to the OS in the current file, then keeps a
    /// keyed log's key state in step; returns the newest ticket.
    pub(crate) fn hand_over(&self, state: &mut State) -> Result<u64, Error> {
        let staged = state.appender.staged_bytes() > 0;
        let ticket = self.write(state)?;
        if staged {
            self.keep_key(state)?;
        }
        Ok(ticket)
    }

    /// Hands the staged records to the OS in the current file (on failure,
    /// none of their bytes stay in it).
    fn write(&self, state: &mut State) -> Result<u64, Error> {
        let ticket = state
            .appender
            .hand_over(&*self.fs, &state.file)
            .map_err(|e| Error::io(&self.path, Step::Write, e))?;
        self.group.written(ticket);
        self.writes.written(ticket);
        Ok(ticket)
    }

    /// After records reached the file: a keyed log's key state follows.
    fn keep_key(&self, state: &mut State) -> Result<(), Error> {
        self.keys.keep(&state.file, &self.path, &mut state.appender)
    }

    /// Appends a formatted draft at `now`: under the lock, rotate first if a
    /// rotation is due, seal the record (hashing only its tail) and stage it;
    /// then, unless buffering, make sure it is handed to the OS (a group
    /// write) and, with durability `Sync`, wait for a sync covering it.
    pub(crate) fn append(
        &self,
        draft: &mut Draft<RECORD_CAPACITY>,
        now: SystemTime,
    ) -> Result<Head, Error> {
        let buffered = self.durability == Durability::Buffered;
        // A rotation writes under the lock, so it holds the pen too. (Declared
        // first, dropped last: the chain's lock goes before the pen.)
        let mut pen = None;
        let mut state = self.lock();
        if self.rotation_due(&state, now) {
            drop(state);
            pen = Some(self.pen());
            state = self.lock();
            self.rotate_if_due(&mut state, now);
        }
        if let Some(step) = state.appender.broken() {
            return Err(self.broken(step));
        }
        if self.group.failed() {
            return Err(self.broken(Step::Sync));
        }
        let unlogged = self.unlogged.swap(0, Ordering::Relaxed);
        let mark = state.appender.mark();
        let head = match state
            .appender
            .stage(draft, SystemClock::timestamp(now), unlogged)
        {
            Ok(head) => head,
            Err(e) => {
                self.unlogged.fetch_add(unlogged, Ordering::Relaxed);
                return Err(staging_error(&self.path, e));
            }
        };
        if buffered && state.appender.staged_bytes() >= self.buffer_size {
            if let Err(e) = self.write(&mut state) {
                // Nothing of the record stays: not in the file, not staged.
                state.appender.unstage(mark);
                self.unlogged.fetch_add(unlogged, Ordering::Relaxed);
                return Err(e);
            }
            self.keep_key(&mut state)?;
        }
        // A record a failed group write takes back is followed by one with
        // the same `seq`: the file's first `seq` noted here stays right.
        if let Some(rotor) = state.rotor.as_mut() {
            rotor.appended(head, now);
        }
        if buffered {
            return Ok(head);
        }
        state.appender.wait_for_newest();
        let ticket = state.appender.newest_staged();
        let file = Arc::clone(&state.file);
        drop(state);
        drop(pen);
        self.write_through(ticket)?;
        if self.durability == Durability::Sync {
            self.wait_durable(ticket, &file)?;
        }
        Ok(head)
    }

    /// Returns once the record with `ticket`, staged by the caller, is in
    /// the OS's hands: carried by a group write, led by this thread or
    /// another.
    fn write_through(&self, ticket: u64) -> Result<(), Error> {
        let take = || {
            let mut state = self.lock();
            if let Some(step) = state.appender.broken() {
                return Err(self.broken(step));
            }
            let file = Arc::clone(&state.file);
            match state.appender.take_batch(&file) {
                Some(batch) => Ok(batch),
                // Neither written nor staged nor taken back: only a broken
                // appender loses records so, and that was checked above.
                None => Err(self.broken(Step::Write)),
            }
        };
        self.writes
            .wait_written(ticket, take, |batch| self.write_batch(batch))
            .map_err(|e| match e {
                Unwritten::Lost(e) => Error::io(&self.path, Step::Write, e),
                Unwritten::Failed(e) => e,
            })
    }

    /// Hands a batch to the OS, holding the pen but not the chain's lock,
    /// then a keyed log's key file follows it. If the write fails, the file
    /// is cut back to its length before the batch, and the batch and every
    /// record staged after it are taken back: the chain's head and key go
    /// back to where they stood before it, the lost records' `unlogged`
    /// counts are given back, and each of their appenders hears the error.
    fn write_batch(&self, batch: Batch) -> Result<(), Error> {
        let written = self.fs.write_all(&batch.file, &batch.bytes);
        let mut state = self.lock();
        if let Err(e) = written {
            if self.fs.set_len(&batch.file, state.appender.len()).is_err() {
                state.appender.set_broken(Step::Cut);
            }
            let lost = state.appender.batch_failed(batch);
            drop(state);
            self.unlogged.fetch_add(lost.unlogged, Ordering::Relaxed);
            self.writes.lose(lost.after, lost.last, lost.waiters, &e);
            return Err(Error::io(&self.path, Step::Write, e));
        }
        let (last, seal, file) = (batch.last, batch.seal.clone(), Arc::clone(&batch.file));
        state.appender.batch_written(batch);
        self.group.written(last);
        self.writes.written(last);
        drop(state);
        if let Some(seal) = seal {
            if let Err((step, e)) = self.keys.follow(&file, &self.path, &seal) {
                self.lock().appender.set_broken(step);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Whether the log's rotation policy says it is time.
    fn rotation_due(&self, state: &State, now: SystemTime) -> bool {
        match &state.rotor {
            Some(rotor) => rotor.due(
                state.appender.len() + state.appender.staged_bytes() as u64,
                now,
            ),
            None => false,
        }
    }

    /// Rotates the log if its policy says it is time. A rotation that fails
    /// leaves the records where they were and is kept for
    /// [`LogFile::rotation_error`](super::LogFile::rotation_error); the
    /// record that triggered it is appended all the same.
    fn rotate_if_due(&self, state: &mut State, now: SystemTime) {
        if self.rotation_due(state, now) {
            self.rotate_now(state, now);
        }
    }

    /// Rotates the log now (if it has a record), keeping a failure.
    pub(crate) fn rotate_now(&self, state: &mut State, now: SystemTime) {
        if let Err(e) = rotate(self, state, now) {
            if let Some(rotor) = state.rotor.as_mut() {
                rotor.failed(e);
            }
        }
    }

    /// Hands staged records to the OS; returns the newest ticket and the
    /// file that holds it.
    pub(crate) fn flush(&self) -> Result<(u64, Arc<File>), Error> {
        let _pen = self.pen();
        let mut state = self.lock();
        if let Some(step) = state.appender.broken() {
            return Err(self.broken(step));
        }
        let ticket = self.hand_over(&mut state)?;
        Ok((ticket, Arc::clone(&state.file)))
    }

    pub(crate) fn wait_durable(&self, ticket: u64, file: &File) -> Result<(), Error> {
        self.group
            .wait_durable(ticket, || file.sync_data())
            .map_err(|e| Error::io(&self.path, Step::Sync, e))
    }
}

impl Drop for Shared {
    /// Releases the lock explicitly: a child process forked meanwhile shares
    /// the open file (until it execs), and closing our descriptor alone would
    /// leave the lock held through its copy.
    fn drop(&mut self) {
        // Closing the file right after releases it anyway.
        let mut state = self.lock();
        state.appender.persist_tree();
        let _ = state.file.unlock();
    }
}
