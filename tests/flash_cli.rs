//! `immutable-log verify --ring FILE` on dumps of rings written by
//! `FlashLog` over the power-cut double: intact, wrapped, torn (a power cut
//! not repaired yet), changed, not a ring at all, unreadable.
#![cfg(feature = "cli")]

use std::path::Path;
use std::process::{Command, Output};

use immutable_log::flash::{FlashLog, Region};
use immutable_log::mock_flash::MockFlash;
use immutable_log::{Level, NoClock};

const BIN: &str = env!("CARGO_BIN_EXE_immutable-log");
const SIZE: usize = 32 * 1024;
const REGION: Region = Region {
    start: 0,
    sector_size: 8192,
    sectors: 4,
};

type Flash = MockFlash<SIZE, 4, 4096>;

/// A ring of `records` records.
fn ring(records: u32) -> Flash {
    let mut flash = Flash::new();
    let mut scratch = vec![0u8; 8192];
    {
        let mut log: FlashLog<_, _, 512> =
            FlashLog::open(&mut flash, REGION, NoClock, &mut scratch).unwrap();
        for i in 0..records {
            log.append(Level::Info, format_args!("record {i} of the flash ring"))
                .unwrap();
        }
    }
    flash
}

fn verify(dump: &[u8], json: bool, dir: &Path) -> Output {
    let path = dir.join("ring.bin");
    std::fs::write(&path, dump).unwrap();
    let mut args = vec!["verify", "--ring"];
    if json {
        args.push("--json");
    }
    Command::new(BIN).args(&args).arg(&path).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn an_intact_ring_verifies_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let flash = ring(5);
    let out = verify(flash.as_bytes(), false, dir.path());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stdout(&out).contains("intact: 5 records in 1 sectors, head 4 "),
        "{out:?}"
    );
    let out = verify(flash.as_bytes(), true, dir.path());
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "intact");
    assert_eq!(v["records"], 5);
    assert_eq!(v["head"]["seq"], 4);
    assert_eq!(v["wrapped"], false);
}

#[test]
fn a_wrapped_ring_verifies_as_wrapped() {
    let dir = tempfile::tempdir().unwrap();
    let flash = ring(300);
    let out = verify(flash.as_bytes(), false, dir.path());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stdout(&out).contains("wrapped: records before seq "),
        "{out:?}"
    );
    let v: serde_json::Value =
        serde_json::from_slice(&verify(flash.as_bytes(), true, dir.path()).stdout).unwrap();
    assert_eq!(v["wrapped"], true);
    assert!(v["oldest_sector"].as_u64().unwrap() > 0);
}

#[test]
fn a_torn_ring_exits_3_and_a_changed_one_1() {
    let dir = tempfile::tempdir().unwrap();
    let mut flash = ring(5);
    // Tear a sixth record: power lost after 30 words of it.
    flash.cut_after(30, 0xC0);
    {
        let mut scratch = vec![0u8; 8192];
        let mut log: FlashLog<_, _, 512> =
            FlashLog::open(&mut flash, REGION, NoClock, &mut scratch).unwrap();
        assert!(log
            .append(Level::Info, format_args!("{}", "torn ".repeat(40)))
            .is_err());
    }
    let out = verify(flash.as_bytes(), false, dir.path());
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(stdout(&out).contains("TORN: 5 records"), "{out:?}");

    let mut changed = ring(5).as_bytes().to_vec();
    let at = changed.windows(8).position(|w| w == b"record 2").unwrap();
    changed[at + 7] = b'3';
    let out = verify(&changed, false, dir.path());
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stdout(&out).contains("FAILED after 2 intact records"),
        "{out:?}"
    );
    let v: serde_json::Value =
        serde_json::from_slice(&verify(&changed, true, dir.path()).stdout).unwrap();
    assert_eq!(v["verdict"], "failed");
    assert!(v["failure"]["reason"].as_str().unwrap().contains("byte "));
}

#[test]
fn a_file_that_is_no_ring_exits_1_and_a_missing_one_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = verify(&[0xFF; 4096], false, dir.path());
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no flash ring in it"));
    let out = Command::new(BIN)
        .args(["verify", "--ring"])
        .arg(dir.path().join("missing.bin"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = Command::new(BIN)
        .args(["verify", "--ring", "--allow-segment", "x"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "--ring with a log's options is a usage error"
    );
}
