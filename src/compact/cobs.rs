//! COBS (Consistent Overhead Byte Stuffing) framing: a frame holds no zero
//! byte, and a zero ends it, so a reader resynchronises at the next zero after
//! lost or garbled bytes.
//!
//! Written here rather than taken from the `cobs` crate: the chain must know a
//! frame's exact length inside its critical section (to reserve it) and then
//! encode straight into the queue's bytes, which are atomics, not a `&mut [u8]`.
//! For a payload of at most 253 bytes the length is always `payload + 1`.

/// The longest payload whose COBS form is exactly one byte longer: a single
/// code block.
pub(crate) const SINGLE_BLOCK: usize = 253;

/// Where encoded bytes go: appended, with one earlier byte (the pending code
/// byte) patched later.
pub(crate) trait Out {
    /// Bytes written so far.
    fn pos(&self) -> usize;
    /// Appends a byte.
    fn push(&mut self, byte: u8);
    /// Overwrites the byte at `at` (< `len()`).
    fn patch(&mut self, at: usize, byte: u8);
}

/// Encodes a payload given in pieces, without the trailing zero.
pub(crate) struct Encoder<'o, O: Out> {
    out: &'o mut O,
    /// Where the current block's code byte stands.
    code_at: usize,
    /// The current block's code: 1 + its non-zero bytes so far.
    code: u8,
}

impl<'o, O: Out> Encoder<'o, O> {
    pub(crate) fn new(out: &'o mut O) -> Self {
        let code_at = out.pos();
        out.push(0);
        Encoder {
            out,
            code_at,
            code: 1,
        }
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if b == 0 {
                self.close_block();
            } else {
                self.out.push(b);
                self.code += 1;
                if self.code == 0xff {
                    self.close_block();
                }
            }
        }
    }

    fn close_block(&mut self) {
        self.out.patch(self.code_at, self.code);
        self.code_at = self.out.pos();
        self.out.push(0);
        self.code = 1;
    }

    /// Ends the payload and writes the frame's zero.
    pub(crate) fn finish(self) {
        self.out.patch(self.code_at, self.code);
        self.out.push(0);
    }
}

/// Appends the COBS frame of `payload` (at most [`SINGLE_BLOCK`] bytes: no
/// run between zeros is long enough to need a 0xff block) and its zero to
/// `out`: the host's form of [`Encoder`], a copy per run of non-zero bytes
/// rather than a push per byte. Returns `false`, writing nothing, for a
/// longer payload.
#[cfg(feature = "std")]
pub(crate) fn encode_into(payload: &[u8], out: &mut std::vec::Vec<u8>) -> bool {
    if payload.len() > SINGLE_BLOCK {
        return false;
    }
    out.reserve(payload.len() + 2);
    for run in payload.split(|&b| b == 0) {
        // A run is at most 253 bytes: its code byte is at most 254.
        out.push(run.len() as u8 + 1);
        out.extend_from_slice(run);
    }
    out.push(0);
    true
}

/// A COBS frame could not be decoded: a code byte points past the frame's end,
/// or a zero stands inside it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Malformed;

/// Decodes `frame` (without its trailing zero) in place; returns the payload
/// length (the payload is `frame[..len]`).
pub(crate) fn decode_in_place(frame: &mut [u8]) -> Result<usize, Malformed> {
    let mut read = 0;
    let mut write = 0;
    while read < frame.len() {
        let code = usize::from(*frame.get(read).ok_or(Malformed)?);
        if code == 0 || read + code > frame.len() {
            return Err(Malformed);
        }
        // The block's bytes move down whole (`write` never passes `read`).
        let block = read + 1..read + code;
        if frame.get(block.clone()).ok_or(Malformed)?.contains(&0) {
            return Err(Malformed);
        }
        frame.copy_within(block, write);
        read += code;
        write += code - 1;
        if code < 0xff && read < frame.len() {
            *frame.get_mut(write).ok_or(Malformed)? = 0;
            write += 1;
        }
    }
    Ok(write)
}

/// A buffer as an [`Out`]: for tests and the format's test vectors.
#[cfg(test)]
impl Out for std::vec::Vec<u8> {
    fn pos(&self) -> usize {
        std::vec::Vec::len(self)
    }
    fn push(&mut self, byte: u8) {
        std::vec::Vec::push(self, byte)
    }
    fn patch(&mut self, at: usize, byte: u8) {
        self[at] = byte;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    fn encode(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut e = Encoder::new(&mut out);
        e.write(payload);
        e.finish();
        out
    }

    #[test]
    fn known_vectors() {
        // From the COBS paper / Wikipedia's examples.
        assert_eq!(encode(&[0x00]), [0x01, 0x01, 0x00]);
        assert_eq!(encode(&[0x00, 0x00]), [0x01, 0x01, 0x01, 0x00]);
        assert_eq!(
            encode(&[0x11, 0x22, 0x00, 0x33]),
            [0x03, 0x11, 0x22, 0x02, 0x33, 0x00]
        );
        assert_eq!(
            encode(&[0x11, 0x00, 0x00, 0x00]),
            [0x02, 0x11, 0x01, 0x01, 0x01, 0x00]
        );
        let long: Vec<u8> = (1..=254).collect();
        let e = encode(&long);
        assert_eq!(e[0], 0xff);
        assert_eq!(e.len(), 254 + 2 + 1);
    }

    #[test]
    fn round_trips_and_length_rule() {
        let mut seed = 7u32;
        for len in 0..600 {
            let payload: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    // Plenty of zeros, and long zero-free runs.
                    if len % 3 == 0 {
                        (seed >> 16) as u8 | 1
                    } else {
                        (seed >> 24) as u8 % 4
                    }
                })
                .collect();
            let mut frame = encode(&payload);
            assert_eq!(frame.pop(), Some(0));
            assert!(!frame.contains(&0));
            if len <= SINGLE_BLOCK {
                assert_eq!(frame.len(), len + 1, "{len}");
            }
            let n = decode_in_place(&mut frame).unwrap();
            assert_eq!(&frame[..n], &payload[..], "{len}");
        }
    }

    #[cfg(feature = "std")]
    #[test]
    fn encode_into_writes_what_the_encoder_writes() {
        let mut seed = 11u32;
        for len in 0..=SINGLE_BLOCK + 1 {
            let payload: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    if len % 2 == 0 {
                        (seed >> 16) as u8 | 1
                    } else {
                        (seed >> 24) as u8 % 3
                    }
                })
                .collect();
            let mut out = vec![7];
            let written = encode_into(&payload, &mut out);
            if len > SINGLE_BLOCK {
                assert!(!written);
                assert_eq!(out, [7]);
            } else {
                assert!(written);
                assert_eq!(out[1..], encode(&payload)[..], "{len}");
            }
        }
    }

    #[test]
    fn malformed_frames_are_refused() {
        assert_eq!(decode_in_place(&mut [0x05, 1, 2]), Err(Malformed));
        assert_eq!(decode_in_place(&mut [0x03, 1, 0]), Err(Malformed));
        assert_eq!(decode_in_place(&mut [0x00]), Err(Malformed));
        assert_eq!(decode_in_place(&mut []), Ok(0));
    }
}
