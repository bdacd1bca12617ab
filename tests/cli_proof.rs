//! The tree, note and proof commands run as processes: `note-keygen`,
//! `checkpoint --sign`, `verify --checkpoint --note-verifier --quorum`,
//! `prove`, `check-proof`, `cosign`; and what each says of bad input.
#![cfg(feature = "cli")]

use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_immutable-log");

fn run(args: &[&str], stdin: &str, dir: &Path) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    child.wait_with_output().unwrap()
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn s(a: &[String]) -> Vec<&str> {
    a.iter().map(String::as_str).collect()
}

/// Runs, expects success, returns stdout.
fn ok(args: &[&str], d: &Path) -> String {
    let out = run(args, "", d);
    assert_eq!(code(&out), 0, "{args:?}: {}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs, expects exit `want` and `needle` in the output.
fn fails(args: &[&str], want: i32, needle: &str, d: &Path) {
    let out = run(args, "", d);
    assert_eq!(code(&out), want, "{args:?}: {}", text(&out));
    assert!(text(&out).contains(needle), "{args:?}: {}", text(&out));
}

/// `app.log` (3 records), the log's key, two witnesses' keys, and a signed
/// checkpoint `cp1` of 3 records cosigned by w1; then 2 more records and
/// `cp2` of 5, signed by the log.
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(code(&run(&["write", "app.log"], "a\nb\nc\n", d)), 0);
    ok(&["note-keygen", "example.com/app", "log.sk", "log.vk"], d);
    ok(
        &["note-keygen", "--cosigner", "w1.example", "w1.sk", "w1.vk"],
        d,
    );
    ok(
        &["note-keygen", "--cosigner", "w2.example", "w2.sk", "w2.vk"],
        d,
    );
    let cp1 = ok(&["checkpoint", "--sign", "log.sk", "app.log"], d);
    fs::write(d.join("cp1"), &cp1).unwrap();
    let cosig = ok(
        &[
            "cosign",
            "--signer",
            "w1.sk",
            "--note-verifier",
            "log.vk",
            "cp1",
        ],
        d,
    );
    fs::write(d.join("cp1"), format!("{cp1}{cosig}")).unwrap();
    assert_eq!(code(&run(&["write", "app.log"], "d\ne\n", d)), 0);
    let cp2 = ok(&["checkpoint", "--sign", "log.sk", "app.log"], d);
    fs::write(d.join("cp2"), cp2).unwrap();
    dir
}

#[test]
fn keys_are_gos_formats_mode_600_and_never_overwritten() {
    let dir = setup();
    let d = dir.path();
    let sk = fs::read_to_string(d.join("log.sk")).unwrap();
    let vk = fs::read_to_string(d.join("log.vk")).unwrap();
    assert!(sk.starts_with("PRIVATE+KEY+example.com/app+"), "{sk}");
    assert!(vk.starts_with("example.com/app+"), "{vk}");
    let id = &vk.split('+').nth(1).unwrap();
    assert_eq!(id.len(), 8);
    assert!(sk.contains(&format!("+{id}+")));
    #[cfg(unix)]
    for f in ["log.sk", "log.vk"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(d.join(f)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    fails(
        &["note-keygen", "x", "log.sk", "new.vk"],
        2,
        "never overwritten",
        d,
    );
    assert_eq!(fs::read_to_string(d.join("log.sk")).unwrap(), sk);
    assert!(!d.join("new.vk").exists());
    fails(&["note-keygen", "a+b", "n.sk", "n.vk"], 2, "no '+'", d);
    fails(&["note-keygen", "a b", "n.sk", "n.vk"], 2, "no space", d);
    fails(&["note-keygen", "", "n.sk", "n.vk"], 2, "non-empty", d);
}

#[test]
fn signed_checkpoints_verify_with_a_quorum() {
    let dir = setup();
    let d = dir.path();
    let cp1 = fs::read_to_string(d.join("cp1")).unwrap();
    assert!(cp1.starts_with("immutable-log/tree/"), "{cp1}");
    assert_eq!(cp1.lines().nth(1), Some("3"));
    assert_eq!(cp1.matches("\n— ").count(), 2, "{cp1}");
    let v = |extra: &[&str]| {
        let mut args = vec!["verify", "--checkpoint", "cp1"];
        args.extend_from_slice(extra);
        args.push("app.log");
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    ok(&s(&v(&["--note-verifier", "log.vk"])), d);
    ok(
        &s(&v(&[
            "--note-verifier",
            "log.vk",
            "--note-verifier",
            "w1.vk",
        ])),
        d,
    );
    // 2 of 3 given signed: the default (all) fails, --quorum 2 passes.
    let three = v(&[
        "--note-verifier",
        "log.vk",
        "--note-verifier",
        "w1.vk",
        "--note-verifier",
        "w2.vk",
    ]);
    fails(
        &s(&three),
        1,
        "signed by 2 of the keys given, 3 required",
        d,
    );
    let mut q2 = three.clone();
    q2.splice(1..1, ["--quorum".to_string(), "2".to_string()]);
    ok(&s(&q2), d);
    // Only a key that did not sign: unknown signatures are ignored, none known.
    fails(
        &s(&v(&["--note-verifier", "w2.vk"])),
        1,
        "not signed by any key given",
        d,
    );
    // A forged cosignature by a known key refuses the note.
    let forged = cp1.clone();
    let last = forged.trim_end().rsplit('\n').next().unwrap().to_string();
    let mut chars: Vec<char> = last.chars().collect();
    let i = chars.len() - 10;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let bad: String = chars.into_iter().collect();
    fs::write(d.join("forged"), forged.replace(&last, &bad)).unwrap();
    fails(
        &[
            "verify",
            "--checkpoint",
            "forged",
            "--note-verifier",
            "w1.vk",
            "app.log",
        ],
        1,
        "does not verify",
        d,
    );
    // A wrong key file: clear, exit 2.
    fs::write(d.join("bad.vk"), "not a key\n").unwrap();
    fails(
        &s(&v(&["--note-verifier", "bad.vk"])),
        2,
        "bad.vk: line 1: note key",
        d,
    );
    fs::write(d.join("empty.vk"), "\n").unwrap();
    fails(
        &s(&v(&["--note-verifier", "empty.vk"])),
        2,
        "no verifier key",
        d,
    );
    // JSON: the signature failure is an error object, exit 1.
    let out = run(&s(&v(&["--json", "--note-verifier", "w2.vk"])), "", d);
    assert_eq!(code(&out), 1);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["status"], "error", "{json}");
}

#[test]
fn tree_checkpoints_catch_cuts_rewrites_and_other_logs() {
    let dir = setup();
    let d = dir.path();
    // The log grew: cp1 still holds.
    ok(&["verify", "--checkpoint", "cp1", "app.log"], d);
    // Cut below cp2 (5 records): truncated.
    let log = fs::read_to_string(d.join("app.log")).unwrap();
    let cut: String = log.lines().take(6).map(|l| format!("{l}\n")).collect();
    fs::write(d.join("cut.log"), &cut).unwrap();
    let out = run(
        &["verify", "--json", "--checkpoint", "cp2", "cut.log"],
        "",
        d,
    );
    assert_eq!(code(&out), 1, "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["failure"]["kind"], "truncated", "{json}");
    // Rewritten after record 2 (a fork): the chain is intact alone, the
    // root at 5 is another.
    assert_eq!(code(&run(&["write", "cut.log"], "X\nY\n", d)), 0);
    ok(&["verify", "cut.log"], d);
    let out = run(
        &["verify", "--json", "--checkpoint", "cp2", "cut.log"],
        "",
        d,
    );
    assert_eq!(code(&out), 1, "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["failure"]["kind"], "root_mismatch", "{json}");
    assert_eq!(json["failure"]["record"], 4, "{json}");
    ok(&["verify", "--checkpoint", "cp1", "cut.log"], d);
    // Another log: origin mismatch first.
    assert_eq!(code(&run(&["write", "other.log"], "a\nb\nc\nd\ne\n", d)), 0);
    let out = run(
        &["verify", "--json", "--checkpoint", "cp2", "other.log"],
        "",
        d,
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["failure"]["kind"], "origin_mismatch", "{json}");
    // prove refuses a checkpoint that is not the log's.
    fails(
        &["prove", "--record", "0", "--checkpoint", "cp2", "cut.log"],
        1,
        "not this log's checkpoint",
        d,
    );
    fails(
        &["prove", "--record", "0", "--checkpoint", "cp2", "other.log"],
        1,
        "root",
        d,
    );
    // ... or one of more records than it has.
    let short: String = log.lines().take(4).map(|l| format!("{l}\n")).collect();
    fs::write(d.join("short.log"), short).unwrap();
    fails(
        &["prove", "--record", "0", "--checkpoint", "cp2", "short.log"],
        1,
        "a tree of 5 records was asked for; the log has 2",
        d,
    );
    // Standard input cannot be read twice.
    fails(
        &["verify", "--checkpoint", "cp2", "-"],
        2,
        "not standard input",
        d,
    );
    // A head checkpoint (the old kind) still works as before.
    let head = ok(&["checkpoint", "--head", "app.log"], d);
    assert!(!head.starts_with("immutable-log/tree/"));
    fs::write(d.join("head.cp"), head).unwrap();
    ok(&["verify", "--checkpoint", "head.cp", "app.log"], d);
    fails(
        &[
            "prove",
            "--record",
            "0",
            "--checkpoint",
            "head.cp",
            "app.log",
        ],
        2,
        "head checkpoint",
        d,
    );
}

#[test]
fn proofs_check_without_the_log() {
    let dir = setup();
    let d = dir.path();
    let proof = ok(
        &["prove", "--record", "3", "--checkpoint", "cp2", "app.log"],
        d,
    );
    assert!(
        proof.starts_with("c2sp.org/tlog-proof@v1\nindex 3\n"),
        "{proof}"
    );
    fs::write(d.join("p3"), &proof).unwrap();
    let log = fs::read_to_string(d.join("app.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    fs::write(d.join("r3"), format!("{}\n{}\n", lines[6], lines[7])).unwrap();
    fs::write(d.join("r2"), format!("{}\n{}\n", lines[4], lines[5])).unwrap();
    fs::remove_file(d.join("app.log")).unwrap();
    fs::remove_file(d.join("app.log.tree")).unwrap();
    let out = ok(
        &[
            "check-proof",
            "--record",
            "r3",
            "--proof",
            "p3",
            "--note-verifier",
            "log.vk",
        ],
        d,
    );
    assert!(
        out.contains("record 3 is in the tree of 5 records"),
        "{out}"
    );
    // Another record with this proof: its seq says so.
    fails(
        &["check-proof", "--record", "r2", "--proof", "p3"],
        1,
        "says seq 2",
        d,
    );
    // One hash changed, one too many, one too few.
    let hashes: Vec<&str> = proof
        .lines()
        .skip(2)
        .take_while(|l| !l.is_empty())
        .collect();
    let edited = proof.replacen(hashes[0], hashes[1], 1);
    fs::write(d.join("p-edit"), edited).unwrap();
    fails(
        &["check-proof", "--record", "r3", "--proof", "p-edit"],
        1,
        "another root",
        d,
    );
    let more = proof.replacen(hashes[0], &format!("{}\n{}", hashes[0], hashes[0]), 1);
    fs::write(d.join("p-more"), more).unwrap();
    fails(
        &["check-proof", "--record", "r3", "--proof", "p-more"],
        1,
        "the sizes call for",
        d,
    );
    let fewer = proof.replacen(&format!("{}\n", hashes[0]), "", 1);
    fs::write(d.join("p-fewer"), fewer).unwrap();
    fails(
        &["check-proof", "--record", "r3", "--proof", "p-fewer"],
        1,
        "the sizes call for",
        d,
    );
    // A record edited: its display no longer matches, or its leaf changed.
    let r3 = fs::read_to_string(d.join("r3")).unwrap();
    fs::write(d.join("r3-edit"), r3.replace(" - d", " - D")).unwrap();
    fails(
        &["check-proof", "--record", "r3-edit", "--proof", "p3"],
        1,
        "another root",
        d,
    );
    let (display, block) = r3.split_once('\n').unwrap();
    let display_only = format!("{}\n{block}", display.replace(" - d", " - D"));
    fs::write(d.join("r3-display"), display_only).unwrap();
    fails(
        &["check-proof", "--record", "r3-display", "--proof", "p3"],
        1,
        "r3-display: ",
        d,
    );
    fs::write(d.join("r3-half"), format!("{display}\n")).unwrap();
    fails(
        &["check-proof", "--record", "r3-half", "--proof", "p3"],
        2,
        "not one record",
        d,
    );
    // JSON proofs need the checkpoint beside them.
    assert_eq!(code(&run(&["write", "app2.log"], "a\nb\nc\nd\ne\n", d)), 0);
    // Signature by a key that did not sign the checkpoint.
    fails(
        &[
            "check-proof",
            "--record",
            "r3",
            "--proof",
            "p3",
            "--note-verifier",
            "w2.vk",
        ],
        1,
        "not signed",
        d,
    );
    // Not a proof, a 10 MB proof, a missing file.
    fs::write(d.join("junk"), "hello\n\nworld\n").unwrap();
    fails(
        &["check-proof", "--record", "r3", "--proof", "junk"],
        2,
        "not a proof",
        d,
    );
    fs::write(d.join("huge"), "x".repeat(10 << 20)).unwrap();
    fails(
        &["check-proof", "--record", "r3", "--proof", "huge"],
        2,
        "longer than",
        d,
    );
    fails(
        &["check-proof", "--record", "r3", "--proof", "nope"],
        2,
        "nope",
        d,
    );
    // A consistency proof given as an inclusion one.
    fails(
        &["check-proof", "--consistency", "cp1", "--proof", "p3"],
        2,
        "inclusion proof",
        d,
    );
}

#[test]
fn json_proofs_and_consistency_and_the_witness() {
    let dir = setup();
    let d = dir.path();
    let json = ok(
        &[
            "prove",
            "--record",
            "1",
            "--checkpoint",
            "cp2",
            "--json",
            "app.log",
        ],
        d,
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (v["leaf_index"].as_u64(), v["tree_size"].as_u64()),
        (Some(1), Some(5))
    );
    assert_eq!(v["audit_path"].as_array().unwrap().len(), 3);
    fs::write(d.join("p1.json"), &json).unwrap();
    let log = fs::read_to_string(d.join("app.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    fs::write(d.join("r1"), format!("{}\n{}\n", lines[2], lines[3])).unwrap();
    fails(
        &["check-proof", "--record", "r1", "--proof", "p1.json"],
        2,
        "needs --checkpoint",
        d,
    );
    ok(
        &[
            "check-proof",
            "--record",
            "r1",
            "--proof",
            "p1.json",
            "--checkpoint",
            "cp2",
        ],
        d,
    );
    fails(
        &[
            "check-proof",
            "--record",
            "r1",
            "--proof",
            "p1.json",
            "--checkpoint",
            "cp1",
        ],
        1,
        "tree of 5 records, the checkpoint's has 3",
        d,
    );

    let c = ok(
        &[
            "prove",
            "--consistency",
            "cp1",
            "--checkpoint",
            "cp2",
            "--json",
            "app.log",
        ],
        d,
    );
    let v: serde_json::Value = serde_json::from_str(&c).unwrap();
    assert_eq!(
        (v["first"].as_u64(), v["second"].as_u64()),
        (Some(3), Some(5))
    );
    let req = ok(
        &[
            "prove",
            "--consistency",
            "cp1",
            "--checkpoint",
            "cp2",
            "app.log",
        ],
        d,
    );
    assert!(req.starts_with("old 3\n"), "{req}");
    fs::write(d.join("req"), &req).unwrap();
    // A witness that cosigned cp1 cosigns cp2 given the proof.
    let cosig = ok(
        &[
            "cosign",
            "--signer",
            "w1.sk",
            "--note-verifier",
            "log.vk",
            "--old",
            "cp1",
            "--time",
            "1700000000",
            "req",
        ],
        d,
    );
    assert!(cosig.starts_with("— w1.example "), "{cosig}");
    let cp2 = fs::read_to_string(d.join("cp2")).unwrap();
    fs::write(d.join("cp2"), format!("{cp2}{cosig}")).unwrap();
    ok(
        &[
            "check-proof",
            "--consistency",
            "cp1",
            "--proof",
            "req",
            "--checkpoint",
            "cp2",
            "--note-verifier",
            "log.vk",
            "--note-verifier",
            "w1.vk",
        ],
        d,
    );
    // Without --old, a witness has cosigned nothing: old must be 0.
    fails(
        &[
            "cosign",
            "--signer",
            "w2.sk",
            "--note-verifier",
            "log.vk",
            "req",
        ],
        1,
        "old 0",
        d,
    );
    // A log key is not a cosigner key.
    fails(
        &[
            "cosign",
            "--signer",
            "log.sk",
            "--note-verifier",
            "log.vk",
            "req",
        ],
        2,
        "not a cosigner key",
        d,
    );
    // The request's old size must be the witness's last size.
    let req2 = ok(
        &[
            "prove",
            "--consistency",
            "cp2",
            "--checkpoint",
            "cp2",
            "app.log",
        ],
        d,
    );
    fs::write(d.join("req2"), req2).unwrap();
    fails(
        &[
            "cosign",
            "--signer",
            "w1.sk",
            "--note-verifier",
            "log.vk",
            "--old",
            "cp1",
            "req2",
        ],
        1,
        "the proof is from size 5",
        d,
    );
    // A consistency proof with a hash changed fails; one from a fork too.
    let hashes: Vec<&str> = req.lines().skip(1).take_while(|l| !l.is_empty()).collect();
    let bad = req.replacen(hashes[0], hashes[1], 1);
    fs::write(d.join("req-bad"), bad).unwrap();
    fails(
        &["check-proof", "--consistency", "cp1", "--proof", "req-bad"],
        1,
        "from 3 to 5 records",
        d,
    );
    fails(
        &[
            "cosign",
            "--signer",
            "w1.sk",
            "--note-verifier",
            "log.vk",
            "--old",
            "cp1",
            "req-bad",
        ],
        1,
        "from 3 to 5",
        d,
    );
    // Index past the size, size 0, reversed sizes.
    fails(
        &["prove", "--record", "5", "--checkpoint", "cp2", "app.log"],
        2,
        "not below the tree size 5",
        d,
    );
    fails(
        &[
            "prove",
            "--consistency",
            "cp2",
            "--checkpoint",
            "cp1",
            "app.log",
        ],
        2,
        "to the smaller size",
        d,
    );
    fs::write(d.join("empty.log"), "").unwrap();
    fails(&["checkpoint", "empty.log"], 2, "no record", d);
    assert!(!d.join("empty.log.tree").exists());
}

#[test]
fn a_size_zero_checkpoint_has_no_leaf_to_prove() {
    let dir = setup();
    let d = dir.path();
    let cp = ok(&["checkpoint", "app.log"], d);
    let origin = cp.lines().next().unwrap();
    let zero = format!("{origin}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
    fs::write(d.join("zero"), zero).unwrap();
    ok(&["verify", "--checkpoint", "zero", "app.log"], d);
    fails(
        &["prove", "--record", "0", "--checkpoint", "zero", "app.log"],
        2,
        "size 0 has no leaves",
        d,
    );
    let req = ok(
        &[
            "prove",
            "--consistency",
            "zero",
            "--checkpoint",
            "cp1",
            "app.log",
        ],
        d,
    );
    assert!(req.starts_with("old 0\n\n"), "{req}");
}
