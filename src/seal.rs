//! Sealing: the hash a record states, made from its block digest.
//!
//! A plain chain states the digest itself (SHA-256 of `block_json`, see
//! [`BlockHasher`](crate::BlockHasher)): anyone can check it, and anyone holding
//! the file can recompute it after an edit.
//!
//! A keyed chain states a tag only the key holder can make:
//!
//! ```text
//! tag(n)  = HMAC-SHA256(k(n), SHA-256(block_json(n)))
//! k(n+1)  = SHA-256("immutable-log/1 key evolution" || k(n)),  k(n) erased
//! ```
//!
//! Every record is sealed with its own key, the key index is the record's
//! `seq` (covered by the tag), and a key only ever moves forward. Whoever seizes
//! the writer later holds only the current key, from which no earlier key can
//! be computed: records written before cannot be rewritten (forward security).
//! The verifier holds `k(0)` and derives one key per record, in one pass.
//!
//! A keyed chain starts with a chain-start record that names the format and
//! the mode (`"version":"immutable-log/1 keyed"`), sealed with `k(0)`, so a
//! verifier without a key says "key required", not "hash mismatch".

use core::fmt;
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::hash::Hash;

/// The `version` value of a keyed chain's chain-start record.
pub(crate) const KEYED_VERSION: &str = "immutable-log/1 keyed";

/// The message of a keyed chain's chain-start record.
pub(crate) const CHAIN_START_MESSAGE: &str = "immutable-log: chain start, format 1, keyed \
    (HMAC-SHA256, forward-secure key evolution); verify with the initial key";

const EVOLVE_LABEL: &[u8] = b"immutable-log/1 key evolution";

/// A 32-byte secret key, erased from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; 32]);

impl Drop for Key {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for Key {}

impl Key {
    /// A key from 32 secret bytes (from a hardware RNG or the OS).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Key(bytes)
    }

    /// The key's bytes, to store it (keep them secret).
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The next key: one-way, so the current key is not computable from it.
    pub fn evolve(&self) -> Key {
        let mut h = Sha256::new();
        h.update(EVOLVE_LABEL);
        h.update(self.0);
        Key(h.finalize().into())
    }

    /// The tag a record sealed with this key states, given its block digest.
    pub fn tag(&self, digest: &Hash) -> Hash {
        let mut padded = [0u8; 64];
        padded[..32].copy_from_slice(&self.0);
        // HMAC pads a 32-byte key to the 64-byte block with zeros: the same key.
        let mut mac = hmac::Hmac::<Sha256>::new(&padded.into());
        padded.zeroize();
        mac.update(digest.as_bytes());
        Hash::from_bytes(mac.finalize().into_bytes().into())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<secret>)")
    }
}

/// The last record a keyed writer sealed: what it stated and the digest it
/// sealed, so a restarted writer can check the log's last record without the
/// (erased) key that sealed it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SealedRecord {
    /// The tag the record states.
    pub tag: Hash,
    /// SHA-256 of its `block_json`.
    pub digest: Hash,
}

/// A keyed writer's state: the key for the record with `seq`, and the last
/// record sealed. Persist it after each record (a writer that restarts needs
/// it); the old key is gone once it has moved on.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SealKey {
    seq: u64,
    key: Key,
    last: Option<SealedRecord>,
}

impl SealKey {
    /// The state of a new chain: `initial` is `k(0)`, the key the verifier
    /// keeps (see [`VerifyKey`]).
    pub fn new(initial: Key) -> Self {
        SealKey {
            seq: 0,
            key: initial,
            last: None,
        }
    }

    /// A state as stored: the key for record `seq`, and the record before it.
    pub fn from_parts(seq: u64, key: Key, last: Option<SealedRecord>) -> Self {
        SealKey { seq, key, last }
    }

    /// The `seq` of the next record this key seals.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The key for that record (keep it secret).
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The last record sealed, if any.
    pub fn last(&self) -> Option<SealedRecord> {
        self.last
    }

    /// Seals record `seq` with digest `digest`: its tag. Fails if the key is
    /// not the one for `seq`. The key does not move until [`advance`](Self::advance).
    pub(crate) fn tag(&self, seq: Option<u64>, digest: &Hash) -> Result<Hash, SealError> {
        match seq {
            Some(seq) if seq == self.seq => Ok(self.key.tag(digest)),
            found => Err(SealError::OutOfStep {
                key_seq: self.seq,
                record_seq: found,
            }),
        }
    }

    /// Moves to the next key, erasing this one, after record `seq` was written.
    pub(crate) fn advance(&mut self, sealed: SealedRecord) {
        self.key = self.key.evolve();
        self.seq = self.seq.saturating_add(1);
        self.last = Some(sealed);
    }
}

/// The initial key `k(0)` of a keyed chain, kept apart from the writer (offline)
/// for verification.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifyKey(Key);

impl VerifyKey {
    /// The verifier's copy of `k(0)`.
    pub fn new(initial: Key) -> Self {
        VerifyKey(initial)
    }

    /// `k(0)`, to store it (keep it secret, and away from the writer).
    pub fn initial(&self) -> &Key {
        &self.0
    }

    /// The key for record `seq`: `seq` evolutions of `k(0)`. For starting a
    /// verification mid-chain; a verifier walking a chain evolves one step per record.
    pub fn key_at(&self, seq: u64) -> Key {
        let mut key = self.0.clone();
        for _ in 0..seq {
            key = key.evolve();
        }
        key
    }
}

/// A keyed writer cannot seal a record.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum SealError {
    /// The seal key is for another record than the one being written: the key
    /// state and the log are out of step (a stale or foreign key file).
    OutOfStep {
        /// The `seq` the key is for.
        key_seq: u64,
        /// The `seq` of the record (`None`: a record without one).
        record_seq: Option<u64>,
    },
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealError::OutOfStep {
                key_seq,
                record_seq: Some(seq),
            } => write!(
                f,
                "the seal key is for seq {key_seq}, the record is seq {seq}"
            ),
            SealError::OutOfStep { key_seq, .. } => write!(
                f,
                "the seal key is for seq {key_seq}, the record has no seq"
            ),
        }
    }
}

impl core::error::Error for SealError {}

/// How a writer seals records: [`Plain`], a [`SealKey`], or `Option<SealKey>`
/// (plain or keyed, chosen at run time).
///
/// SealedRecord: only this crate implements it, and only a writer calls its
/// methods, so nothing can move a key forward without writing a record.
pub trait Seal: private::SealRecords {}

mod private {
    use super::{Hash, SealError, SealedRecord};

    /// Only this crate can make one: the proof, in [`SealRecords::advance`],
    /// that a writer calls it.
    #[derive(Debug)]
    pub struct Token(pub(crate) ());

    /// What a [`Seal`](super::Seal) does, out of reach of other crates.
    pub trait SealRecords {
        /// True for a keyed chain, which starts with a chain-start record.
        fn is_keyed(&self) -> bool;

        /// The hash record `seq` states, given its digest.
        fn tag(&self, seq: Option<u64>, digest: &Hash) -> Result<Hash, SealError>;

        /// Record `seq` was written: move on.
        fn advance(&mut self, sealed: SealedRecord, token: Token);
    }
}

pub(crate) use private::{SealRecords, Token};

/// Plain sealing: a record states its digest. Costs nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Plain;

impl Seal for Plain {}

impl SealRecords for Plain {
    fn is_keyed(&self) -> bool {
        false
    }

    fn tag(&self, _seq: Option<u64>, digest: &Hash) -> Result<Hash, SealError> {
        Ok(*digest)
    }

    fn advance(&mut self, _sealed: SealedRecord, _token: Token) {}
}

impl Seal for SealKey {}

impl SealRecords for SealKey {
    fn is_keyed(&self) -> bool {
        true
    }

    fn tag(&self, seq: Option<u64>, digest: &Hash) -> Result<Hash, SealError> {
        SealKey::tag(self, seq, digest)
    }

    fn advance(&mut self, sealed: SealedRecord, _token: Token) {
        SealKey::advance(self, sealed);
    }
}

/// No seal is a plain chain; `Some` seals with it.
impl<S: Seal> Seal for Option<S> {}

impl<S: Seal> SealRecords for Option<S> {
    fn is_keyed(&self) -> bool {
        self.as_ref().is_some_and(SealRecords::is_keyed)
    }

    fn tag(&self, seq: Option<u64>, digest: &Hash) -> Result<Hash, SealError> {
        match self {
            Some(seal) => seal.tag(seq, digest),
            None => Ok(*digest),
        }
    }

    fn advance(&mut self, sealed: SealedRecord, token: Token) {
        if let Some(seal) = self {
            seal.advance(sealed, token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_evolve_one_way_and_tags_depend_on_the_key() {
        let k0 = Key::from_bytes([7; 32]);
        let k1 = k0.evolve();
        assert_ne!(k0, k1);
        assert_eq!(VerifyKey::new(k0.clone()).key_at(1), k1);
        assert_eq!(VerifyKey::new(k0.clone()).key_at(0), k0);
        let d = Hash::from_bytes([1; 32]);
        assert_ne!(k0.tag(&d), k1.tag(&d));
        assert_ne!(k0.tag(&d), k0.tag(&Hash::from_bytes([2; 32])));
        assert_eq!(k0.tag(&d), k0.clone().tag(&d));
    }

    #[test]
    fn a_seal_key_refuses_another_seq() {
        let mut s = SealKey::new(Key::from_bytes([1; 32]));
        let d = Hash::GENESIS;
        assert!(s.tag(Some(0), &d).is_ok());
        assert_eq!(
            s.tag(Some(1), &d),
            Err(SealError::OutOfStep {
                key_seq: 0,
                record_seq: Some(1)
            })
        );
        assert!(s.tag(None, &d).is_err());
        let tag = s.tag(Some(0), &d).unwrap();
        s.advance(SealedRecord { tag, digest: d });
        assert_eq!(s.seq(), 1);
        assert_eq!(s.last(), Some(SealedRecord { tag, digest: d }));
        assert!(s.tag(Some(1), &d).is_ok());
    }
}
