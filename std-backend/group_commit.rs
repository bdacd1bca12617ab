//! Group commit: appenders that need their records on disk share one
//! `fdatasync` instead of paying one each.
//!
//! Each record handed to the OS gets a ticket (1, 2, 3, … in file order). An
//! appender waits until a sync covering its ticket has completed. If no sync
//! is running, it becomes the leader: it notes the newest ticket handed to the
//! OS so far, runs the sync outside every lock, and then wakes everyone it
//! covered. Appenders arriving meanwhile wait for the next sync, which covers
//! all of them at once.
//!
//! Each appender is woken once, when it is done (or to lead the next sync):
//! those the running sync covers wait on one condition variable, those
//! waiting for the next sync on the other, and a finished sync wakes all of
//! the first and one of the second, its leader. (With one condition variable
//! and 500 threads, every sync woke every waiter, and the ones not covered
//! went straight back to sleep: a context switch each, for nothing.)

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Shared between the appenders of one file.
#[derive(Debug, Default)]
pub(crate) struct GroupCommit {
    /// The ticket of the newest record handed to the OS.
    written: AtomicU64,
    /// `state.synced`, readable without the lock: an appender whose record a
    /// finished sync already covers returns without queueing for it.
    synced: AtomicU64,
    /// Set once a sync has failed (`state.failed`), readable without the
    /// lock: every append checks it while holding the writer's lock, and must
    /// not queue there behind the appenders waking from a sync.
    failed: AtomicBool,
    state: Mutex<SyncState>,
    /// Indexed by a sync's generation modulo 2: the appenders that sync
    /// covers wait on its condition variable.
    done: [Condvar; 2],
}

#[derive(Debug, Default)]
struct SyncState {
    /// Every record with a ticket up to this one is on disk.
    synced: u64,
    /// The ticket the running sync covers, while one runs.
    running: Option<u64>,
    /// The first failed sync. After it nothing is known to be durable beyond
    /// `synced` (the OS may have dropped the dirty pages), so every later
    /// wait fails too.
    failed: Option<(io::ErrorKind, String)>,
    /// Syncs run so far.
    syncs: u64,
    /// Syncs started so far: the generation of the running (or last) sync.
    started: u64,
    /// Appenders waiting for a sync to end.
    waiting: usize,
    /// Of those, the ones waiting for the sync after the running one.
    waiting_next: usize,
}

impl GroupCommit {
    /// Notes that every record up to `ticket` has been handed to the OS.
    /// Called under the writer's lock, right after the write, so tickets grow.
    pub(crate) fn written(&self, ticket: u64) {
        self.written.store(ticket, Ordering::Release);
    }

    /// The ticket of the newest record handed to the OS.
    pub(crate) fn newest(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// True once a sync has failed.
    pub(crate) fn failed(&self) -> bool {
        self.failed.load(Ordering::Acquire)
    }

    /// Syncs run so far.
    pub(crate) fn syncs(&self) -> u64 {
        self.lock().syncs
    }

    /// Returns once the record with `ticket` is on disk, running `sync`
    /// itself when no other thread is. Fails if a sync failed first.
    pub(crate) fn wait_durable(
        &self,
        ticket: u64,
        sync: impl Fn() -> io::Result<()>,
    ) -> io::Result<()> {
        if self.synced.load(Ordering::Acquire) >= ticket {
            return Ok(());
        }
        let mut state = self.lock();
        loop {
            if state.synced >= ticket {
                return Ok(());
            }
            if let Some((kind, message)) = &state.failed {
                return Err(io::Error::new(*kind, message.clone()));
            }
            match state.running {
                None => {
                    let target = self.newest();
                    state.running = Some(target);
                    state.started += 1;
                    let generation = state.started;
                    drop(state);
                    let result = sync();
                    state = self.lock();
                    state.running = None;
                    state.syncs += 1;
                    match result {
                        Ok(()) => {
                            state.synced = state.synced.max(target);
                            self.synced.store(state.synced, Ordering::Release);
                        }
                        Err(e) => {
                            state.failed = Some((e.kind(), e.to_string()));
                            self.failed.store(true, Ordering::Release);
                            // Every waiter must hear of it.
                            self.cv(generation + 1).notify_all();
                        }
                    }
                    self.cv(generation).notify_all();
                    if state.waiting_next > 0 {
                        // The next sync's leader; the rest sleep on.
                        self.cv(generation + 1).notify_one();
                    }
                }
                Some(target) => {
                    let next = ticket > target;
                    let generation = state.started + u64::from(next);
                    state.waiting += 1;
                    state.waiting_next += usize::from(next);
                    state = self
                        .cv(generation)
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                    state.waiting -= 1;
                    state.waiting_next -= usize::from(next);
                }
            }
        }
    }

    /// The condition variable the appenders covered by sync `generation` wait on.
    fn cv(&self, generation: u64) -> &Condvar {
        let [even, odd] = &self.done;
        if generation % 2 == 1 {
            odd
        } else {
            even
        }
    }

    fn lock(&self) -> MutexGuard<'_, SyncState> {
        // Nothing panics while holding it; a poisoned state is still whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::{mpsc, Arc};
    use std::thread;

    fn until(condition: impl Fn() -> bool) {
        while !condition() {
            thread::yield_now();
        }
    }

    #[test]
    fn appenders_waiting_during_a_sync_share_the_next_one() {
        let group = Arc::new(GroupCommit::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let (release, gate) = mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let sync = {
            let calls = Arc::clone(&calls);
            move || {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    // The first sync lasts until the test lets it end.
                    let _ = gate.lock().map(|g| g.recv());
                }
                Ok(())
            }
        };
        group.written(1);
        let leader = {
            let (group, sync) = (Arc::clone(&group), sync.clone());
            thread::spawn(move || group.wait_durable(1, sync))
        };
        until(|| group.lock().running == Some(1));
        group.written(4);
        let followers: Vec<_> = (2..=4)
            .map(|ticket| {
                let (group, sync) = (Arc::clone(&group), sync.clone());
                thread::spawn(move || group.wait_durable(ticket, sync))
            })
            .collect();
        until(|| group.lock().waiting == 3);
        release.send(()).unwrap();
        for t in followers.into_iter().chain([leader]) {
            t.join().unwrap().unwrap();
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(group.syncs(), 2);
    }

    #[test]
    fn a_failed_sync_fails_every_later_wait() {
        let group = GroupCommit::default();
        group.written(1);
        let err = group
            .wait_durable(1, || Err(io::Error::other("disk gone")))
            .unwrap_err();
        assert_eq!(err.to_string(), "disk gone");
        assert!(group.failed());
        group.written(2);
        assert!(group.wait_durable(2, || Ok(())).is_err());
        assert_eq!(group.syncs(), 1);
    }
}
