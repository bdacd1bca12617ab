//! Reading a log's tail backwards: its last complete record, and whether
//! what follows it can be a torn record.

use super::ResumeError;
use crate::record::{self, BLOCK_PREFIX};

/// The last complete record's two lines, `None` for a log with none, after
/// checking that what follows it can be a torn record.
pub(crate) fn last_record(
    tail: &[u8],
    whole_log: bool,
) -> Result<Option<(Line<'_>, Line<'_>)>, ResumeError> {
    // Running out of lines means the start of the log, or a tail too short.
    let start_of_log = || {
        if whole_log {
            Ok(None)
        } else {
            Err(ResumeError::NeedMoreTail)
        }
    };
    let mut lines = LinesBack::new(tail, whole_log);
    // The last LF-terminated line, skipping an unterminated remainder.
    let Some(mut last) = lines.next() else {
        if whole_log && !record::could_start_record(tail) {
            // Not a record cut off, but no log at all (as the verifier says).
            return Err(ResumeError::MalformedTail { offset: 0 });
        }
        return start_of_log();
    };
    if !last.bytes.starts_with(BLOCK_PREFIX) {
        // A complete display line whose block line never came: torn, if it
        // has the shape of a display line.
        if record::split_display_line(last.bytes).is_none() {
            return Err(ResumeError::MalformedTail { offset: last.start });
        }
        match lines.next() {
            Some(line) if line.bytes.starts_with(BLOCK_PREFIX) => last = line,
            Some(line) => return Err(ResumeError::MalformedTail { offset: line.start }),
            None => return start_of_log(),
        }
    }
    let block = last;
    match lines.next() {
        Some(display) => Ok(Some((display, block))),
        None if whole_log => Err(ResumeError::MalformedTail {
            offset: block.start,
        }),
        None => Err(ResumeError::NeedMoreTail),
    }
}

/// One LF-terminated line found walking backwards.
#[derive(Clone, Copy)]
pub(crate) struct Line<'a> {
    pub(crate) bytes: &'a [u8],
    /// Index of its first byte.
    pub(crate) start: usize,
    /// Index one past its LF.
    pub(crate) end: usize,
}

/// Walks the LF-terminated lines of a slice from the end. The slice's first
/// line, with no LF before it, is whole only if the slice is the whole log;
/// otherwise it may be the end of a longer line, and is not returned.
struct LinesBack<'a> {
    tail: &'a [u8],
    /// One past the LF of the next line to return.
    end: Option<usize>,
    whole_log: bool,
}

impl<'a> LinesBack<'a> {
    fn new(tail: &'a [u8], whole_log: bool) -> Self {
        let end = tail.iter().rposition(|&b| b == b'\n').map(|p| p + 1);
        LinesBack {
            tail,
            end,
            whole_log,
        }
    }
}

impl<'a> Iterator for LinesBack<'a> {
    type Item = Line<'a>;

    fn next(&mut self) -> Option<Line<'a>> {
        let end = self.end?;
        let body = self.tail.get(..end.checked_sub(1)?)?;
        let start = body.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        if start == 0 && !self.whole_log {
            self.end = None;
            return None;
        }
        self.end = if start == 0 { None } else { Some(start) };
        Some(Line {
            bytes: body.get(start..)?,
            start,
            end,
        })
    }
}
