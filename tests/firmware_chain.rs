//! The direct chain never waits where waiting cannot end: `head` and
//! `unlogged` answer while an append (or `with_writer`) holds the writer.

use std::sync::mpsc;
use std::time::Duration;

use immutable_log::{AppendError, Chain, Level, NoClock};

/// A const-constructible vec sink.
struct VecSink(Vec<u8>);

impl embedded_io::ErrorType for VecSink {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Write for VecSink {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Runs `f` on its own thread and fails if it has not returned in 20 s: a
/// call that spins for a lock its own thread holds never returns.
fn returns<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the call did not return: it waited on a holder that cannot run")
}

#[test]
fn head_and_unlogged_answer_while_the_writer_is_held() {
    // Before: `head()` took the spin lock, so an interrupt handler (here: the
    // same thread) asking for the head while the writer was held spun forever.
    let (head_inside, unlogged_inside, busy) = returns(|| {
        static CHAIN: Chain<VecSink, NoClock, 512> = Chain::new(VecSink(Vec::new()), NoClock);
        let first = CHAIN.append(Level::Info, format_args!("one")).unwrap();
        let inside = CHAIN.with_writer(|_| {
            let busy = CHAIN.try_append(Level::Error, format_args!("from the ISR"));
            (CHAIN.head(), CHAIN.unlogged(), busy)
        });
        assert_eq!(inside.0, Some(first));
        inside
    });
    assert_eq!(head_inside.and_then(|h| h.seq), Some(0));
    assert_eq!(unlogged_inside, 1);
    assert_eq!(busy, Err(AppendError::Busy));
}

#[test]
fn try_with_writer_never_waits() {
    let got = returns(|| {
        static CHAIN: Chain<VecSink, NoClock, 512> = Chain::new(VecSink(Vec::new()), NoClock);
        CHAIN.with_writer(|_| CHAIN.try_with_writer(|w| w.head()).is_none())
    });
    assert!(got, "a held writer is not handed out twice");
}

#[test]
fn a_failed_append_keeps_the_loss_to_report() {
    let mut storage = [0u8; 300];
    let mut slice: &mut [u8] = &mut storage;
    let chain: Chain<&mut &mut [u8], NoClock, 512> = Chain::new(&mut slice, NoClock);
    chain.note_unlogged();
    assert!(matches!(
        chain.append(Level::Info, format_args!("{}", "x".repeat(400))),
        Err(AppendError::Sink(_))
    ));
    assert_eq!(chain.unlogged(), 1, "still to be reported");
    assert_eq!(chain.head(), None);
}
