//! The verifier and resume on any input, on a thread with a 64 KiB stack, as
//! a firmware verifier has: nothing they do may recurse on the input
//! (issue 9 §2). A stack overflow aborts the process: a crash here.
#![no_main]

use immutable_log::{resume, Options, Verifier};
use libfuzzer_sys::fuzz_target;

fn check(data: &[u8]) {
    let log = data.to_vec();
    std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            let mut v = Verifier::new(&mut buf, Options::default());
            let _ = v.feed(&log);
            let _ = v.finish();
            let _ = resume(&log, true);
            let _ = resume(&log, false);
        })
        .expect("spawn")
        .join()
        .expect("no panic");
}

fuzz_target!(|data: &[u8]| check(data));
