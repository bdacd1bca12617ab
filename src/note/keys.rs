//! Key names, key IDs and verifier keys (`NAME+<hex ID>+base64(type ‖ key)`),
//! as C2SP signed-note and Go's `note.NewVerifier` read them.

use core::fmt;

use base64ct::{Base64, Encoding};
use sha2::{Digest, Sha256};

/// What kind of signature a key makes: the type byte of its key ID and its
/// key text.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum KeyType {
    /// `0x01`: an Ed25519 signature of the note text (a log's signature).
    Ed25519,
    /// `0x04`: a timestamped Ed25519 cosignature of a checkpoint
    /// (`c2sp.org/tlog-cosignature`, `cosignature/v1`: a witness's).
    Cosignature,
}

impl KeyType {
    /// The type byte.
    pub const fn byte(self) -> u8 {
        match self {
            KeyType::Ed25519 => 0x01,
            KeyType::Cosignature => 0x04,
        }
    }

    /// The type of a type byte this crate signs and verifies with.
    pub const fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0x01 => Some(KeyType::Ed25519),
            0x04 => Some(KeyType::Cosignature),
            _ => None,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyType::Ed25519 => "Ed25519 (0x01)",
            KeyType::Cosignature => "Ed25519 cosignature (0x04)",
        })
    }
}

/// A key text is not one.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum KeyError {
    /// A signer key that does not begin `PRIVATE+KEY+`.
    NotPrivate,
    /// The key name is empty, or holds a Unicode space or `+`.
    Name,
    /// The key ID is not 8 hexadecimal digits.
    Id,
    /// The key data is missing, or not canonical, padded standard base64.
    KeyData,
    /// The key data's type byte is not one this crate knows.
    UnknownType {
        /// The type byte.
        byte: u8,
    },
    /// The key (after its type byte) is not 32 bytes.
    KeyLength {
        /// Its length.
        found: usize,
    },
    /// The key ID stated is not the one the name and key give.
    IdMismatch {
        /// The ID the text states.
        stated: u32,
        /// The ID of the name and key.
        computed: u32,
    },
    /// The key bytes are not a valid Ed25519 public key (no point on the curve).
    InvalidKey,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::NotPrivate => {
                f.write_str("note key: a signer key begins with PRIVATE+KEY+")
            }
            KeyError::Name => f.write_str(
                "note key: the key name is empty, or holds a space or '+'",
            ),
            KeyError::Id => f.write_str("note key: the key ID is not 8 hex digits"),
            KeyError::KeyData => {
                f.write_str("note key: the key data is not canonical, padded base64")
            }
            KeyError::UnknownType { byte } => write!(
                f,
                "note key: unknown key type 0x{byte:02x} (0x01 Ed25519 and 0x04 cosignature are known)"
            ),
            KeyError::KeyLength { found } => {
                write!(f, "note key: the key is {found} bytes, not 32")
            }
            KeyError::IdMismatch { stated, computed } => write!(
                f,
                "note key: the key ID {stated:08x} is not the name's and key's, {computed:08x}"
            ),
            KeyError::InvalidKey => f.write_str("note key: not a valid Ed25519 public key"),
        }
    }
}

impl core::error::Error for KeyError {}

/// A key name is valid: non-empty, with no Unicode space (`char::is_whitespace`,
/// as Go's `unicode.IsSpace`) and no `+`.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// A key ID: `SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]`, big-endian.
pub fn key_id(name: &str, key_type: KeyType, public_key: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', key_type.byte()]);
    h.update(public_key);
    let digest: [u8; 32] = h.finalize().into();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// A verifier key: who may sign, read from or written as
/// `NAME+<8 hex ID>+base64(type ‖ 32-byte public key)`.
///
/// ```
/// use immutable_log::note::{KeyType, VerifierKey};
/// let text = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
/// let key = VerifierKey::parse(text)?;
/// assert_eq!((key.name(), key.id(), key.key_type()), ("PeterNeumann", 0xc74f20a3, KeyType::Ed25519));
/// assert_eq!(key.to_string(), text);
/// # Ok::<(), immutable_log::note::KeyError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct VerifierKey<'a> {
    name: &'a str,
    id: u32,
    key_type: KeyType,
    public_key: [u8; 32],
}

impl<'a> VerifierKey<'a> {
    /// The key of `name` with this type and public key (its ID computed).
    pub fn new(name: &'a str, key_type: KeyType, public_key: [u8; 32]) -> Result<Self, KeyError> {
        if !is_valid_key_name(name) {
            return Err(KeyError::Name);
        }
        Ok(VerifierKey {
            name,
            id: key_id(name, key_type, &public_key),
            key_type,
            public_key,
        })
    }

    /// Reads a verifier key text (exactly: no spaces or LF around it).
    pub fn parse(text: &'a str) -> Result<Self, KeyError> {
        let (name, rest) = text.split_once('+').ok_or(KeyError::Name)?;
        let (name, id, key_type, public_key) = name_id_key(name, rest)?;
        let key = VerifierKey::new(name, key_type, public_key)?;
        expect_id(id, key.id)?;
        Ok(key)
    }

    /// The key name.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The key ID.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The key's type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The 32-byte Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public_key
    }
}

/// A key text's stated ID must be the one its name, type and key give.
pub(super) fn expect_id(stated: u32, computed: u32) -> Result<(), KeyError> {
    if stated == computed {
        Ok(())
    } else {
        Err(KeyError::IdMismatch { stated, computed })
    }
}

impl fmt::Display for VerifierKey<'_> {
    /// `NAME+<8 hex ID>+base64(type ‖ public key)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = [0u8; 33];
        raw[0] = self.key_type.byte();
        raw[1..].copy_from_slice(&self.public_key);
        let mut b64 = [0u8; 44];
        let b64 = Base64::encode(&raw, &mut b64).map_err(|_| fmt::Error)?;
        write!(f, "{}+{:08x}+{b64}", self.name, self.id)
    }
}

/// Reads `ID+KEYDATA` after a name: the name checked, the stated ID, the
/// type and the 32 key bytes (public key, or a signer's seed).
pub(super) fn name_id_key<'a>(
    name: &'a str,
    rest: &'a str,
) -> Result<(&'a str, u32, KeyType, [u8; 32]), KeyError> {
    if !is_valid_key_name(name) {
        return Err(KeyError::Name);
    }
    let (id, data) = rest.split_once('+').ok_or(KeyError::Id)?;
    let id = parse_id(id).ok_or(KeyError::Id)?;
    let mut raw = [0u8; 33];
    let found = match Base64::decode(data, &mut raw) {
        Ok(decoded) => decoded.len(),
        // Longer than a type byte and 32: say how long, if it is base64.
        Err(base64ct::Error::InvalidLength) => {
            return Err(match padded_len(data) {
                Some(len) if len > 33 => KeyError::KeyLength { found: len - 1 },
                _ => KeyError::KeyData,
            })
        }
        Err(_) => return Err(KeyError::KeyData),
    };
    let (&type_byte, key) = raw
        .get(..found)
        .and_then(<[u8]>::split_first)
        .ok_or(KeyError::KeyData)?;
    let key_type =
        KeyType::from_byte(type_byte).ok_or(KeyError::UnknownType { byte: type_byte })?;
    let key: [u8; 32] = key
        .try_into()
        .map_err(|_| KeyError::KeyLength { found: key.len() })?;
    raw.fill(0);
    Ok((name, id, key_type, key))
}

/// 8 hex digits (either case, as Go's `strconv.ParseUint(s, 16, 32)` with
/// its length checked).
fn parse_id(text: &str) -> Option<u32> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

/// The decoded length of a padded base64 text, from its length alone.
fn padded_len(text: &str) -> Option<usize> {
    if !text.len().is_multiple_of(4) || text.is_empty() {
        return None;
    }
    let pad = text.bytes().rev().take_while(|&b| b == b'=').count();
    (text.len() / 4 * 3).checked_sub(pad)
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::{String, ToString};

    const PETER: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";

    #[test]
    fn go_and_c2sp_verifier_keys_read() {
        let key = VerifierKey::parse(PETER).unwrap();
        assert_eq!(key.id(), 0xc74f20a3);
        assert_eq!(key.to_string(), PETER);
        let foo = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
        let key = VerifierKey::parse(foo).unwrap();
        assert_eq!(key.name(), "example.com/foo");
        assert_eq!(key.to_string(), foo);
        // Upper-case hex IDs read (as Go's ParseUint), and print lower.
        let upper = PETER.replace("c74f20a3", "C74F20A3");
        assert_eq!(VerifierKey::parse(&upper).unwrap().to_string(), PETER);
    }

    /// Go's TestNewVerifier: every substring and every byte bumped is refused.
    #[test]
    fn go_manglings_are_refused() {
        let b = PETER.as_bytes();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i == 0 && j == b.len() {
                    continue;
                }
                if let Ok(s) = std::str::from_utf8(&b[i..j]) {
                    assert!(VerifierKey::parse(s).is_err(), "{s:?}");
                }
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] = m[i].wrapping_add(1);
            if let Ok(s) = String::from_utf8(m) {
                assert!(VerifierKey::parse(&s).is_err(), "{s:?}");
            }
        }
        // Wrong key length and unknown type, each with its key ID adjusted.
        assert_eq!(
            VerifierKey::parse(
                "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
            ),
            Err(KeyError::KeyLength { found: 36 })
        );
        assert_eq!(
            VerifierKey::parse(
                "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
            ),
            Err(KeyError::UnknownType { byte: 0x65 })
        );
    }

    #[test]
    fn names_and_ids_say_what_is_wrong() {
        assert_eq!(VerifierKey::parse("no-plus"), Err(KeyError::Name));
        assert_eq!(VerifierKey::parse("+c74f20a3+AA=="), Err(KeyError::Name));
        assert_eq!(VerifierKey::parse("a b+c74f20a3+AA=="), Err(KeyError::Name));
        assert_eq!(
            VerifierKey::parse("a\u{3000}b+c74f20a3+AA=="),
            Err(KeyError::Name)
        );
        assert_eq!(VerifierKey::parse("n+c74f20a+AA=="), Err(KeyError::Id));
        assert_eq!(VerifierKey::parse("n+c74f20ag+AA=="), Err(KeyError::Id));
        assert_eq!(VerifierKey::parse("n+c74f20a3"), Err(KeyError::Id));
        assert_eq!(VerifierKey::parse("n+c74f20a3+"), Err(KeyError::KeyData));
        let stated = PETER.replace("PeterNeumann", "PeterNeumanm");
        assert!(matches!(
            VerifierKey::parse(&stated),
            Err(KeyError::IdMismatch {
                stated: 0xc74f20a3,
                ..
            })
        ));
        assert_eq!(
            VerifierKey::new("a+b", KeyType::Ed25519, [0; 32]),
            Err(KeyError::Name)
        );
    }

    #[test]
    fn key_ids_differ_by_type() {
        let pk = [9u8; 32];
        assert_ne!(
            key_id("w", KeyType::Ed25519, &pk),
            key_id("w", KeyType::Cosignature, &pk)
        );
        let key = VerifierKey::new("w", KeyType::Cosignature, pk).unwrap();
        let text = key.to_string();
        assert!(text.starts_with("w+"));
        assert_eq!(VerifierKey::parse(&text), Ok(key));
    }
}
