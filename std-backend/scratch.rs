//! A draft buffer per thread, so formatting a record allocates nothing after
//! a thread's first record.

use std::cell::Cell;

use super::RECORD_CAPACITY;
use crate::{Draft, Level};

/// A draft with room for one record.
pub(crate) type Scratch = Box<Draft<RECORD_CAPACITY>>;

thread_local! {
    static SPARE: Cell<Option<Scratch>> = const { Cell::new(None) };
}

/// This thread's draft, or a new one (on first use, while formatting a record
/// logs another, or while the thread is ending).
pub(crate) fn take() -> Scratch {
    match SPARE.try_with(Cell::take) {
        Ok(Some(draft)) => draft,
        _ => fresh(),
    }
}

/// A new draft. Out of line and cold: built in place, a draft takes its
/// 64 KiB on the stack (twice, with the copy into the box), and a function
/// with such a frame probes every page of it on each call, used or not. Kept
/// in `take` itself, that probe cost ~10% of a buffered append.
#[cold]
#[inline(never)]
fn fresh() -> Scratch {
    Box::new(Draft::new(Level::Info, format_args!("")))
}

/// Keeps `draft` for this thread's next record.
pub(crate) fn give_back(draft: Scratch) {
    // While the thread is ending there is nowhere to keep it: it is dropped.
    let _ = SPARE.try_with(|spare| spare.set(Some(draft)));
}
