//! What the handler and its flusher thread share: the chain and the file
//! under one lock (with the rotation state), group commit, the count of
//! records lost.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use super::appender::{staging_error, Appender};
use super::format::Format;
use super::group_commit::GroupCommit;
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
            unlogged: AtomicU64::new(0),
            fs,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing under this lock panics, so a poisoned state is whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
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
        Ok(ticket)
    }

    /// After records reached the file: a keyed log's key state follows.
    fn keep_key(&self, state: &mut State) -> Result<(), Error> {
        self.keys.keep(&state.file, &self.path, &mut state.appender)
    }

    /// Appends a formatted draft: under the lock, rotate first if a rotation
    /// is due, seal the record (hashing only its tail) and stage it, and hand
    /// it to the OS unless buffering; outside the lock, wait for a sync
    /// covering it (durability `Sync`).
    pub(crate) fn append(&self, draft: &mut Draft<RECORD_CAPACITY>) -> Result<Head, Error> {
        let (head, durable) = {
            let mut state = self.lock();
            if let Some(step) = state.appender.broken() {
                return Err(self.broken(step));
            }
            if self.group.failed() {
                return Err(self.broken(Step::Sync));
            }
            let now = SystemTime::now();
            self.rotate_if_due(&mut state, now);
            let unlogged = self.unlogged.swap(0, Ordering::Relaxed);
            let mark = state.appender.mark();
            let staged = state
                .appender
                .stage(draft, SystemClock::timestamp(now), unlogged)
                .map_err(|e| staging_error(&self.path, e));
            let result = staged.and_then(|head| {
                let hand_over = self.durability != Durability::Buffered
                    || state.appender.staged_bytes() >= self.buffer_size;
                if !hand_over {
                    return Ok((head, None));
                }
                let ticket = self.write(&mut state)?;
                Ok((head, Some((ticket, Arc::clone(&state.file)))))
            });
            match result {
                Ok(done) => {
                    if done.1.is_some() {
                        self.keep_key(&mut state)?;
                    }
                    if let Some(rotor) = state.rotor.as_mut() {
                        rotor.appended(done.0, now);
                    }
                    done
                }
                Err(e) => {
                    // Nothing of the record stays: not in the file, not staged.
                    state.appender.unstage(mark);
                    self.unlogged.fetch_add(unlogged, Ordering::Relaxed);
                    return Err(e);
                }
            }
        };
        match durable {
            Some((ticket, file)) if self.durability == Durability::Sync => {
                self.wait_durable(ticket, &file)?
            }
            _ => {}
        }
        Ok(head)
    }

    /// Rotates the log if its policy says it is time. A rotation that fails
    /// leaves the records where they were and is kept for
    /// [`LogFile::rotation_error`](super::LogFile::rotation_error); the
    /// record that triggered it is appended all the same.
    fn rotate_if_due(&self, state: &mut State, now: SystemTime) {
        let due = match &state.rotor {
            Some(rotor) => rotor.due(
                state.appender.len() + state.appender.staged_bytes() as u64,
                now,
            ),
            None => false,
        };
        if due {
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
