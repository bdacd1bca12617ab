//! The frames being written, one per execution context: defmt's `acquire`,
//! `write`, `release` with no context given, made safe for interrupts that
//! log while the code they interrupted is in the middle of a frame.
//!
//! Contexts on one core nest: an interrupt that starts a frame ends it before
//! the code it interrupted runs again. So the frames in flight are a stack: an
//! acquire pushes a buffer, a write fills the top one, a release pops it. Each
//! step is one short critical section (a few bytes copied; the release copies
//! out at most `M`); formatting, hashing and queueing happen outside them.

use core::cell::RefCell;

use critical_section::Mutex;
use heapless::Vec;

/// What a release hands back.
#[derive(Debug, PartialEq, Eq)]
pub enum Released<const M: usize> {
    /// A whole frame, cut to `M` bytes if longer (then `truncated`).
    Frame {
        /// Its bytes.
        bytes: Vec<u8, M>,
        /// It was longer than `M` bytes.
        truncated: bool,
    },
    /// The frame was nested deeper than the stack holds: it is lost (the
    /// logger counts it into the chain's unlogged records).
    Dropped,
    /// A release without an acquire (a defmt bug): nothing.
    Unbalanced,
}

struct Stack<const D: usize, const M: usize> {
    bufs: [Vec<u8, M>; D],
    truncated: [bool; D],
    /// Frames in flight in `bufs`.
    depth: usize,
    /// Frames in flight above them, nested too deep: their bytes are dropped.
    overflow: usize,
}

/// Up to `D` frames in flight (a thread and `D - 1` nested interrupt levels
/// in the middle of a frame), each of up to `M` bytes, for a `static`.
pub struct Frames<const D: usize, const M: usize> {
    stack: Mutex<RefCell<Stack<D, M>>>,
}

impl<const D: usize, const M: usize> Default for Frames<D, M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const D: usize, const M: usize> Frames<D, M> {
    /// No frame in flight.
    pub const fn new() -> Self {
        Frames {
            stack: Mutex::new(RefCell::new(Stack {
                bufs: [const { Vec::new() }; D],
                truncated: [false; D],
                depth: 0,
                overflow: 0,
            })),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Stack<D, M>) -> R) -> Option<R> {
        critical_section::with(|cs| Some(f(&mut *self.stack.borrow(cs).try_borrow_mut().ok()?)))
    }

    /// Starts a frame in the current context. Never waits.
    pub fn acquire(&self) {
        self.with(|s| {
            if s.overflow == 0 {
                if let (Some(buf), Some(cut)) =
                    (s.bufs.get_mut(s.depth), s.truncated.get_mut(s.depth))
                {
                    buf.clear();
                    *cut = false;
                    s.depth += 1;
                    return;
                }
            }
            s.overflow = s.overflow.saturating_add(1);
        });
    }

    /// Adds bytes to the current context's frame (the innermost one).
    pub fn write(&self, bytes: &[u8]) {
        self.with(|s| {
            if s.overflow > 0 {
                return;
            }
            let Some(top) = s.depth.checked_sub(1) else {
                return;
            };
            if let (Some(buf), Some(cut)) = (s.bufs.get_mut(top), s.truncated.get_mut(top)) {
                let room = M - buf.len();
                let take = bytes.len().min(room);
                let _ = buf.extend_from_slice(bytes.get(..take).unwrap_or_default());
                *cut |= take < bytes.len();
            }
        });
    }

    /// Ends the current context's frame and hands it back.
    pub fn release(&self) -> Released<M> {
        self.with(|s| {
            if s.overflow > 0 {
                s.overflow -= 1;
                return Released::Dropped;
            }
            let Some(top) = s.depth.checked_sub(1) else {
                return Released::Unbalanced;
            };
            s.depth = top;
            match (s.bufs.get_mut(top), s.truncated.get(top)) {
                (Some(buf), Some(&truncated)) => Released::Frame {
                    bytes: core::mem::take(buf),
                    truncated,
                },
                _ => Released::Unbalanced,
            }
        })
        .unwrap_or(Released::Unbalanced)
    }
}

impl<const D: usize, const M: usize> core::fmt::Debug for Frames<D, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Frames")
            .field("depth", &D)
            .field("room", &M)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame<const M: usize>(bytes: &[u8], truncated: bool) -> Released<M> {
        Released::Frame {
            bytes: Vec::from_slice(bytes).unwrap(),
            truncated,
        }
    }

    #[test]
    fn a_frame_interrupted_by_another_keeps_its_bytes_apart() {
        let f = Frames::<2, 8>::new();
        f.acquire();
        f.write(&[1, 0]);
        // An interrupt logs a whole frame in the middle of this one.
        f.acquire();
        f.write(&[2, 0]);
        f.write(&[9]);
        assert_eq!(f.release(), frame(&[2, 0, 9], false));
        f.write(&[7]);
        assert_eq!(f.release(), frame(&[1, 0, 7], false));
        assert_eq!(f.release(), Released::Unbalanced);
    }

    #[test]
    fn nested_deeper_than_the_stack_is_dropped_and_the_rest_unharmed() {
        let f = Frames::<1, 8>::new();
        f.acquire();
        f.write(&[1]);
        f.acquire();
        f.write(&[2]);
        f.acquire();
        f.write(&[3]);
        assert_eq!(f.release(), Released::Dropped);
        assert_eq!(f.release(), Released::Dropped);
        f.write(&[4]);
        assert_eq!(f.release(), frame(&[1, 4], false));
    }

    #[test]
    fn a_long_frame_is_cut_and_marked() {
        let f = Frames::<1, 4>::new();
        f.acquire();
        f.write(&[1, 2, 3]);
        f.write(&[4, 5]);
        assert_eq!(f.release(), frame(&[1, 2, 3, 4], true));
        // The next frame starts clean.
        f.acquire();
        f.write(&[6]);
        assert_eq!(f.release(), frame(&[6], false));
    }
}
