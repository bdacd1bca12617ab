//! The records that keep a torn tail: the bytes of a record cut off by a
//! crash, found when a log is continued, written back inside the messages of
//! new records (FORMAT.md, "Continuation"), never dropped.

use core::fmt;

/// The messages that keep a torn tail in the log: the bytes as text when they
/// are UTF-8 (JSON escaping keeps them exact), as hex otherwise, split into as
/// many parts as the message room requires.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Recovery<'a> {
    torn: &'a [u8],
    offset: u64,
    room: usize,
}

/// Room a part's header takes at most:
/// `immutable-log: recovered torn tail at byte <20>, part <20>/<20>, bytes <20>..<20> of <20>, utf8: `.
const HEADER_MAX: usize = 200;

impl<'a> Recovery<'a> {
    /// The recovery of `torn`, found at byte `offset` of the log, for messages
    /// of at most `message_room` escaped bytes.
    pub(crate) fn new(torn: &'a [u8], offset: u64, message_room: usize) -> Self {
        Recovery {
            torn,
            offset,
            room: message_room.saturating_sub(HEADER_MAX).max(12),
        }
    }

    /// The parts, in order; none when the tail is empty.
    pub(crate) fn parts(&self) -> impl Iterator<Item = RecoveryPart<'a>> + 'a {
        let this = *self;
        let count = this.chunks().count();
        this.chunks()
            .enumerate()
            .map(move |(index, (start, end))| RecoveryPart {
                torn: this.torn,
                offset: this.offset,
                start,
                end,
                index: index + 1,
                count,
                utf8: core::str::from_utf8(this.torn).is_ok(),
            })
    }

    /// Byte ranges of the parts: each as long as fits the room once escaped.
    fn chunks(self) -> impl Iterator<Item = (usize, usize)> + 'a {
        let text = core::str::from_utf8(self.torn).ok();
        let room = self.room;
        let len = self.torn.len();
        let mut start = 0;
        core::iter::from_fn(move || {
            if start >= len {
                return None;
            }
            let end = match text {
                Some(text) => {
                    let mut used = 0;
                    let mut end = start;
                    for c in text.get(start..).unwrap_or_default().chars() {
                        let cost = escaped_len(c);
                        if used + cost > room {
                            break;
                        }
                        used += cost;
                        end += c.len_utf8();
                    }
                    end.max(start + 1).min(len)
                }
                None => (start + room / 2).min(len),
            };
            let range = (start, end);
            start = end;
            Some(range)
        })
    }
}

/// Bytes a character takes in a JSON string.
fn escaped_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        '\0'..='\u{1f}' | '\u{7f}' => 6,
        _ => c.len_utf8(),
    }
}

/// One message of a [`Recovery`]; its `Display` is the message text.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RecoveryPart<'a> {
    torn: &'a [u8],
    offset: u64,
    start: usize,
    end: usize,
    index: usize,
    count: usize,
    utf8: bool,
}

impl fmt::Display for RecoveryPart<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "immutable-log: recovered torn tail at byte {}, part {}/{}, bytes {}..{} of {}, ",
            self.offset,
            self.index,
            self.count,
            self.start,
            self.end,
            self.torn.len()
        )?;
        let bytes = self.torn.get(self.start..self.end).unwrap_or_default();
        match core::str::from_utf8(bytes) {
            Ok(text) if self.utf8 => write!(f, "utf8: {text}"),
            _ => {
                f.write_str("hex: ")?;
                bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}
