//! The background thread that hands buffered records to the OS on time.

use std::io;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Runs a flush every interval until stopped (on drop at the latest).
#[derive(Debug)]
pub(crate) struct Flusher {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    /// Starts a thread that calls `flush` every `interval`.
    pub(crate) fn spawn(
        interval: Duration,
        flush: impl Fn() + Send + 'static,
    ) -> io::Result<Flusher> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let signal = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("immutable-log flusher".into())
            .spawn(move || {
                let (stopped, wake) = &*signal;
                let mut stopped = stopped.lock().unwrap_or_else(PoisonError::into_inner);
                while !*stopped {
                    stopped = wake
                        .wait_timeout(stopped, interval)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    if !*stopped {
                        flush();
                    }
                }
            })?;
        Ok(Flusher {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits for it to end.
    pub(crate) fn stop(&mut self) {
        let (stopped, wake) = &*self.stop;
        *stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            // A panic in the thread has nothing left to tell us.
            let _ = thread.join();
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.stop();
    }
}
