//! The hash recipe: what a record's hash is, and how a hash is written as text.
//!
//! A record's hash is SHA-256 over exactly the bytes of its `block_json`, as they
//! stand in the log (FORMAT.md, "Records"). [`BlockHasher`] is the one place
//! that recipe lives; everything else asks it.

use core::fmt;
use sha2::block_api::compress256;
use sha2::{Digest, Sha256};

/// A SHA-256 digest: a record's hash, or the `prev_hash` it carries.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash([u8; 32]);

/// A hash as it stands in a log: 64 lowercase hexadecimal characters.
pub(crate) type HexHash = [u8; 64];

/// Lowercase hex digits: how hashes and `\u00XX` escapes are spelled.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Each byte's two lowercase hex digits: a hash is written a byte, not a
/// digit, at a time.
const HEX_PAIRS: [[u8; 2]; 256] = {
    let mut pairs = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        // In a const: an index out of range would fail the build, not a run.
        #[allow(clippy::indexing_slicing)]
        {
            pairs[i] = [HEX[i >> 4], HEX[i & 0x0f]];
        }
        i += 1;
    }
    pairs
};

/// The lowercase hex digit of the low four bits of `n`.
#[inline(always)]
pub(crate) fn hex_digit(n: u8) -> u8 {
    HEX.get(usize::from(n & 0x0f)).copied().unwrap_or(b'0')
}

/// SHA-256's initial state (FIPS 180-4, 5.3.3): where hashing blocks padded
/// by hand through sha2's `compress256` starts (the compact chain's message
/// digest, the Merkle tree's leaves and nodes).
pub(crate) const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

impl Hash {
    /// The digest of a finished SHA-256 state: its words, big-endian.
    pub(crate) fn from_state(words: &[u32; 8]) -> Hash {
        let bytes: [[u8; 4]; 8] = words.map(u32::to_be_bytes);
        Hash(*bytes.as_flattened().first_chunk().unwrap_or(&[0; 32]))
    }

    /// The `prev_hash` of the first record of a chain: 64 × `0`.
    pub const GENESIS: Hash = Hash([0; 32]);

    /// Wraps 32 raw digest bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Hash(bytes)
    }

    /// The 32 raw digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The hash as the log writes it: 64 lowercase hex digits.
    pub fn to_hex(&self) -> HexHash {
        let mut out = [0u8; 64];
        self.write_hex(&mut out);
        out
    }

    /// Writes [`to_hex`](Self::to_hex) into `out` in place (a record's
    /// block takes it straight into its buffer): a table look-up and a
    /// two-byte store a byte, 32 times over fixed-size arrays, so no bound
    /// is checked (and, where optimised for speed, no loop is left).
    pub(crate) fn write_hex(&self, out: &mut [u8; 64]) {
        let (pairs, _) = out.as_chunks_mut::<2>();
        for (pair, &byte) in pairs.iter_mut().zip(self.0.iter()) {
            *pair = HEX_PAIRS
                .get(usize::from(byte))
                .copied()
                .unwrap_or_default();
        }
    }

    /// Parses exactly 64 lowercase hex digits, the only spelling the format allows.
    ///
    /// Upper-case digits are refused: a log that changed `a` to `A` has been edited.
    pub fn from_hex(text: &[u8]) -> Option<Hash> {
        // Eight digits at a time (`scan`): the verifier parses two a record.
        crate::scan::decode_hex32(text).map(Hash)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.to_hex();
        // `to_hex` only ever writes ASCII hex digits.
        f.write_str(core::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

/// The hash recipe, fed incrementally: SHA-256 over the raw `block_json` bytes.
///
/// It is `Clone`, so a writer can hash the part of a block that does not depend
/// on the chain head (`levelno`, `message`) before taking the lock, and finish
/// the tail inside it.
#[derive(Clone, Default)]
pub struct BlockHasher(Sha256);

impl BlockHasher {
    /// A hasher that has seen nothing yet.
    pub fn new() -> Self {
        BlockHasher(Sha256::new())
    }

    /// Feeds more `block_json` bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The hash of everything fed so far.
    pub fn finish(self) -> Hash {
        Hash(self.0.finalize().into())
    }

    /// The hash of one whole `block_json`.
    ///
    /// Straight through sha2's compression function: the whole 64-byte
    /// blocks where they stand, then the tail and its padding in one or two
    /// blocks on the stack (no buffering: the verifier hashes every record
    /// this way; measured with callgrind and perf, see `sha256_one_shot`).
    pub fn hash(block_json: &[u8]) -> Hash {
        sha256_one_shot(block_json)
    }
}

/// SHA-256 of `bytes` (FIPS 180-4): the same digest as `Sha256::digest`,
/// without its buffer and its finalization's copies (2.5% of a verify's
/// cycles under perf).
fn sha256_one_shot(bytes: &[u8]) -> Hash {
    let (blocks, tail) = bytes.as_chunks::<64>();
    let mut state = SHA256_IV;
    compress256(&mut state, blocks);
    // The tail, 0x80, zeros, the length in bits: one block, or two when
    // the tail leaves no room for the 9 bytes.
    let mut last = [[0u8; 64]; 2];
    let used = if tail.len() < 56 { 1 } else { 2 };
    let flat = last.as_flattened_mut();
    if let Some(start) = flat.get_mut(..tail.len()) {
        start.copy_from_slice(tail);
    }
    if let Some(pad) = flat.get_mut(tail.len()) {
        *pad = 0x80;
    }
    let bits = (bytes.len() as u64).wrapping_mul(8);
    if let Some(len) = flat.get_mut(used * 64 - 8..used * 64) {
        len.copy_from_slice(&bits.to_be_bytes());
    }
    compress256(&mut state, last.get(..used).unwrap_or_default());
    Hash::from_state(&state)
}

impl fmt::Debug for BlockHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlockHasher")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_by_pairs_is_every_byte_as_two_lowercase_digits() {
        extern crate std;
        // Every byte value: 8 hashes of 32 bytes each.
        for block in 0..8u8 {
            let bytes: [u8; 32] = core::array::from_fn(|i| block * 32 + i as u8);
            let hex = Hash::from_bytes(bytes).to_hex();
            let expected: std::string::String =
                bytes.iter().map(|b| std::format!("{b:02x}")).collect();
            assert_eq!(&hex[..], expected.as_bytes());
        }
    }

    /// The one-shot hash is SHA-256 at every length around the block and
    /// padding boundaries.
    #[test]
    fn one_shot_is_sha256_at_every_length() {
        let bytes: [u8; 300] = core::array::from_fn(|i| (i * 31 + 7) as u8);
        for n in 0..=bytes.len() {
            let want: [u8; 32] = Sha256::digest(&bytes[..n]).into();
            assert_eq!(BlockHasher::hash(&bytes[..n]).as_bytes(), &want, "{n}");
        }
        assert_eq!(
            BlockHasher::hash(b"abc").to_hex(),
            *b"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn hex_round_trip_and_case() {
        let h = BlockHasher::hash(b"abc");
        let hex = h.to_hex();
        assert_eq!(
            &hex[..],
            b"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Hash::from_hex(&hex), Some(h));
        let mut upper = hex;
        upper[0] = b'B';
        assert_eq!(Hash::from_hex(&upper), None);
        assert_eq!(Hash::from_hex(&hex[..63]), None);
        assert_eq!(Hash::GENESIS.to_hex(), [b'0'; 64]);
    }

    #[test]
    fn hex_of_every_byte_value() {
        extern crate std;
        for b in 0..=255u8 {
            let mut bytes = [0u8; 32];
            bytes[usize::from(b) % 32] = b;
            bytes[31 - usize::from(b) % 32] ^= b.rotate_left(3);
            let h = Hash::from_bytes(bytes);
            let text: std::string::String = bytes.iter().map(|x| std::format!("{x:02x}")).collect();
            assert_eq!(&h.to_hex()[..], text.as_bytes());
            assert_eq!(Hash::from_hex(text.as_bytes()), Some(h));
            // Any byte that is not a lowercase hex digit, anywhere, is refused.
            if !b.is_ascii_digit() && !(b'a'..=b'f').contains(&b) {
                let mut bad = h.to_hex();
                bad[usize::from(b) % 64] = b;
                assert_eq!(Hash::from_hex(&bad), None, "{b:#x}");
            }
        }
    }
}
