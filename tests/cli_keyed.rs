//! The keyed-chain and checkpoint commands, run as processes: `keygen`,
//! `write --seal-key`, `verify --verify-key`, `checkpoint`, `verify --checkpoint`.
#![cfg(feature = "cli")]

mod common;

use std::fs;

use common::cli::{code, json, run, text};
use common::{read_records, record_spans};
use immutable_log::{BlockHasher, Hash, SealKey};

/// A keyed log `app.log` with three records and its keys, in a temp dir.
fn keyed_setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(
        code(&run(
            &["keygen", "--verify-key", "v.key", "--seal-key", "s.key"],
            "",
            d
        )),
        0
    );
    let out = run(
        &["write", "--seal-key", "s.key", "app.log"],
        "pay alice 10\npay bob 20\n",
        d,
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = run(
        &["write", "--seal-key", "s.key", "app.log"],
        "pay carol 30\n",
        d,
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    dir
}

#[test]
fn keygen_writes_two_private_files_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(
        code(&run(
            &["keygen", "--verify-key", "v.key", "--seal-key", "s.key"],
            "",
            d
        )),
        0
    );
    #[cfg(unix)]
    for f in ["v.key", "s.key"] {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(d.join(f)).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let before = fs::read(d.join("v.key")).unwrap();
    let out = run(
        &["keygen", "--verify-key", "v.key", "--seal-key", "other.key"],
        "",
        d,
    );
    assert_eq!(code(&out), 2);
    assert_eq!(fs::read(d.join("v.key")).unwrap(), before);
}

#[test]
fn a_keyed_log_verifies_with_its_key_and_only_with_it() {
    let dir = keyed_setup();
    let d = dir.path();
    let out = run(&["verify", "--verify-key", "v.key", "app.log"], "", d);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(
        text(&out).contains("4 records"),
        "chain start + 3: {}",
        text(&out)
    );

    // Without a key: integrity failure that says a key is needed.
    let out = run(&["verify", "app.log"], "", d);
    assert_eq!(code(&out), 1);
    assert!(text(&out).contains("key is required"), "{}", text(&out));
    let out = run(&["verify", "--json", "app.log"], "", d);
    assert_eq!(json(&out)["failure"]["kind"], "key_required");

    // The seal key state is not a verify key.
    assert_eq!(
        code(&run(&["verify", "--verify-key", "s.key", "app.log"], "", d)),
        2
    );
    // The evolved key, written as a verify key, does not verify the earlier records.
    let seal = immutable_log::std_backend::read_seal_key(&d.join("s.key")).unwrap();
    assert_eq!(seal.seq(), 4);
    let evolved = Hash::from_bytes(*seal.key().as_bytes());
    fs::write(
        d.join("evolved.key"),
        format!("immutable-log verify-key 1\nkey {evolved}\n"),
    )
    .unwrap();
    let out = run(&["verify", "--verify-key", "evolved.key", "app.log"], "", d);
    assert_eq!(code(&out), 1);
    assert!(text(&out).contains("line 1 (record 0)"), "{}", text(&out));

    // `head` and `checkpoint` work without the key.
    let out = run(&["head", "app.log"], "", d);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).starts_with("3 "));
}

#[test]
fn a_forged_rewrite_fails_with_the_key() {
    let dir = keyed_setup();
    let d = dir.path();
    // Rewrite "bob 20" to "bob 2000" and recompute every hash after it as a
    // plain chain: what anyone holding the file can do.
    let log = fs::read(d.join("app.log")).unwrap();
    let mut forged = String::new();
    let mut prev = Hash::GENESIS;
    for record in read_records(&log) {
        let utf8 = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).unwrap();
        let display = utf8(record.display()).replace("bob 20", "bob 2000");
        let block = utf8(record.block_json())
            .replace("bob 20", "bob 2000")
            .replace(&record.prev_hash().to_string(), &prev.to_string());
        let hash = BlockHasher::hash(block.as_bytes());
        forged += &format!("{prev}|{display}|{hash}\nBLOCK_DATA:{block}\n");
        prev = hash;
    }
    fs::write(d.join("forged.log"), forged).unwrap();
    let out = run(&["verify", "--verify-key", "v.key", "forged.log"], "", d);
    assert_eq!(code(&out), 1, "{}", text(&out));
}

#[test]
fn a_plain_writer_refuses_a_keyed_log_and_a_stale_key_catches_up() {
    let dir = keyed_setup();
    let d = dir.path();
    let out = run(&["write", "app.log"], "unsealed\n", d);
    assert_eq!(code(&out), 2);
    assert!(text(&out).contains("keyed"), "{}", text(&out));

    // A crash left the key file behind the log (an older copy of it).
    let stale = SealKey::new(immutable_log::Key::from_bytes(
        *immutable_log::std_backend::read_verify_key(&d.join("v.key"))
            .unwrap()
            .initial()
            .as_bytes(),
    ));
    immutable_log::std_backend::store_seal_key(&d.join("stale.key"), &stale).unwrap();
    let out = run(
        &["write", "--seal-key", "stale.key", "app.log"],
        "after the crash\n",
        d,
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let out = run(&["verify", "--verify-key", "v.key", "app.log"], "", d);
    assert_eq!(code(&out), 0, "{}", text(&out));
    assert!(text(&out).contains("5 records"), "{}", text(&out));
}

#[test]
fn checkpoints_catch_truncation_and_another_log() {
    let dir = keyed_setup();
    let d = dir.path();
    let out = run(&["checkpoint", "app.log"], "", d);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let cp = String::from_utf8(out.stdout).unwrap();
    assert_eq!(cp.lines().count(), 3, "{cp}");
    assert!(cp.starts_with("immutable-log/"));
    assert!(cp.lines().nth(1) == Some("4"), "{cp}");
    fs::write(d.join("witness"), format!("{cp}\n")).unwrap();

    // The log grows: still contains the checkpoint.
    assert_eq!(
        code(&run(
            &["write", "--seal-key", "s.key", "app.log"],
            "more\n",
            d
        )),
        0
    );
    let out = run(
        &[
            "verify",
            "--verify-key",
            "v.key",
            "--checkpoint",
            "witness",
            "app.log",
        ],
        "",
        d,
    );
    assert_eq!(code(&out), 0, "{}", text(&out));

    // Cut below the checkpoint: fails, though the cut log is intact alone.
    let log = fs::read(d.join("app.log")).unwrap();
    let spans = record_spans(&log);
    fs::write(d.join("cut.log"), &log[..spans[1].end]).unwrap();
    assert_eq!(
        code(&run(&["verify", "--verify-key", "v.key", "cut.log"], "", d)),
        0
    );
    let out = run(
        &[
            "verify",
            "--verify-key",
            "v.key",
            "--checkpoint",
            "witness",
            "--json",
            "cut.log",
        ],
        "",
        d,
    );
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["failure"]["kind"], "truncated");

    // A witness file grown large with older notes: the newest, last, counts.
    fs::write(d.join("first.log"), &log[..spans[0].end]).unwrap();
    let old = run(&["checkpoint", "first.log"], "", d);
    assert_eq!(code(&old), 0, "{}", text(&old));
    let old = String::from_utf8(old.stdout).unwrap();
    let mut big = format!("{old}\n").repeat(5000);
    assert!(big.len() > 300_000);
    big += &format!("{cp}\n");
    fs::write(d.join("big-witness"), big).unwrap();
    let out = run(
        &[
            "verify",
            "--verify-key",
            "v.key",
            "--checkpoint",
            "big-witness",
            "cut.log",
        ],
        "",
        d,
    );
    assert_eq!(code(&out), 1, "{}", text(&out));
    let out = run(
        &[
            "verify",
            "--verify-key",
            "v.key",
            "--checkpoint",
            "big-witness",
            "app.log",
        ],
        "",
        d,
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    // `head` output is accepted by --expect-head as it is printed.
    let head = run(&["head", "app.log"], "", d);
    let head = String::from_utf8(head.stdout).unwrap();
    let out = run(
        &[
            "verify",
            "--verify-key",
            "v.key",
            "--expect-head",
            head.trim(),
            "app.log",
        ],
        "",
        d,
    );
    assert_eq!(code(&out), 0, "{}", text(&out));

    // Another log entirely.
    assert_eq!(code(&run(&["write", "other.log"], "hello\n", d)), 0);
    let out = run(
        &["verify", "--checkpoint", "witness", "--json", "other.log"],
        "",
        d,
    );
    assert_eq!(code(&out), 1);
    assert_eq!(json(&out)["failure"]["kind"], "origin_mismatch");

    // A checkpoint file that is not one is a usage error.
    fs::write(d.join("junk"), "nonsense\n").unwrap();
    assert_eq!(
        code(&run(&["verify", "--checkpoint", "junk", "app.log"], "", d)),
        2
    );
}
