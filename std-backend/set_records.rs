//! The records a rotated set states about itself, written by rotation and
//! retention and read back by `verify --set`:
//!
//! ```text
//! immutable-log: rotated: this file continues app.log.1 (seq 0..=99, head 99 <hash>)
//! immutable-log: retention (keep 3 files) removed app.log.4.gz: seq 0..=99, prev_hash <hash>, head 99 <hash>
//! ```
//!
//! Both are ordinary records (level INFO, under the chain's hashes); their
//! message is exactly this text, whatever the log's format. `-` stands for a
//! `seq` the records do not carry (a log the Python seed began).

use std::fmt;

use crate::{Hash, Head};

/// What begins a retention record's message.
pub(crate) const RETENTION: &str = "immutable-log: retention (";

/// A `seq`, or `-` for none.
struct Seq(Option<u64>);

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(seq) => write!(f, "{seq}"),
            None => f.write_str("-"),
        }
    }
}

/// The first record of a file a rotation began: it follows `head`, the last
/// record of the file now named `previous`, whose first record was `first`.
pub(crate) struct Rotated<'a> {
    pub(crate) previous: &'a str,
    pub(crate) first: Option<u64>,
    pub(crate) head: Head,
}

impl fmt::Display for Rotated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "immutable-log: rotated: this file continues {} (seq {}..={}, head {} {})",
            self.previous,
            Seq(self.first),
            Seq(self.head.seq),
            Seq(self.head.seq),
            self.head.hash
        )
    }
}

/// A file retention removed: its name, the `seq` and `prev_hash` of its first
/// record, and its head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Removed {
    pub(crate) policy: String,
    pub(crate) name: String,
    pub(crate) first: Option<u64>,
    pub(crate) prev_hash: Hash,
    pub(crate) head: Head,
}

impl fmt::Display for Removed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{RETENTION}{}) removed {}: seq {}..={}, prev_hash {}, head {} {}",
            self.policy,
            self.name,
            Seq(self.first),
            Seq(self.head.seq),
            self.prev_hash,
            Seq(self.head.seq),
            self.head.hash
        )
    }
}

impl Removed {
    /// Reads a retention record's message back (`None`: the message is not
    /// one).
    pub(crate) fn parse(message: &str) -> Option<Removed> {
        let rest = message.strip_prefix(RETENTION)?;
        let (policy, rest) = rest.split_once(") removed ")?;
        let (name, rest) = rest.rsplit_once(": seq ")?;
        let (range, rest) = rest.split_once(", prev_hash ")?;
        let (first, _) = range.split_once("..=")?;
        let (prev_hash, head) = rest.split_once(", head ")?;
        let (seq, hash) = head.split_once(' ')?;
        Some(Removed {
            policy: policy.to_string(),
            name: name.to_string(),
            first: parse_seq(first)?,
            prev_hash: Hash::from_hex(prev_hash.as_bytes())?,
            head: Head {
                seq: parse_seq(seq)?,
                hash: Hash::from_hex(hash.as_bytes())?,
            },
        })
    }
}

/// `-` as `Some(None)`, digits as `Some(Some(n))`, anything else `None`.
fn parse_seq(text: &str) -> Option<Option<u64>> {
    if text == "-" {
        return Some(None);
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retention_record_reads_back_as_written() {
        let removed = Removed {
            policy: "keep 3 files".to_string(),
            name: "a: b.log.4.gz".to_string(),
            first: Some(100),
            prev_hash: Hash::from_bytes([1; 32]),
            head: Head {
                seq: Some(199),
                hash: Hash::from_bytes([2; 32]),
            },
        };
        let text = removed.to_string();
        assert!(text.starts_with(
            "immutable-log: retention (keep 3 files) removed a: b.log.4.gz: seq 100..=199, prev_hash 0101"
        ));
        assert_eq!(Removed::parse(&text), Some(removed.clone()));
        let seedish = Removed {
            first: None,
            head: Head {
                seq: None,
                ..removed.head
            },
            ..removed
        };
        assert_eq!(Removed::parse(&seedish.to_string()), Some(seedish));
        assert_eq!(
            Removed::parse("immutable-log: retention (x) removed y"),
            None
        );
        assert_eq!(Removed::parse(&text.replace("head 199", "head 19x")), None);
    }
}
