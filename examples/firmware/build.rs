//! Puts the chosen board's `memory.x` where the runtime's `link.x` finds it.

use std::{env, fs, path::PathBuf};

fn main() {
    let boards = [
        ("m4", "thumbv7em-none-eabihf", "memory-mps2-an386.x"),
        ("m0", "thumbv6m-none-eabi", "memory-nrf51.x"),
        ("rv", "riscv32imc-unknown-none-elf", "memory-virt.x"),
    ];
    let chosen: Vec<_> = boards
        .iter()
        .filter(|(feature, _, _)| {
            env::var_os(format!("CARGO_FEATURE_{}", feature.to_uppercase())).is_some()
        })
        .collect();
    let target = env::var("TARGET").unwrap_or_default();
    let memory = match chosen.as_slice() {
        [(_, t, memory)] if *t == target => memory,
        [(feature, t, _)] => panic!("feature `{feature}` needs --target {t}"),
        _ => panic!(
            "choose one board: --features m4 --target thumbv7em-none-eabihf (QEMU mps2-an386), \
             --features m0 --target thumbv6m-none-eabi (QEMU microbit), or \
             --features rv --target riscv32imc-unknown-none-elf (QEMU virt)"
        ),
    };
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    fs::copy(memory, out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    if env::var_os("CARGO_FEATURE_DEFMT").is_some() {
        // defmt's linker script: the interned strings' section.
        println!("cargo:rustc-link-arg=-Tdefmt.x");
        // Every level (defmt keeps only `error` when DEFMT_LOG is unset).
        println!("cargo:rustc-env=DEFMT_LOG=trace");
    }
    println!("cargo:rerun-if-changed={memory}");
    println!("cargo:rerun-if-changed=build.rs");
}
