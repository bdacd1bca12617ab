//! defmt captures in the CLI, made on the host with the chain API and known
//! frames (defmt's raw encoding), and a firmware ELF made here too (a
//! `.defmt` table of interned strings, as defmt's linker script lays it out):
//! `verify` needs no ELF; `decode --elf` prints each record as text with its
//! status (ok, unverified, FAILED, unchecked) and exits as `verify` does.
#![cfg(feature = "cli")]

use std::path::Path;
use std::process::Command;

use immutable_log::{CompactChain, Level, NoClock, Queue};
use object::write::{Object, Symbol, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, SectionKind, SymbolFlags, SymbolKind, SymbolScope,
};

const BIN: &str = env!("CARGO_BIN_EXE_immutable-log");

/// The interned strings: index (the symbol's address in `.defmt`), tag, format.
const STRINGS: [(u64, &str, &str); 3] = [
    (1, "defmt_info", "adc ch{=u8} = {=u16} mV"),
    (2, "defmt_warn", "boot: reset cause {=u8:#x}"),
    (3, "defmt_error", "tick {=u32}"),
];

/// A little-endian Arm ELF whose symbols are a defmt table.
fn elf() -> Vec<u8> {
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::Arm, Endianness::Little);
    let section = obj.add_section(Vec::new(), b".defmt".to_vec(), SectionKind::Other);
    obj.append_section_data(section, &[0; 8], 1);
    let mut symbol = |name: String, value: u64, section: SymbolSection| {
        obj.add_symbol(Symbol {
            name: name.into_bytes(),
            value,
            size: 1,
            kind: SymbolKind::Data,
            scope: SymbolScope::Linkage,
            weak: false,
            section,
            flags: SymbolFlags::None,
        });
    };
    for (index, tag, format) in STRINGS {
        let name = serde_json::json!({
            "package": "fw", "tag": tag, "data": format, "disambiguator": index.to_string(),
            "crate_name": "fw",
        });
        symbol(name.to_string(), index, SymbolSection::Section(section));
    }
    symbol("_defmt_version_ = 4".into(), 0, SymbolSection::Absolute);
    symbol("_defmt_encoding_ = raw".into(), 0, SymbolSection::Absolute);
    obj.write().unwrap()
}

/// Nine records, a sync every 4: record i is `adc ch{i} = 1234 mV` (i even),
/// `boot: reset cause {i}` (i odd), record 4 a text record.
fn capture() -> Vec<u8> {
    let queue = Queue::<8192>::new();
    let chain: CompactChain<NoClock, 64, 8192> =
        CompactChain::new(&queue, NoClock).with_sync_every(4);
    for i in 0..9u8 {
        match i {
            4 => chain
                .append(Level::Info, format_args!("a text record"))
                .map(|_| ()),
            _ if i % 2 == 0 => chain.append_defmt(&[1, 0, i, 0xd2, 0x04]).map(|_| ()),
            _ => chain.append_defmt(&[2, 0, i]).map(|_| ()),
        }
        .unwrap();
    }
    let mut out = Vec::new();
    queue.drain(&mut out).unwrap();
    out
}

fn run(args: &[&str], capture: &[u8], dir: &Path) -> (i32, String, String) {
    let path = dir.join("capture");
    std::fs::write(&path, capture).unwrap();
    let out = Command::new(BIN)
        .args(args)
        .arg(&path)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fw.elf"), elf()).unwrap();
    dir
}

/// The record lines of `decode` (not the `#` ones).
fn records(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|l| !l.starts_with('#')).collect()
}

#[test]
fn a_defmt_capture_verifies_without_the_elf_and_decodes_with_it() {
    let dir = setup();
    let (code, out, err) = run(&["verify"], &capture(), dir.path());
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("intact (compact): 9 records verified"),
        "{out}"
    );

    let (code, out, err) = run(&["decode", "--elf", "fw.elf"], &capture(), dir.path());
    assert_eq!(code, 0, "{out}{err}");
    let lines = records(&out);
    assert_eq!(lines.len(), 9, "{out}");
    assert_eq!(lines[0], "ok         0 INFO adc ch0 = 1234 mV");
    assert_eq!(lines[1], "ok         1 WARN boot: reset cause 0x1");
    assert_eq!(lines[4], "ok         4 0.000000 INFO a text record");
    assert_eq!(lines[8], "ok         8 INFO adc ch8 = 1234 mV");
    assert!(out.contains("# sync: next seq 4"), "{out}");
    assert!(out.lines().last().unwrap().starts_with("# "), "{out}");
    assert!(out.contains("intact (compact)"), "{out}");

    // JSON lines: the decoded text, its level and status.
    let (code, out, _) = run(
        &["decode", "--json", "--elf", "fw.elf"],
        &capture(),
        dir.path(),
    );
    assert_eq!(code, 0);
    let first: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(
        first,
        serde_json::json!({"seq": 0, "level": "info", "status": "ok", "text": "INFO adc ch0 = 1234 mV"})
    );

    // Without the ELF, decode shows the frames as they are.
    let (code, out, _) = run(&["decode"], &capture(), dir.path());
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l == "0 DEFMT 010000d204"), "{out}");
}

#[test]
fn a_changed_argument_fails_verify_and_decode_names_the_record() {
    let dir = setup();
    let mut bad = capture();
    // Record 2's argument 1234 (d2 04 after its 2) becomes 1235.
    let at = bad.windows(3).position(|w| w == [2, 0xd2, 0x04]).unwrap() + 1;
    bad[at] = 0xd3;
    let (code, out, _) = run(&["verify"], &bad, dir.path());
    assert_eq!(code, 1, "{out}");
    let (code, out, err) = run(&["decode", "--elf", "fw.elf"], &bad, dir.path());
    assert_eq!(code, 1, "{out}{err}");
    let lines = records(&out);
    assert_eq!(lines[1], "ok         1 WARN boot: reset cause 0x1");
    assert_eq!(lines[2], "FAILED     2 INFO adc ch2 = 1235 mV");
    assert!(lines[3].starts_with("unchecked  3 "), "{out}");
    assert!(lines[8].starts_with("unchecked  8 "), "{out}");
    assert!(out.contains("FAILED (compact)"), "{out}");
}

#[test]
fn records_after_a_lost_frame_are_unverified_until_the_next_sync() {
    let dir = setup();
    let log = capture();
    // Cut the frame of record 1 out whole.
    let zeros: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == 0)
        .map(|(i, _)| i)
        .collect();
    let cut = [&log[..=zeros[0]], &log[zeros[1] + 1..]].concat();
    let (code, out, _) = run(&["verify"], &cut, dir.path());
    assert_eq!(code, 4, "{out}");
    let (code, out, err) = run(&["decode", "--elf", "fw.elf"], &cut, dir.path());
    assert_eq!(code, 4, "{out}{err}");
    let lines = records(&out);
    assert_eq!(lines[0], "ok         0 INFO adc ch0 = 1234 mV");
    assert_eq!(lines[1], "unverified 2 INFO adc ch2 = 1234 mV");
    assert!(lines[2].starts_with("unverified 3 "), "{out}");
    assert!(lines[3].starts_with("ok         4 "), "{out}");
    assert!(out.contains("gap: seq 1..=3"), "{out}");
}

#[test]
fn a_frame_the_elf_does_not_know_is_shown_not_hidden() {
    let dir = setup();
    let queue = Queue::<1024>::new();
    let chain: CompactChain<NoClock, 64, 1024> = CompactChain::new(&queue, NoClock);
    chain.append_defmt(&[9, 0, 1]).unwrap();
    let mut log = Vec::new();
    queue.drain(&mut log).unwrap();
    let (code, out, _) = run(&["decode", "--elf", "fw.elf"], &log, dir.path());
    assert_eq!(code, 0, "still intact: {out}");
    assert!(
        out.starts_with("ok         0 DEFMT 090001: not decodable with this ELF"),
        "{out}"
    );
}

#[test]
fn an_elf_without_a_defmt_table_is_a_usage_error() {
    let dir = setup();
    std::fs::write(dir.path().join("not.elf"), b"not an ELF").unwrap();
    let (code, _, err) = run(&["decode", "--elf", "not.elf"], &capture(), dir.path());
    assert_eq!(code, 2);
    assert!(
        err.contains("not.elf: cannot read its defmt table"),
        "{err}"
    );
    let (code, _, err) = run(&["decode", "--elf", "missing.elf"], &capture(), dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("missing.elf: cannot read"), "{err}");
}
