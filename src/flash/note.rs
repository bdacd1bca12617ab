//! The record that states, in the chain, what a ring's wrap erased: its
//! sector, its records' `seq` range and the head before them, and where the
//! ring starts after it. A verifier that finds the ring starting after
//! genesis accepts that start only when such a record states it.
//!
//! ```text
//! immutable-log: ring wrap: erased sector 7, seq 120 to 141 after <64 hex>; the ring now starts at seq 142 after <64 hex>
//! immutable-log: ring wrap: erased sector 7, no complete record; the ring now starts at seq 142 after <64 hex>
//! ```

use core::fmt;

use super::layout::Wrap;
use crate::hash::Hash;

const PREFIX: &str = "immutable-log: ring wrap: erased sector ";
const STARTS: &str = "; the ring now starts at seq ";
const AFTER: &str = " after ";

/// The note's message; its `Display` is the text.
pub(crate) struct Note(pub(crate) Wrap);

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Wrap {
            sector,
            erased_from,
            next: (next_seq, next_prev),
        } = self.0;
        write!(f, "{PREFIX}{sector}, ")?;
        match erased_from {
            Some((first, prev)) => write!(
                f,
                "seq {first} to {} after {prev}",
                next_seq.saturating_sub(1)
            )?,
            None => f.write_str("no complete record")?,
        }
        write!(f, "{STARTS}{next_seq}{AFTER}{next_prev}")
    }
}

/// Where a note says the ring now starts (`seq`, `prev_hash`), if `message`
/// (as it stands in the block, JSON-escaped) is a note.
pub(crate) fn ring_start(message: &str) -> Option<(u64, Hash)> {
    let rest = message.strip_prefix(PREFIX)?;
    let (_, start) = rest.split_once(STARTS)?;
    let (seq, hash) = start.split_once(AFTER)?;
    Some((seq.parse().ok()?, Hash::from_hex(hash.as_bytes())?))
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::ToString;

    #[test]
    fn a_note_says_where_the_ring_starts() {
        let wrap = Wrap {
            sector: 7,
            erased_from: Some((120, Hash::from_bytes([1; 32]))),
            next: (142, Hash::from_bytes([0xAB; 32])),
        };
        let text = Note(wrap).to_string();
        assert_eq!(
            text,
            std::format!(
                "immutable-log: ring wrap: erased sector 7, seq 120 to 141 after {}; \
                 the ring now starts at seq 142 after {}",
                "01".repeat(32),
                "ab".repeat(32)
            )
        );
        assert_eq!(ring_start(&text), Some(wrap.next));
        let empty = Note(Wrap {
            erased_from: None,
            ..wrap
        })
        .to_string();
        assert!(empty.contains("erased sector 7, no complete record;"));
        assert_eq!(ring_start(&empty), Some(wrap.next));
        assert_eq!(ring_start("immutable-log: ring wrap: nothing"), None);
        assert_eq!(ring_start(&text.replace("ab", "AB")), None);
    }
}
