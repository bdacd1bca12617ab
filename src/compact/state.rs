//! The compact chain's state: 32 bytes that every record advances with one
//! SHA-256 compression, and the tags cut from it.
//!
//! ```text
//! d(n)     = SHA-256(head(n) without its unlogged bit || message(n))   (outside the critical section)
//! block(n) = d(n) || seq u64 LE || time_us u64 LE || unlogged u64 LE || "ilog/c1r"   (64 bytes)
//! s(n)     = SHA-256-compress(s(n-1), block(n)),   s(-1) = 32 zero bytes
//! tag(n)   = s(n)[0..8]                                       plain
//!          = HMAC-SHA256(k(n), s(n))[0..16]                   keyed (k as in the text format)
//! sync tag = HMAC-SHA256(k(next), SHA-256("immutable-log/1 compact sync" || next u64 LE || s))[0..16]
//! ```
//!
//! The state is SHA-256's chaining value (eight big-endian words), so a change
//! to any record changes every later state and tag.

use sha2::block_api::compress256;
use sha2::{Digest, Sha256};

use crate::hash::Hash;

use super::wire::UNLOGGED;

/// The state before record 0.
pub const GENESIS_STATE: [u8; 32] = [0; 32];

/// The last 8 bytes of every record block.
const RECORD_LABEL: &[u8; 8] = b"ilog/c1r";

/// What a keyed sync's tag covers, before its `next` and state.
const SYNC_LABEL: &[u8] = b"immutable-log/1 compact sync";

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// d(n): the digest of what does not depend on the chain.
///
/// SHA-256 of `head || message`, padded here around sha2's compression
/// function rather than through its streaming `Sha256`: the same digest
/// (the tests compare them), and on a Cortex-M about 300 bytes less flash
/// than the streaming buffer's code, for the only hash a plain compact chain
/// needs besides the chain's own compression.
pub(crate) fn message_digest(head: u8, message: &[u8]) -> Hash {
    let mut words = IV;
    let mut block = [0u8; 64];
    let mut used = 0;
    let bytes = core::iter::once(head & !UNLOGGED)
        .chain(message.iter().copied())
        .chain(core::iter::once(0x80));
    for byte in bytes {
        if let Some(slot) = block.get_mut(used) {
            *slot = byte;
        }
        used += 1;
        if used == 64 {
            compress256(&mut words, &[block]);
            block = [0; 64];
            used = 0;
        }
    }
    if used > 56 {
        compress256(&mut words, &[block]);
        block = [0; 64];
    }
    // Bits hashed: 8 per byte of head and message, never near 2^64.
    let bits = (message.len() as u64 + 1) * 8;
    for (slot, byte) in block.iter_mut().skip(56).zip(bits.to_be_bytes()) {
        *slot = byte;
    }
    compress256(&mut words, &[block]);
    let mut out = [0u8; 32];
    for (b, w) in out.chunks_exact_mut(4).zip(words) {
        b.copy_from_slice(&w.to_be_bytes());
    }
    Hash::from_bytes(out)
}

/// s(n) from s(n-1): one compression.
pub(crate) fn advance(
    state: &[u8; 32],
    digest: &Hash,
    seq: u64,
    time_us: u64,
    unlogged: u64,
) -> [u8; 32] {
    let mut words = [0u32; 8];
    for (w, b) in words.iter_mut().zip(state.chunks_exact(4)) {
        *w = b.try_into().map_or(0, u32::from_be_bytes);
    }
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(digest.as_bytes());
    block[32..40].copy_from_slice(&seq.to_le_bytes());
    block[40..48].copy_from_slice(&time_us.to_le_bytes());
    block[48..56].copy_from_slice(&unlogged.to_le_bytes());
    block[56..].copy_from_slice(RECORD_LABEL);
    compress256(&mut words, &[block]);
    let mut out = [0u8; 32];
    for (b, w) in out.chunks_exact_mut(4).zip(words) {
        b.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// What a keyed sync's tag is made from.
pub(crate) fn sync_digest(next: u64, state: &[u8; 32]) -> Hash {
    let mut h = Sha256::new();
    h.update(SYNC_LABEL);
    h.update(next.to_le_bytes());
    h.update(state);
    Hash::from_bytes(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;

    #[test]
    fn the_message_digest_is_sha256_of_head_and_message() {
        let message: std::vec::Vec<u8> = (0..=255u8).cycle().take(300).collect();
        // Every length around the padding's block boundaries (55, 56, 63, 64, ...).
        for len in 0..=message.len() {
            let mut h = Sha256::new();
            h.update([0x12 & !UNLOGGED]);
            h.update(&message[..len]);
            let want: [u8; 32] = h.finalize().into();
            assert_eq!(
                message_digest(0x12 | UNLOGGED, &message[..len]).as_bytes(),
                &want,
                "length {len}"
            );
        }
    }

    #[test]
    fn the_compression_is_sha256s() {
        // SHA-256("abc") is one compression of the padded block from the IV.
        let iv: [u8; 32] = [
            0x6a, 0x09, 0xe6, 0x67, 0xbb, 0x67, 0xae, 0x85, 0x3c, 0x6e, 0xf3, 0x72, 0xa5, 0x4f,
            0xf5, 0x3a, 0x51, 0x0e, 0x52, 0x7f, 0x9b, 0x05, 0x68, 0x8c, 0x1f, 0x83, 0xd9, 0xab,
            0x5b, 0xe0, 0xcd, 0x19,
        ];
        let mut words = [0u32; 8];
        for (w, b) in words.iter_mut().zip(iv.chunks_exact(4)) {
            *w = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        }
        let mut block = [0u8; 64];
        block[..4].copy_from_slice(b"abc\x80");
        block[63] = 24;
        compress256(&mut words, &[block]);
        let mut out = [0u8; 32];
        for (b, w) in out.chunks_exact_mut(4).zip(words) {
            b.copy_from_slice(&w.to_be_bytes());
        }
        assert_eq!(out, <[u8; 32]>::from(Sha256::digest(b"abc")));
        // `advance` is that function over its block layout: every field counts.
        let d = Hash::from_bytes([5; 32]);
        let s = advance(&GENESIS_STATE, &d, 1, 2, 3);
        assert_ne!(s, advance(&GENESIS_STATE, &d, 1, 2, 4));
        assert_ne!(s, advance(&GENESIS_STATE, &d, 2, 2, 3));
        assert_ne!(s, advance(&s, &d, 1, 2, 3));
    }
}
