//! A fast reader for blocks in the exact shape this crate writes (compact,
//! keys in order, integers without leading zeros) or the seed writes (the
//! same, with one space after every `:` and `,`). Anything else (other
//! spacing, other key orders, unknown keys, `null`) is `None`, and the strict
//! validator and serde-json-core read it instead.
//!
//! Kept beside serde-json-core for a measured reason: it reads the writer's
//! own blocks several times faster, and verifying is bound by reading them.
//! What it accepts is valid JSON that the general path reads to the same
//! values (a test holds it to that).

use super::validate::{number, string};
use super::Block;
use crate::scan::plain_run;

/// Reads a block in this crate's own shape, or in the seed's (the same keys
/// in the same order, one space after every `:` and `,`), or `None`.
///
/// `prev_text` is the record's `prev_hash` as its display line spells it,
/// 64 lowercase hex digits (checked before): a block's `prev_hash` spelled
/// the same is compared, not scanned.
pub(super) fn read<'a>(json: &'a [u8], prev_text: &[u8; 64]) -> Option<Block<'a>> {
    let mut c = Compact {
        json,
        at: 0,
        spaced: false,
    };
    c.eat(b"{\"levelno\":")?;
    c.spaced = c.eat(b" ").is_some();
    let levelno = i64::try_from(c.uint()?).ok()?;
    c.key(b", \"message\": ", b",\"message\":")?;
    let message = c.string()?;
    c.key(b", \"prev_hash\": ", b",\"prev_hash\":")?;
    let prev_hash = c.hex_string(prev_text)?;
    let seq = match c.key(b", \"seq\": ", b",\"seq\":") {
        Some(()) => Some(c.uint()?),
        None => None,
    };
    c.key(b", \"timestamp\": ", b",\"timestamp\":")?;
    let timestamp = c.number()?;
    let truncated = match c.key(b", \"truncated\": ", b",\"truncated\":") {
        Some(()) => match c.eat(b"true") {
            Some(()) => true,
            None => c.eat(b"false").map(|()| false)?,
        },
        None => false,
    };
    let unlogged = match c.key(b", \"unlogged\": ", b",\"unlogged\":") {
        Some(()) => c.uint()?,
        None => 0,
    };
    let version = match c.key(b", \"version\": ", b",\"version\":") {
        Some(()) => Some(c.string()?),
        None => None,
    };
    c.eat(b"}")?;
    if c.at != json.len() {
        return None;
    }
    Some(Block {
        levelno,
        message: message.body,
        message_plain: message.plain,
        prev_hash,
        seq,
        timestamp,
        truncated,
        unlogged,
        version: version.map(|v| v.body),
    })
}

/// A string's body, and whether it is all plain bytes (`plain_run`).
struct Str<'a> {
    body: &'a [u8],
    plain: bool,
}

/// The block, and how far [`read`] has got.
struct Compact<'a> {
    json: &'a [u8],
    at: usize,
    /// The seed's spacing: one space after every `:` and `,`.
    spaced: bool,
}

impl<'a> Compact<'a> {
    fn rest(&self) -> &'a [u8] {
        self.json.get(self.at..).unwrap_or_default()
    }

    /// The literal, of a length known at compile time (compared in line).
    fn eat<const N: usize>(&mut self, literal: &[u8; N]) -> Option<()> {
        (self.rest().first_chunk::<N>() == Some(literal)).then(|| self.at += N)
    }

    /// `,"name":`: `spaced` (`, "name": `, the seed's spacing) when spaced,
    /// else `compact`; or nothing eaten.
    fn key<const S: usize, const C: usize>(
        &mut self,
        spaced: &[u8; S],
        compact: &[u8; C],
    ) -> Option<()> {
        if self.spaced {
            self.eat(spaced)
        } else {
            self.eat(compact)
        }
    }

    /// A `u64`: `0`, or digits without a leading zero.
    fn uint(&mut self) -> Option<u64> {
        let rest = self.rest();
        let len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let digits = rest.get(..len)?;
        if let [] | [b'0', _, ..] = digits {
            return None;
        }
        let mut n: u64 = 0;
        for d in digits {
            n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        self.at += len;
        Some(n)
    }

    /// A string, quotes included: its raw body (escapes undecoded, but
    /// valid, and UTF-8), or `None` if it breaks JSON's rules.
    fn string(&mut self) -> Option<Str<'a>> {
        let rest = self.rest();
        if rest.first() != Some(&b'"') {
            return None;
        }
        // Mostly plain bytes up to the closing quote: nothing to decode or
        // check further.
        let body = rest.get(1..).unwrap_or_default();
        let run = plain_run(body);
        if body.get(run) == Some(&b'"') {
            self.at += run + 2;
            return Some(Str {
                body: body.get(..run)?,
                plain: true,
            });
        }
        let (end, _) = string(self.json, self.at).ok()?;
        let body = self.json.get(self.at + 1..end - 1)?;
        core::str::from_utf8(body).ok()?;
        self.at = end;
        Some(Str { body, plain: false })
    }

    /// A string that holds `hex` (64 lowercase hex digits) or, failing
    /// that, any string: its body.
    fn hex_string(&mut self, hex: &[u8; 64]) -> Option<&'a [u8]> {
        let rest = self.rest();
        if rest.first() == Some(&b'"') && rest.get(65) == Some(&b'"') {
            if let Some(body) = rest.get(1..65).filter(|body| body == hex) {
                self.at += 66;
                return Some(body);
            }
        }
        self.string().map(|s| s.body)
    }

    /// A JSON number, finite as a double, followed by `,` or `}`: its text.
    fn number(&mut self) -> Option<&'a [u8]> {
        // The common shape, checked here: at most 19 integer digits without
        // a leading zero, and a fraction or not, then `,` or `}` (no exponent:
        // finite). Any other is the strict reader's.
        let rest = self.rest();
        let int = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let mut end = int;
        if rest.get(end) == Some(&b'.') {
            let frac = rest
                .get(end + 1..)
                .unwrap_or_default()
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            end += 1 + frac;
            if frac == 0 {
                end = 0;
            }
        }
        let leading_zero = int > 1 && rest.first() == Some(&b'0');
        if (1..=19).contains(&int) && end > 0 && !leading_zero {
            if let Some(b',' | b'}') = rest.get(end) {
                let text = rest.get(..end)?;
                self.at += end;
                return Some(text);
            }
        }
        let (end, _) = number(self.json, self.at).ok()?;
        if !matches!(self.json.get(end), Some(b',' | b'}')) {
            return None;
        }
        // Digits, signs, `.` and `e`: ASCII.
        let text = self.json.get(self.at..end)?;
        self.at = end;
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::super::read_general;
    use super::super::validate::validate;
    use super::*;
    use crate::clock::Timestamp;
    use crate::draft::{Draft, Tail};
    use crate::hash::{BlockHasher, Hash};
    use crate::head::Link;
    use crate::level::Level;
    extern crate std;
    use std::vec::Vec as StdVec;

    type Fields<'a> = (
        i64,
        &'a [u8],
        &'a [u8],
        Option<u64>,
        bool,
        u64,
        Option<&'a [u8]>,
        &'a [u8],
    );

    fn fields<'a>(b: &Block<'a>) -> Fields<'a> {
        (
            b.levelno,
            b.message,
            b.prev_hash,
            b.seq,
            b.truncated,
            b.unlogged,
            b.version,
            b.timestamp,
        )
    }

    /// The fast reader never disagrees with the general path: whatever it
    /// accepts, the validator accepts and serde-json-core reads to the same
    /// values.
    fn agrees(json: &[u8]) -> bool {
        // Whatever the display line's prev_hash: the genesis hash, the
        // `prev_hash` of most blocks below, or none of them.
        let hints = [[b'0'; 64], BlockHasher::hash(b"plain").to_hex(), [b'f'; 64]];
        let read = hints.map(|hint| read(json, &hint));
        assert!(read.iter().all(|r| r == &read[0]), "{json:?}");
        let Some(fast) = read[0] else {
            return false;
        };
        validate(json)
            .unwrap_or_else(|e| panic!("fast accepted, the validator refused ({e:?}): {json:?}"));
        let slow = read_general(json).unwrap_or_else(|e| {
            panic!("fast accepted, the general path refused ({e:?}): {json:?}")
        });
        // A body is plain only if it is: its display is itself.
        if fast.message_plain {
            assert!(fast
                .message
                .iter()
                .all(|&b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'));
        }
        assert_eq!(
            fields(&fast),
            fields(&slow),
            "{:?}",
            std::string::String::from_utf8_lossy(json)
        );
        true
    }

    fn blocks() -> StdVec<StdVec<u8>> {
        let mut out = StdVec::new();
        let messages = [
            "",
            "plain",
            "a \"quoted\" \\ back\\slash\\",
            "tab\there\nnew line \u{1b}\u{7f}",
            "é ü 😀 | pipes |",
            "ends with backslash \\",
        ];
        for (i, m) in messages.iter().enumerate() {
            for (seq, unlogged, start) in [
                (Some(i as u64), 0, false),
                (None, 3, false),
                (Some(0), 0, true),
            ] {
                let mut draft = Draft::<512>::new(Level::Warning, format_args!("{m}"));
                let tail = Tail {
                    link: Link {
                        prev: BlockHasher::hash(m.as_bytes()),
                        seq,
                    },
                    timestamp: Timestamp::new(1_764_146_337, 541_715),
                    unlogged,
                    chain_start: start,
                };
                draft.close(&tail);
                out.push(draft.block_json().to_vec());
            }
        }
        let mut cut = Draft::<512>::new(Level::Error, format_args!("{}", "x".repeat(600)));
        assert!(cut.truncated());
        cut.close(&Tail {
            link: Link {
                prev: Hash::GENESIS,
                seq: Some(u64::MAX),
            },
            timestamp: Timestamp::default(),
            unlogged: u64::MAX,
            chain_start: false,
        });
        out.push(cut.block_json().to_vec());
        // Hand-written ones: the seed's spacing, other orders, odd numbers.
        let prev = "0".repeat(64);
        for text in [
            std::format!(
                r#"{{"levelno": 20, "message": "m", "prev_hash": "{prev}", "timestamp": 1.5}}"#
            ),
            // The seed's escapes: non-ASCII as \uXXXX, surrogate pairs, quotes.
            std::format!(
                r#"{{"levelno": 20, "message": "caf\u00e9 \u4e2d \ud83d\ude00 \"q\"", "prev_hash": "{prev}", "timestamp": 1795757845.4988792}}"#
            ),
            // Spacing mixed, or other than one space: the general path's.
            std::format!(
                r#"{{"levelno": 20,"message": "m", "prev_hash": "{prev}", "timestamp": 1.5}}"#
            ),
            std::format!(r#"{{"levelno":20, "message":"m","prev_hash":"{prev}","timestamp":1.5}}"#),
            std::format!(
                r#"{{"levelno":  20, "message": "m", "prev_hash": "{prev}", "timestamp": 1.5}}"#
            ),
            std::format!(
                r#"{{"levelno": 20, "message": "m", "prev_hash": "{prev}", "timestamp" : 1.5}}"#
            ),
            std::format!(
                r#"{{"levelno":20,"message":"m","prev_hash":"{prev}","seq":null,"timestamp":1}}"#
            ),
            std::format!(r#"{{"levelno":-20,"message":"m","prev_hash":"{prev}","timestamp":1e5}}"#),
            std::format!(r#"{{"levelno":020,"message":"m","prev_hash":"{prev}","timestamp":1}}"#),
            std::format!(
                r#"{{"levelno":20,"message":"m","prev_hash":"{prev}","timestamp":1,"truncated":false}}"#
            ),
            std::format!(
                r#"{{"levelno":20,"message":"m","prev_hash":"{prev}","timestamp":1,"extra":1}}"#
            ),
            std::format!(r#"{{"levelno":20,"message":"m","prev_hash":"{prev}","timestamp":1}} "#),
            std::format!(
                r#"{{"levelno":20,"message":"a\\\"b\\\\","prev_hash":"{prev}","timestamp":-0.5e+3}}"#
            ),
            std::format!(
                r#"{{"levelno":20,"message":"m","prev_hash":"{prev}","seq":18446744073709551615,"timestamp":1}}"#
            ),
            std::string::String::from(
                r#"{"levelno":999999999999999999,"message":"m","prev_hash":"x","timestamp":1}"#,
            ),
        ] {
            out.push(text.into_bytes());
        }
        out
    }

    #[test]
    fn the_compact_reader_agrees_with_serde_json_core() {
        let mut accepted = 0;
        for json in blocks() {
            if agrees(&json) {
                accepted += 1;
            }
            // Every single-byte change, deletion and duplication.
            for i in 0..json.len() {
                for b in [
                    b'"', b'\\', b'0', b'9', b'}', b',', b':', b' ', b'a', b'-', b'.', b'e', 0x01,
                    0xc3, 0xff,
                ] {
                    let mut changed = json.clone();
                    changed[i] = b;
                    agrees(&changed);
                }
                let mut shorter = json.clone();
                shorter.remove(i);
                agrees(&shorter);
                let mut longer = json.clone();
                longer.insert(i, json[i]);
                agrees(&longer);
                agrees(&json[..i]);
            }
        }
        // Everything this crate writes takes the fast path (19 records), and
        // so do the four hand-written ones in its shape and the two in the
        // seed's.
        assert_eq!(
            accepted,
            19 + 4 + 2,
            "the writer's own blocks must take the fast path"
        );
    }
}
