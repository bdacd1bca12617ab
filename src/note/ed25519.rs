//! Signing and verifying notes with Ed25519 (feature `note`): signer keys,
//! signatures (`0x01`) and `cosignature/v1` cosignatures (`0x04`), and
//! verification against a set of keys with a quorum.
//!
//! A cosignature (`c2sp.org/tlog-cosignature`) signs, with Ed25519, the
//! lines `cosignature/v1` and `time <POSIX seconds>`, then the note text;
//! its signature bytes are the 8-byte big-endian timestamp, then the 64-byte
//! signature. Both are made and checked over the message in parts (no copy,
//! no heap).
//!
//! (Over 450 lines for its unit tests: the code is under 400.)

use core::fmt;

use base64ct::{Base64, Encoding};
use ed25519_dalek::ed25519::signature::{MultipartSigner, MultipartVerifier, Signer, Verifier};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use super::keys::{expect_id, name_id_key};
use super::{not_text, KeyError, KeyType, Note, NoteError, VerifierKey, SIGNATURE_PREFIX};

/// The most verifier keys [`verify`] takes at once.
pub const MAX_KEYS: usize = 64;

/// The largest cosignature timestamp (`2^63 - 1`).
const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// A signer key: a name and an Ed25519 key that signs (type `0x01`) or
/// cosigns (`0x04`). Its text, `PRIVATE+KEY+NAME+<8 hex ID>+base64(type ‖
/// 32-byte seed)`, is Go's `note.NewSigner` format. The key is zeroized when
/// dropped; `Debug` does not show it.
///
/// ```
/// use immutable_log::note::{verify, KeyType, Note, SignerKey};
/// let signer = SignerKey::from_seed("example.com/log", KeyType::Ed25519, &[7; 32])?;
/// let text = "example.com/log\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
/// let note = format!("{text}\n{}", signer.sign(text)?);
/// let verified = verify(&Note::parse(note.as_bytes())?, &[signer.verifier_key()], 1)?;
/// assert_eq!(verified.count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SignerKey<'a> {
    key: SigningKey,
    /// Name, key ID and type live here once: the signer's are its verifier's.
    public: VerifierKey<'a>,
}

impl<'a> SignerKey<'a> {
    /// The signer of `name` with the Ed25519 key of this 32-byte seed.
    pub fn from_seed(name: &'a str, key_type: KeyType, seed: &[u8; 32]) -> Result<Self, KeyError> {
        let key = SigningKey::from_bytes(seed);
        let public = VerifierKey::new(name, key_type, key.verifying_key().to_bytes())?;
        Ok(SignerKey { key, public })
    }

    /// Reads a signer key text (exactly); its key ID must be the one of its
    /// name and the public key its seed gives.
    pub fn parse(text: &'a str) -> Result<Self, KeyError> {
        let rest = text
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(KeyError::NotPrivate)?;
        let (name, rest) = rest.split_once('+').ok_or(KeyError::Name)?;
        let (name, id, key_type, seed) = name_id_key(name, rest)?;
        let seed = Zeroizing::new(seed);
        let key = SignerKey::from_seed(name, key_type, &seed)?;
        expect_id(id, key.id())?;
        Ok(key)
    }

    /// The key name.
    pub fn name(&self) -> &'a str {
        self.public.name()
    }

    /// The key ID.
    pub fn id(&self) -> u32 {
        self.public.id()
    }

    /// What the key signs: notes (`Ed25519`) or cosignatures.
    pub fn key_type(&self) -> KeyType {
        self.public.key_type()
    }

    /// The verifier key that checks this key's signatures.
    pub fn verifier_key(&self) -> VerifierKey<'a> {
        self.public
    }

    /// Writes the secret key text, `PRIVATE+KEY+NAME+<ID>+base64(type ‖
    /// seed)`, through zeroized buffers (give it a zeroizing one).
    pub fn write_secret_text<W: fmt::Write>(&self, out: &mut W) -> fmt::Result {
        let mut raw = Zeroizing::new([0u8; 33]);
        let [key_type, seed @ ..] = &mut *raw;
        *key_type = self.key_type().byte();
        seed.copy_from_slice(self.key.as_bytes());
        let mut b64 = Zeroizing::new([0u8; 44]);
        let b64 = Base64::encode(&*raw, &mut *b64).map_err(|_| fmt::Error)?;
        write!(out, "PRIVATE+KEY+{}+{:08x}+", self.name(), self.id())?;
        out.write_str(b64)
    }

    /// The signature line of an Ed25519 (`0x01`) key over `text` (a note
    /// text: ended by LF, no control character but LF).
    pub fn sign(&self, text: &str) -> Result<SignatureText<'a>, NoteError> {
        if self.key_type() != KeyType::Ed25519 {
            return Err(NoteError::WrongKeyType {
                found: self.key_type(),
            });
        }
        check_text(text)?;
        let signature = self.key.sign(text.as_bytes()).to_bytes();
        Ok(SignatureText::new(self.name(), self.id(), &[], &signature))
    }

    /// The `cosignature/v1` line of a cosigner (`0x04`) key over `text` (a
    /// checkpoint's note text) at `timestamp` (POSIX seconds, at most
    /// `2^63 - 1`).
    ///
    /// A witness cosigns only a checkpoint it has checked: signed by the
    /// log, and consistent with the last one it cosigned for that origin
    /// (`c2sp.org/tlog-witness`).
    pub fn cosign(&self, text: &str, timestamp: u64) -> Result<SignatureText<'a>, NoteError> {
        if self.key_type() != KeyType::Cosignature {
            return Err(NoteError::WrongKeyType {
                found: self.key_type(),
            });
        }
        if timestamp > MAX_TIMESTAMP {
            return Err(NoteError::TimestampTooLarge);
        }
        check_text(text)?;
        let header = CosignHeader::new(timestamp);
        let signature = self
            .key
            .try_multipart_sign(&[header.as_bytes(), text.as_bytes()])
            .map_err(|_| NoteError::TextNotEnded)?
            .to_bytes();
        Ok(SignatureText::new(
            self.name(),
            self.id(),
            &timestamp.to_be_bytes(),
            &signature,
        ))
    }
}

impl fmt::Debug for SignerKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerKey")
            .field("name", &self.name())
            .field("id", &format_args!("{:08x}", self.id()))
            .field("key_type", &self.key_type())
            .finish_non_exhaustive()
    }
}

/// A note text to sign: ended by LF, UTF-8 without other control characters.
fn check_text(text: &str) -> Result<(), NoteError> {
    if let Some(offset) = not_text(text.as_bytes()) {
        return Err(NoteError::NotText { offset });
    }
    if !text.ends_with('\n') {
        return Err(NoteError::TextNotEnded);
    }
    Ok(())
}

/// `cosignature/v1\ntime <decimal>\n`, at most 41 bytes.
struct CosignHeader {
    bytes: [u8; 41],
    len: usize,
}

impl CosignHeader {
    fn new(timestamp: u64) -> Self {
        const HEAD: &[u8] = b"cosignature/v1\ntime ";
        let mut bytes = [0u8; 41];
        let mut len = 0;
        {
            let mut put = |b: u8| {
                if let Some(slot) = bytes.get_mut(len) {
                    *slot = b;
                    len += 1;
                }
            };
            HEAD.iter().for_each(|&b| put(b));
            let mut digits = [0u8; 20];
            let mut n = timestamp;
            let mut count = 0;
            for slot in digits.iter_mut() {
                *slot = b'0' + (n % 10) as u8;
                n /= 10;
                count += 1;
                if n == 0 {
                    break;
                }
            }
            digits.iter().take(count).rev().for_each(|&d| put(d));
            put(b'\n');
        }
        CosignHeader { bytes, len }
    }

    fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// One signature line to append to a note: `— NAME base64(ID ‖ signature)`
/// and LF, printed by `Display`. No heap.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SignatureText<'a> {
    name: &'a str,
    /// Key ID, then (a timestamp and) the signature.
    bytes: [u8; 4 + 8 + 64],
    len: usize,
}

impl<'a> SignatureText<'a> {
    fn new(name: &'a str, id: u32, timestamp: &[u8], signature: &[u8; 64]) -> Self {
        let mut bytes = [0u8; 76];
        let mut len = 0;
        for part in [&id.to_be_bytes()[..], timestamp, signature] {
            if let Some(slot) = bytes.get_mut(len..len + part.len()) {
                slot.copy_from_slice(part);
                len += part.len();
            }
        }
        SignatureText { name, bytes, len }
    }

    /// The key name.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The raw bytes the line carries in base64: key ID, (timestamp,)
    /// signature.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

impl fmt::Display for SignatureText<'_> {
    /// The line, with its LF.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut b64 = [0u8; 104];
        let b64 = Base64::encode(self.bytes(), &mut b64).map_err(|_| fmt::Error)?;
        writeln!(f, "{SIGNATURE_PREFIX}{} {b64}", self.name)
    }
}

/// Which of the keys given signed a note ([`verify`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Verified {
    signers: u64,
    unknown: usize,
}

impl Verified {
    /// How many of the keys given signed (each counted once).
    pub fn count(&self) -> usize {
        self.signers.count_ones() as usize
    }

    /// Whether key `index` of the list given signed.
    pub fn signed_by(&self, index: usize) -> bool {
        index < MAX_KEYS && self.signers >> index & 1 == 1
    }

    /// Signature lines by keys not given (ignored, as the spec asks).
    pub fn unknown(&self) -> usize {
        self.unknown
    }
}

/// Verifies a note's signatures against `keys` (at most [`MAX_KEYS`]),
/// needing `quorum` of them to have signed (and always at least one).
///
/// A signature line whose name and key ID match no key is ignored; one that
/// matches must verify (Ed25519 over the text, or a `cosignature/v1` over
/// its timestamp and the text), or the note is refused
/// ([`NoteError::BadSignature`]), as C2SP signed-note recommends. Each key
/// counts once, however many lines it signed.
pub fn verify(
    note: &Note<'_>,
    keys: &[VerifierKey<'_>],
    quorum: usize,
) -> Result<Verified, NoteError> {
    if keys.len() > MAX_KEYS {
        return Err(NoteError::TooManyKeys { limit: MAX_KEYS });
    }
    for (first, a) in keys.iter().enumerate() {
        for (offset, b) in keys.iter().skip(first + 1).enumerate() {
            if a.name() == b.name() && a.id() == b.id() {
                return Err(NoteError::DuplicateKey {
                    first,
                    second: first + 1 + offset,
                });
            }
        }
    }
    let mut verified = Verified {
        signers: 0,
        unknown: 0,
    };
    for line in note.signatures() {
        let Some(index) = keys
            .iter()
            .position(|k| k.name() == line.name() && k.id() == line.id())
        else {
            verified.unknown += 1;
            continue;
        };
        let bad = NoteError::BadSignature {
            line: line.line(),
            key: index,
        };
        let key = keys.get(index).ok_or(bad)?;
        let signature = line.signature().ok_or(bad)?;
        if !signature_verifies(key, note.text(), signature) {
            return Err(bad);
        }
        verified.signers |= 1 << index;
    }
    let found = verified.count();
    if found == 0 {
        return Err(NoteError::NoKnownSignature {
            unknown: verified.unknown,
        });
    }
    if found < quorum {
        return Err(NoteError::QuorumNotMet {
            needed: quorum,
            found,
        });
    }
    Ok(verified)
}

/// One signature, by its key's type.
fn signature_verifies(key: &VerifierKey<'_>, text: &str, signature: &[u8]) -> bool {
    let Ok(public) = VerifyingKey::from_bytes(key.public_key()) else {
        return false;
    };
    match key.key_type() {
        KeyType::Ed25519 => match <&[u8; 64]>::try_from(signature) {
            Ok(sig) => public
                .verify(text.as_bytes(), &Signature::from_bytes(sig))
                .is_ok(),
            Err(_) => false,
        },
        KeyType::Cosignature => {
            let Some((timestamp, sig)) = signature.split_first_chunk::<8>() else {
                return false;
            };
            let (timestamp, Ok(sig)) = (u64::from_be_bytes(*timestamp), <&[u8; 64]>::try_from(sig))
            else {
                return false;
            };
            if timestamp > MAX_TIMESTAMP {
                return false;
            }
            let header = CosignHeader::new(timestamp);
            public
                .multipart_verify(
                    &[header.as_bytes(), text.as_bytes()],
                    &Signature::from_bytes(sig),
                )
                .is_ok()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::format;
    use std::string::{String, ToString};

    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
        then you don't know what your problem is.\n";
    const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    fn peter() -> SignerKey<'static> {
        SignerKey::parse(PETER_SKEY).unwrap()
    }

    /// Go's TestSign: the same key and text give the same signature line.
    #[test]
    fn go_sign_vector() {
        let signer = peter();
        assert_eq!(signer.verifier_key().to_string(), PETER_VKEY);
        assert_eq!(signer.sign(PETER_TEXT).unwrap().to_string(), PETER_SIG);
        let mut text = String::new();
        signer.write_secret_text(&mut text).unwrap();
        assert_eq!(text, PETER_SKEY);
        assert!(!format!("{signer:?}").contains("AYEK"));
    }

    /// Go's TestOpen, in part: the doubly signed example note.
    #[test]
    fn go_open_vectors() {
        let msg = format!("{PETER_TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        let note = Note::parse(msg.as_bytes()).unwrap();
        let peter = VerifierKey::parse(PETER_VKEY).unwrap();
        let v = verify(&note, &[peter], 1).unwrap();
        assert_eq!((v.count(), v.unknown()), (1, 1));
        assert!(v.signed_by(0));
        // A bad signature by a known key refuses the note.
        let bad = msg.replace("ZJkuBS9", "ZJkuBS8");
        let note = Note::parse(bad.as_bytes()).unwrap();
        assert_eq!(
            verify(&note, &[peter], 1),
            Err(NoteError::BadSignature { line: 4, key: 0 })
        );
        // The text changed: the same.
        let changed = msg.replace("cryptography", "cryptographY");
        let note = Note::parse(changed.as_bytes()).unwrap();
        assert!(matches!(
            verify(&note, &[peter], 1),
            Err(NoteError::BadSignature { .. })
        ));
    }

    /// Go's TestSignerManglings: every substring and every byte bumped is refused.
    #[test]
    fn go_signer_manglings_are_refused() {
        let b = PETER_SKEY.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i == 0 && j == b.len() {
                    continue;
                }
                let s = std::str::from_utf8(&b[i..j]).unwrap();
                assert!(SignerKey::parse(s).is_err(), "{s:?}");
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] = m[i].wrapping_add(1);
            if let Ok(s) = String::from_utf8(m) {
                assert!(SignerKey::parse(&s).is_err(), "{s:?}");
            }
        }
    }

    #[test]
    fn unknown_keys_are_ignored_and_quorum_counts_keys() {
        let log = SignerKey::from_seed("log", KeyType::Ed25519, &[1; 32]).unwrap();
        let w1 = SignerKey::from_seed("w1", KeyType::Cosignature, &[2; 32]).unwrap();
        let w2 = SignerKey::from_seed("w2", KeyType::Cosignature, &[3; 32]).unwrap();
        let w3 = SignerKey::from_seed("w3", KeyType::Cosignature, &[4; 32]).unwrap();
        let text = "log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let msg = format!(
            "{text}\n{}{}{}{}",
            log.sign(text).unwrap(),
            w1.cosign(text, 1_700_000_000).unwrap(),
            w2.cosign(text, 0).unwrap(),
            // Twice by the same key: counted once.
            w2.cosign(text, 5).unwrap(),
        );
        let note = Note::parse(msg.as_bytes()).unwrap();
        let keys = [
            log.verifier_key(),
            w1.verifier_key(),
            w2.verifier_key(),
            w3.verifier_key(),
        ];
        assert_eq!(verify(&note, &keys, 3).map(|v| v.count()), Ok(3));
        assert_eq!(
            verify(&note, &keys, 4),
            Err(NoteError::QuorumNotMet {
                needed: 4,
                found: 3
            })
        );
        // Only w3 given: nobody known signed.
        assert_eq!(
            verify(&note, &keys[3..], 1),
            Err(NoteError::NoKnownSignature { unknown: 4 })
        );
        // Quorum 0 still needs one known signature.
        assert!(verify(&note, &keys[3..], 0).is_err());
        // Same name, another key: its ID differs, so it is unknown, not bad.
        let other = SignerKey::from_seed("w1", KeyType::Cosignature, &[9; 32]).unwrap();
        assert_eq!(
            verify(&note, &[other.verifier_key()], 1),
            Err(NoteError::NoKnownSignature { unknown: 4 })
        );
        assert_eq!(
            verify(&note, &[keys[0], keys[1], keys[0]], 1),
            Err(NoteError::DuplicateKey {
                first: 0,
                second: 2
            })
        );
        let many = [keys[0]; MAX_KEYS + 1];
        assert_eq!(
            verify(&note, &many, 1),
            Err(NoteError::TooManyKeys { limit: MAX_KEYS })
        );
    }

    #[test]
    fn a_cosignature_signs_its_timestamp() {
        let w = SignerKey::from_seed("w", KeyType::Cosignature, &[2; 32]).unwrap();
        let text = "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
        let line = w.cosign(text, 1_679_315_147).unwrap();
        assert_eq!(&line.bytes()[4..12], &1_679_315_147u64.to_be_bytes());
        // Another timestamp in the same line: no longer verifies.
        let mut bytes = [0u8; 76];
        bytes.copy_from_slice(line.bytes());
        bytes[11] ^= 1;
        let mut b64 = [0u8; 104];
        let forged = format!(
            "{text}\n— w {}\n",
            Base64::encode(&bytes, &mut b64).unwrap()
        );
        let note = Note::parse(forged.as_bytes()).unwrap();
        assert!(matches!(
            verify(&note, &[w.verifier_key()], 1),
            Err(NoteError::BadSignature { .. })
        ));
        assert_eq!(
            CosignHeader::new(u64::MAX).as_bytes(),
            b"cosignature/v1\ntime 18446744073709551615\n"
        );
        assert_eq!(CosignHeader::new(0).as_bytes(), b"cosignature/v1\ntime 0\n");
        assert_eq!(w.cosign(text, 1 << 63), Err(NoteError::TimestampTooLarge));
    }

    #[test]
    fn keys_sign_only_their_kind_and_texts_must_end() {
        let log = peter();
        let w = SignerKey::from_seed("w", KeyType::Cosignature, &[2; 32]).unwrap();
        assert_eq!(
            log.cosign("t\n", 1),
            Err(NoteError::WrongKeyType {
                found: KeyType::Ed25519
            })
        );
        assert_eq!(
            w.sign("t\n"),
            Err(NoteError::WrongKeyType {
                found: KeyType::Cosignature
            })
        );
        assert_eq!(log.sign("t"), Err(NoteError::TextNotEnded));
        assert_eq!(log.sign(""), Err(NoteError::TextNotEnded));
        assert_eq!(log.sign("a\rb\n"), Err(NoteError::NotText { offset: 1 }));
        // A cosigner's secret text reads back as the same cosigner.
        let mut text = String::new();
        w.write_secret_text(&mut text).unwrap();
        let again = SignerKey::parse(&text).unwrap();
        assert_eq!(again.verifier_key(), w.verifier_key());
        assert_eq!(again.key_type(), KeyType::Cosignature);
        assert_eq!(w.verifier_key().to_string().len(), "w+".len() + 9 + 44);
        let _ = ToString::to_string(&w.verifier_key());
    }
}
