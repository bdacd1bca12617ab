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

use crate::hash::{Hash, SHA256_IV};

use super::wire::UNLOGGED;

/// The state before record 0.
pub const GENESIS_STATE: [u8; 32] = [0; 32];

/// The last 8 bytes of every record block.
const RECORD_LABEL: &[u8; 8] = b"ilog/c1r";

/// What a keyed sync's tag covers, before its `next` and state.
const SYNC_LABEL: &[u8] = b"immutable-log/1 compact sync";

/// d(n): the digest of what does not depend on the chain.
///
/// SHA-256 of `head || message`, padded here around sha2's compression
/// function rather than through its streaming `Sha256`: the same digest
/// (the tests compare them), and on a Cortex-M about 450 bytes less flash
/// than the streaming buffer's code, for the only hash a plain compact chain
/// needs besides the chain's own compression. Each block is built whole from
/// the padded stream (no block is zeroed first: no `memset` linked for it).
#[cfg(not(feature = "std"))]
pub(crate) fn message_digest(head: u8, message: &[u8]) -> Hash {
    padded_digest(head, message)
}

/// d(n) on a host: the padded stream copied whole into a buffer and
/// compressed in one call (several times faster than [`padded_digest`]'s
/// byte by byte blocks, and than sha2's streaming `Sha256`, whose buffering
/// costs as much as a compression for these short messages; flash does not
/// count there). The same digest: the tests compare them.
#[cfg(feature = "std")]
pub(crate) fn message_digest(head: u8, message: &[u8]) -> Hash {
    /// Room for any message of a record this crate writes (at most 200 bytes).
    const ROOM: usize = 4 * 64;
    let len = message.len();
    let total = (len + 1 + 1 + 8).div_ceil(64) * 64;
    let mut buf = [0u8; ROOM];
    let Some(padded) = buf.get_mut(..total) else {
        // A longer message (a frame read from elsewhere): the streaming hash.
        let mut h = Sha256::new();
        h.update([head & !UNLOGGED]);
        h.update(message);
        return Hash::from_bytes(h.finalize().into());
    };
    let bits = ((len as u64 + 1) * 8).to_be_bytes();
    let parts = [
        (0, &[head & !UNLOGGED][..]),
        (1, message),
        (1 + len, &[0x80][..]),
        (total - 8, &bits[..]),
    ];
    for (at, bytes) in parts {
        if let Some(dst) = padded.get_mut(at..at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
    }
    let (blocks, _) = padded.as_chunks::<64>();
    let mut words = SHA256_IV;
    compress256(&mut words, blocks);
    Hash::from_state(&words)
}

/// d(n) padded by hand around `compress256`: the firmware's form.
#[cfg_attr(feature = "std", allow(dead_code))]
fn padded_digest(head: u8, message: &[u8]) -> Hash {
    // Bits hashed: 8 per byte of head and message, never near 2^64.
    let bits = ((message.len() as u64 + 1) * 8).to_be_bytes();
    // head, message, 0x80, zeros up to 56 mod 64, the length: whole blocks.
    let total = (message.len() + 1 + 1 + 8).div_ceil(64) * 64;
    let byte_at = |at: usize| -> u8 {
        if at == 0 {
            head & !UNLOGGED
        } else if at <= message.len() {
            message.get(at - 1).copied().unwrap_or(0)
        } else if at == message.len() + 1 {
            0x80
        } else {
            // The last 8 bytes are the length; zeros before them.
            (at + 8)
                .checked_sub(total)
                .and_then(|i| bits.get(i))
                .copied()
                .unwrap_or(0)
        }
    };
    let mut words = SHA256_IV;
    for start in (0..total).step_by(64) {
        let block: [u8; 64] = core::array::from_fn(|i| byte_at(start + i));
        compress256(&mut words, &[block]);
    }
    Hash::from_state(&words)
}

/// s(n) from s(n-1): one compression.
pub(crate) fn advance(
    state: &[u8; 32],
    digest: &Hash,
    seq: u64,
    time_us: u64,
    unlogged: u64,
) -> [u8; 32] {
    let (chunks, _) = state.as_chunks::<4>();
    let mut words: [u32; 8] =
        core::array::from_fn(|i| chunks.get(i).map_or(0, |c| u32::from_be_bytes(*c)));
    // The block from its eight 8-byte fields, copied whole (no byte loop:
    // this runs inside the critical section; no zeroed block: no `memset`).
    let (d, _) = digest.as_bytes().as_chunks::<8>();
    let field = |i: usize| d.get(i).copied().unwrap_or([0; 8]);
    let fields: [[u8; 8]; 8] = [
        field(0),
        field(1),
        field(2),
        field(3),
        seq.to_le_bytes(),
        time_us.to_le_bytes(),
        unlogged.to_le_bytes(),
        *RECORD_LABEL,
    ];
    let block: [u8; 64] = *fields.as_flattened().first_chunk().unwrap_or(&[0; 64]);
    compress256(&mut words, &[block]);
    *Hash::from_state(&words).as_bytes()
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
                padded_digest(0x12 | UNLOGGED, &message[..len]).as_bytes(),
                &want,
                "length {len}"
            );
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
