//! Puts the chosen board's `memory.x` where cortex-m-rt's `link.x` finds it.

use std::{env, fs, path::PathBuf};

fn main() {
    let m4 = env::var_os("CARGO_FEATURE_M4").is_some();
    let m0 = env::var_os("CARGO_FEATURE_M0").is_some();
    let target = env::var("TARGET").unwrap_or_default();
    let memory = match (m4, m0) {
        (true, false) => "memory-mps2-an386.x",
        (false, true) if target == "thumbv6m-none-eabi" => "memory-nrf51.x",
        (false, true) => {
            panic!("feature `m0` (microbit, Cortex-M0) needs --target thumbv6m-none-eabi")
        }
        _ => panic!(
            "choose one board: --features m4 --target thumbv7em-none-eabihf (QEMU mps2-an386), \
             or --features m0 --target thumbv6m-none-eabi (QEMU microbit)"
        ),
    };
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    fs::copy(memory, out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={memory}");
    println!("cargo:rerun-if-changed=build.rs");
}
