//! The unit the critical sections are measured in (`icount` builds): the
//! instructions of one SHA-256 compression (64 bytes), the same function the
//! chains call (sha2's `compress256`, with the firmware's backend).

use sha2::block_api::compress256;

use crate::board;

/// Instructions (QEMU `-icount`) one compression takes, best of 3 (the
/// first run also pays for cold paths).
pub fn instructions() -> u32 {
    let mut state = [0x6a09_e667u32; 8];
    let mut block = [[0u8; 64]; 1];
    let mut best = u32::MAX;
    for round in 0u8..3 {
        if let Some(b) = block[0].get_mut(0) {
            *b = round;
        }
        let empty0 = board::counter();
        let empty1 = board::counter();
        let t0 = board::counter();
        compress256(
            core::hint::black_box(&mut state),
            core::hint::black_box(&block),
        );
        let t1 = board::counter();
        let spent = board::elapsed(t0, t1).saturating_sub(board::elapsed(empty0, empty1));
        best = best.min(spent);
    }
    core::hint::black_box(&mut block);
    board::to_insns(best)
}
