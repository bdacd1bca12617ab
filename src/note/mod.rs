//! C2SP signed notes (`c2sp.org/signed-note`, Go's
//! `golang.org/x/mod/sumdb/note`): a text, an empty line, and signature
//! lines. Checkpoints ([`TreeCheckpoint`](crate::TreeCheckpoint)) are signed
//! as notes by the log, and cosigned by witnesses (`c2sp.org/tlog-cosignature`).
//!
//! ```text
//! immutable-log/tree/3f6c…e1                      <- the text: what is signed,
//! 1042                                               every line ended by LF
//! q83vEjRWeJ…=
//!                                                 <- one empty line
//! — example.com/log hI2DJw…1roloI=                <- em dash U+2014, space, key name,
//! — witness.example/w1 jWbPPw…IBkBIfZ+qnA==          space, base64(key ID ‖ signature)
//! ```
//!
//! - A **key name** is non-empty, with no Unicode space and no `+`.
//! - A **key ID** is `SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]`, big-endian
//!   ([`key_id`]); type `0x01` is an Ed25519 signature of the text, `0x04` an
//!   Ed25519 cosignature (`cosignature/v1`, a timestamp, then the text).
//! - A **verifier key** is `NAME+<8 hex ID>+base64(type ‖ public key)`
//!   ([`VerifierKey`]); a **signer key** `PRIVATE+KEY+NAME+<8 hex
//!   ID>+base64(type ‖ seed)` (`SignerKey`, feature `note`).
//!
//! This module reads notes and keys with no heap and no Ed25519 (a note
//! borrows the bytes it was read from). Signing and verifying
//! (`SignerKey`, `verify`) need feature `note` (Ed25519 through
//! `ed25519-dalek`, no_std, no heap).
//!
//! What a verifier does (the spec's rules, and Go's `note.Open`): the note is
//! UTF-8 with no control character but LF; the text is everything up to and
//! including the LF before the **last** empty line; each signature line is
//! checked for shape. A signature whose name and key ID match no given key is
//! ignored; one that matches a key must verify, or the whole note is refused;
//! at least one known key must have signed, and `quorum` of them in all.
//! More than [`MAX_SIGNATURES`] signature lines is refused (Go's limit; the
//! spec asks for at least 16).
//!
//! (Over 450 lines for its unit tests: the code is under 450.)

use core::fmt;

use base64ct::{Base64, Decoder, Encoding};

#[cfg(feature = "note")]
mod ed25519;
mod keys;

#[cfg(feature = "note")]
#[cfg_attr(docsrs, doc(cfg(feature = "note")))]
pub use ed25519::{verify, SignatureText, SignerKey, Verified, MAX_KEYS};
pub use keys::{is_valid_key_name, key_id, KeyError, KeyType, VerifierKey};

/// The most signature lines a note may have (Go's `note.Open` limit).
pub const MAX_SIGNATURES: usize = 100;

/// The most signature bytes (after the key ID) a [`SignatureLine`] keeps: an
/// Ed25519 cosignature's 8-byte timestamp and 64-byte signature. Longer
/// signatures (other algorithms) are read, checked for shape, and only
/// counted.
pub const MAX_KEPT_SIGNATURE: usize = 72;

/// What begins every signature line: em dash (U+2014), space.
pub const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// A signed note, borrowed from its bytes: the text and the signature lines,
/// checked for shape (not verified: see `verify`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Note<'a> {
    text: &'a str,
    signatures: &'a str,
    /// The 1-based line number of the first signature line.
    first_line: usize,
}

/// A note, a signature line or a key is not what the format says, or a note
/// does not verify.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum NoteError {
    /// The note is not UTF-8, or holds a control character other than LF.
    NotText {
        /// The byte offset of the first such byte.
        offset: usize,
    },
    /// No empty line followed by signature lines: an unsigned text.
    NoSignatures,
    /// A signature line is malformed.
    SignatureLine {
        /// Its 1-based line number in the note.
        line: usize,
        /// What is wrong with it.
        fault: LineFault,
    },
    /// More than [`MAX_SIGNATURES`] signature lines.
    TooManySignatures {
        /// The limit.
        limit: usize,
    },
    /// A text to sign is empty or does not end with LF.
    TextNotEnded,
    /// A cosignature's timestamp is above `2^63 - 1` (tlog-cosignature).
    TimestampTooLarge,
    /// A key of the wrong type for what was asked (a cosigner key to
    /// `SignerKey::sign`, a plain one to
    /// `SignerKey::cosign`).
    WrongKeyType {
        /// The type the key has.
        found: KeyType,
    },
    /// The signature on a line whose key name and ID match a given key does
    /// not verify: the note was changed, or signed by another key with the
    /// same name and ID.
    BadSignature {
        /// The signature line's 1-based line number.
        line: usize,
        /// The index of the key in the list given.
        key: usize,
    },
    /// No signature by any of the keys given.
    NoKnownSignature {
        /// Signature lines by keys not given (ignored).
        unknown: usize,
    },
    /// Fewer of the keys given signed than the quorum asks for.
    QuorumNotMet {
        /// The quorum.
        needed: usize,
        /// The keys whose signatures verified.
        found: usize,
    },
    /// More keys than a verifier takes at once.
    TooManyKeys {
        /// The limit.
        limit: usize,
    },
    /// Two keys given have the same name and key ID: which one signed could
    /// not be told.
    DuplicateKey {
        /// The index of the first.
        first: usize,
        /// The index of the second.
        second: usize,
    },
}

/// What is wrong with a signature line.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum LineFault {
    /// It does not begin with em dash (U+2014) and a space.
    NoDash,
    /// The key name is empty, or holds a space or `+`.
    Name,
    /// No space and base64 after the name, or not canonical, padded standard
    /// base64.
    Base64,
    /// Fewer than 5 bytes: a key ID and at least one byte of signature.
    TooShort,
    /// The last line does not end with LF.
    NoNewline,
}

impl fmt::Display for LineFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LineFault::NoDash => "it does not begin with an em dash (U+2014) and a space",
            LineFault::Name => "the key name is empty or holds a space or '+'",
            LineFault::Base64 => "the signature is not canonical, padded standard base64",
            LineFault::TooShort => "the signature is shorter than a key ID and one byte",
            LineFault::NoNewline => "it does not end with LF",
        })
    }
}

impl fmt::Display for NoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoteError::NotText { offset } => write!(
                f,
                "note: byte {offset} is not UTF-8 text, or a control character other than LF"
            ),
            NoteError::NoSignatures => f.write_str(
                "note: no signatures (a signed note is its text, an empty line, signature lines)",
            ),
            NoteError::SignatureLine { line, fault } => {
                write!(f, "note: signature line {line}: {fault}")
            }
            NoteError::TooManySignatures { limit } => {
                write!(f, "note: more than {limit} signature lines")
            }
            NoteError::TextNotEnded => f.write_str("note: the text to sign does not end with LF"),
            NoteError::TimestampTooLarge => {
                f.write_str("note: a cosignature timestamp above 2^63 - 1")
            }
            NoteError::WrongKeyType { found } => {
                write!(f, "note: a {found} key cannot make this signature")
            }
            NoteError::BadSignature { line, key } => write!(
                f,
                "note: the signature on line {line} does not verify with key {} given \
                 (its name and key ID match): the note was changed or the key is not the signer's",
                key + 1
            ),
            NoteError::NoKnownSignature { unknown } => write!(
                f,
                "note: not signed by any key given ({unknown} signature(s) by other keys ignored)"
            ),
            NoteError::QuorumNotMet { needed, found } => write!(
                f,
                "note: signed by {found} of the keys given, {needed} required"
            ),
            NoteError::TooManyKeys { limit } => {
                write!(f, "note: more than {limit} verifier keys given")
            }
            NoteError::DuplicateKey { first, second } => write!(
                f,
                "note: verifier keys {} and {} have the same name and key ID",
                first + 1,
                second + 1
            ),
        }
    }
}

impl core::error::Error for NoteError {}

/// The offset of the first byte that is not note text: not UTF-8, or a
/// control character other than LF.
pub(crate) fn not_text(bytes: &[u8]) -> Option<usize> {
    match core::str::from_utf8(bytes) {
        Err(e) => Some(e.valid_up_to()),
        Ok(text) => text.bytes().position(|b| b < 0x20 && b != b'\n'),
    }
}

impl<'a> Note<'a> {
    /// Reads a signed note: checks it is text, splits the text from the
    /// signature lines at the last empty line, and checks each signature
    /// line's shape (see the module docs).
    pub fn parse(msg: &'a [u8]) -> Result<Self, NoteError> {
        if let Some(offset) = not_text(msg) {
            return Err(NoteError::NotText { offset });
        }
        let msg = core::str::from_utf8(msg).map_err(|e| NoteError::NotText {
            offset: e.valid_up_to(),
        })?;
        let split = msg.rfind("\n\n").ok_or(NoteError::NoSignatures)?;
        let (text, signatures) = (
            msg.get(..split + 1).unwrap_or_default(),
            msg.get(split + 2..).unwrap_or_default(),
        );
        if signatures.is_empty() {
            return Err(NoteError::NoSignatures);
        }
        let first_line = text.bytes().filter(|&b| b == b'\n').count() + 2;
        let note = Note {
            text,
            signatures,
            first_line,
        };
        let mut count = 0;
        for (i, line) in signatures.split_inclusive('\n').enumerate() {
            let line_no = first_line + i;
            let line = line.strip_suffix('\n').ok_or(NoteError::SignatureLine {
                line: line_no,
                fault: LineFault::NoNewline,
            })?;
            count += 1;
            if count > MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures {
                    limit: MAX_SIGNATURES,
                });
            }
            SignatureLine::parse(line, line_no)?;
        }
        Ok(note)
    }

    /// Splits a note that may be unsigned: `(text, None)` when it has no
    /// signature block (no empty line followed by lines that begin with an
    /// em dash), else what [`parse`](Self::parse) says.
    pub fn parse_maybe_signed(msg: &'a [u8]) -> Result<(&'a [u8], Option<Self>), NoteError> {
        let signed = msg
            .windows(2)
            .rposition(|w| w == b"\n\n")
            .and_then(|split| msg.get(split + 2..))
            .is_some_and(|sigs| sigs.starts_with(SIGNATURE_PREFIX.as_bytes()));
        if signed {
            Note::parse(msg).map(|note| (note.text.as_bytes(), Some(note)))
        } else {
            Ok((msg, None))
        }
    }

    /// The text: what the signatures sign, ended by LF.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The signature lines (including their LFs), as they stand.
    pub fn signature_block(&self) -> &'a str {
        self.signatures
    }

    /// The signature lines, read.
    pub fn signatures(&self) -> impl Iterator<Item = SignatureLine<'a>> + 'a {
        let first = self.first_line;
        self.signatures
            .split_terminator('\n')
            .enumerate()
            .filter_map(move |(i, line)| SignatureLine::parse(line, first + i).ok())
    }
}

/// One signature line: `— NAME base64(key ID ‖ signature)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SignatureLine<'a> {
    name: &'a str,
    id: u32,
    bytes: [u8; MAX_KEPT_SIGNATURE],
    len: usize,
    line: usize,
}

impl<'a> SignatureLine<'a> {
    /// Reads a signature line without its LF (`line_no`: where it stands,
    /// for errors).
    pub fn parse(line: &'a str, line_no: usize) -> Result<Self, NoteError> {
        let fault = |fault| NoteError::SignatureLine {
            line: line_no,
            fault,
        };
        let rest = line
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or(fault(LineFault::NoDash))?;
        let (name, b64) = rest.split_once(' ').ok_or(fault(LineFault::Base64))?;
        if !is_valid_key_name(name) {
            return Err(fault(LineFault::Name));
        }
        let mut decoder =
            Decoder::<Base64>::new(b64.as_bytes()).map_err(|_| fault(LineFault::Base64))?;
        let total = decoder.remaining_len();
        if total < 5 {
            return Err(fault(LineFault::TooShort));
        }
        let mut id = [0u8; 4];
        decoder
            .decode(&mut id)
            .map_err(|_| fault(LineFault::Base64))?;
        let len = total - 4;
        let mut bytes = [0u8; MAX_KEPT_SIGNATURE];
        if let Some(keep) = bytes.get_mut(..len) {
            decoder.decode(keep).map_err(|_| fault(LineFault::Base64))?;
        } else {
            // Longer than any signature this crate checks: only its shape.
            let mut scratch = [0u8; 96];
            let mut left = len;
            while left > 0 {
                let n = left.min(scratch.len());
                let chunk = scratch.get_mut(..n).unwrap_or_default();
                decoder
                    .decode(chunk)
                    .map_err(|_| fault(LineFault::Base64))?;
                left -= n;
            }
        }
        // Canonical: re-encoding gives the same text (no stray bits, the
        // right padding), as base64ct's whole-buffer decoder requires.
        if !decoder.is_finished() || !canonical_tail(b64) {
            return Err(fault(LineFault::Base64));
        }
        Ok(SignatureLine {
            name,
            id: u32::from_be_bytes(id),
            bytes,
            len,
            line: line_no,
        })
    }

    /// The key name.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The key ID.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The signature bytes after the key ID, when at most
    /// [`MAX_KEPT_SIGNATURE`] long.
    pub fn signature(&self) -> Option<&[u8]> {
        self.bytes.get(..self.len)
    }

    /// The signature's length in bytes (after the key ID).
    pub fn signature_len(&self) -> usize {
        self.len
    }

    /// The 1-based line number in the note.
    pub fn line(&self) -> usize {
        self.line
    }
}

/// The last base64 quantum is canonical: decoding and re-encoding it gives
/// it back (no set bits after the data, padding where it belongs).
fn canonical_tail(b64: &str) -> bool {
    let Some(start) = b64.len().checked_sub(4) else {
        return false;
    };
    let Some(tail) = b64.as_bytes().get(start..) else {
        return false;
    };
    let mut raw = [0u8; 3];
    let mut again = [0u8; 4];
    match Base64::decode(tail, &mut raw) {
        Ok(decoded) => {
            let decoded_len = decoded.len();
            let raw = raw.get(..decoded_len).unwrap_or_default();
            matches!(Base64::encode(raw, &mut again), Ok(e) if e.as_bytes() == tail)
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::format;
    use std::string::String;

    const PETER_MSG: &str = "If you think cryptography is the answer to your problem,\n\
        then you don't know what your problem is.\n\
        \n\
        — PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn go_example_note_reads() {
        let note = Note::parse(PETER_MSG.as_bytes()).unwrap();
        assert_eq!(
            note.text(),
            "If you think cryptography is the answer to your problem,\n\
             then you don't know what your problem is.\n"
        );
        let sigs: std::vec::Vec<_> = note.signatures().collect();
        assert_eq!(sigs.len(), 1);
        assert_eq!(sigs[0].name(), "PeterNeumann");
        assert_eq!(sigs[0].id(), 0xc74f20a3);
        assert_eq!(sigs[0].signature().map(<[u8]>::len), Some(64));
        assert_eq!(sigs[0].line(), 4);
    }

    #[test]
    fn malformed_notes_say_what_and_where() {
        let err = |m: &str| Note::parse(m.as_bytes()).unwrap_err();
        assert_eq!(err("hello\n"), NoteError::NoSignatures);
        assert_eq!(err("hello\n\n"), NoteError::NoSignatures);
        assert_eq!(
            err("a\tb\n\n— x AAAAAAA=\n"),
            NoteError::NotText { offset: 1 }
        );
        assert_eq!(
            Note::parse(b"a\xffb\n\n").unwrap_err(),
            NoteError::NotText { offset: 1 }
        );
        let line = |fault| NoteError::SignatureLine { line: 3, fault };
        assert_eq!(err("t\n\n- x AAAAAAA=\n"), line(LineFault::NoDash));
        assert_eq!(err("t\n\n— x AAAAAAA="), line(LineFault::NoNewline));
        assert_eq!(err("t\n\n— a+b AAAAAAA=\n"), line(LineFault::Name));
        assert_eq!(err("t\n\n—  AAAAAAA=\n"), line(LineFault::Name));
        assert_eq!(err("t\n\n— x\n"), line(LineFault::Base64));
        assert_eq!(err("t\n\n— x \n"), line(LineFault::Base64));
        assert_eq!(err("t\n\n— x AAAA!AA=\n"), line(LineFault::Base64));
        assert_eq!(err("t\n\n— x AAAAAA==\n"), line(LineFault::TooShort));
        // Not canonical: a set bit after the data.
        assert_eq!(err("t\n\n— x AAAAAAB=\n"), line(LineFault::Base64));
        assert_eq!(err("t\n\n— x AAAAAAA\n"), line(LineFault::Base64));
        // The second line is the one at fault.
        assert_eq!(
            err("t\n\n— x AAAAAAA=\n— y ?\n"),
            NoteError::SignatureLine {
                line: 4,
                fault: LineFault::Base64
            }
        );
        // The last empty line splits: an empty line inside the text is text.
        let note = Note::parse(b"a\n\nb\n\n\xe2\x80\x94 x AAAAAAA=\n").unwrap();
        assert_eq!(note.text(), "a\n\nb\n");
    }

    #[test]
    fn signature_count_is_bounded() {
        let line = "— x AAAAAAA=\n";
        let ok = format!("t\n\n{}", line.repeat(MAX_SIGNATURES));
        assert_eq!(
            Note::parse(ok.as_bytes()).unwrap().signatures().count(),
            100
        );
        let too_many = format!("{ok}{line}");
        assert_eq!(
            Note::parse(too_many.as_bytes()),
            Err(NoteError::TooManySignatures { limit: 100 })
        );
    }

    #[test]
    fn long_signatures_are_read_but_not_kept() {
        // A 4 + 2420-byte signature (ML-DSA-44's size): shape only.
        let raw = [7u8; 2424];
        let mut b64 = [0u8; 3232];
        let b64 = Base64::encode(&raw, &mut b64).unwrap();
        let msg = format!("t\n\n— pq {b64}\n");
        let note = Note::parse(msg.as_bytes()).unwrap();
        let sig = note.signatures().next().unwrap();
        assert_eq!(sig.id(), 0x07070707);
        assert_eq!(sig.signature_len(), 2420);
        assert_eq!(sig.signature(), None);
        // One bad character deep inside is still caught.
        let mut bad = String::from(b64);
        bad.replace_range(1000..1001, "*");
        let msg = format!("t\n\n— pq {bad}\n");
        assert!(Note::parse(msg.as_bytes()).is_err());
    }

    #[test]
    fn unsigned_texts_pass_through_parse_maybe_signed() {
        let text = b"origin\n5\nAAAA\n";
        assert_eq!(Note::parse_maybe_signed(text), Ok((&text[..], None)));
        let (text, note) = Note::parse_maybe_signed(PETER_MSG.as_bytes()).unwrap();
        assert!(note.is_some());
        assert!(text.ends_with(b"is.\n"));
    }
}
