//! `Checkpoint::parse` on any text: no panic; what it accepts prints back to
//! text that parses to the same checkpoint, and gives a verifier its head.
#![no_main]

use immutable_log::{Checkpoint, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(cp) = Checkpoint::parse(data) else {
        return;
    };
    assert!(cp.size > 0);
    let text = cp.to_string();
    assert_eq!(Checkpoint::parse(text.as_bytes()), Ok(cp), "{text:?}");
    let options = Options::default().with_checkpoint(&cp);
    assert_eq!(options.expect_head.map(|h| h.seq), Some(cp.size - 1));
});
