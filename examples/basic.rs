//! Write a tamper-evident log, verify it, then tamper with copies of it and
//! watch verification say where it breaks — and where it cannot: a forger
//! who recomputes every later hash passes a plain `verify`, and is caught
//! only against an anchor (the head kept elsewhere).
//!
//! Built as a binary (not an example), so it builds without the
//! dev-dependencies:
//!
//! ```sh
//! cargo run --release --features std --bin immutable-log-demo
//! ```

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use immutable_log::std_backend::{verify_path, LogFile};
use immutable_log::{BlockHasher, ExpectedHead, Head, Level, Options, Verdict};

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::temp_dir().join("immutable-log-example-basic");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    let path = dir.join("immutable.log");

    println!("What a plain hash chain catches: any edit by someone who does not recompute");
    println!("the hashes, deleted or reordered records, accidents. What it cannot catch on");
    println!("its own: records cut off the end, or a full rewrite with every later hash");
    println!("recomputed (SHA-256 needs no secret). The fix: keep the head (or a checkpoint)");
    println!("somewhere else and verify against it, or write a keyed chain. Steps 4e and 4f");
    println!("show both gaps, and the anchor closing them.\n");
    println!("1. Writing {}", path.display());
    println!("   (the seed's format: '<local time+offset> - <LEVEL> - <message>')\n");
    let log = LogFile::open(&path)?;
    log.append(Level::Info, format_args!("Application started"))?;
    log.append(
        Level::Debug,
        format_args!("Configuration loaded from app.toml"),
    )?;
    log.append(Level::Info, format_args!("User alice logged in"))?;
    log.append(Level::Warning, format_args!("Disk usage at 91%"))?;
    log.append(
        Level::Error,
        format_args!("Payment 1234 failed: card declined"),
    )?;
    log.append(Level::Info, format_args!("Application stopped"))?;
    let head = log.head().ok_or("no head")?;
    log.close()?;
    let original = fs::read(&path)?;
    let lines = split_lines(&original);
    for line in lines.iter().step_by(2) {
        println!("   {}", display_of(line));
    }

    println!("\n2. Each record is two lines. The first shows the message between the");
    println!("   previous record's hash and this record's hash; the second holds the data");
    println!("   that is hashed (SHA-256 of everything after BLOCK_DATA:).\n");
    println!("   {}", shorten(&lines[0]));
    println!("   {}", shorten(&lines[1]));

    println!("\n3. Verifying it:");
    report("the log as written", &path, Options::default())?;
    println!("   Keep the head (seq and hash) somewhere else: it catches truncation.");

    println!("\n4. Tampering with copies (the original stays as it was):\n");
    // Record 3 (lines 7 and 8) says "Disk usage at 91%"; change the 9 to a 1.
    let (display, block) = (6, 7);
    let forged = |line: &[u8]| replace_once(line, b"91%", b"11%");

    let mut copy = lines.clone();
    copy[display] = forged(&lines[display]);
    let path_a = write_copy(&dir, "a-display-edited.log", &copy)?;
    println!("   a) One byte of a message, on the display line only:");
    report("", &path_a, Options::default())?;

    copy[block] = forged(&lines[block]);
    let path_b = write_copy(&dir, "b-both-lines-edited.log", &copy)?;
    println!("   b) The same byte on both lines, so display and data agree:");
    report("", &path_b, Options::default())?;

    // A forger who also recomputes the record's hash breaks the next link.
    let json = copy[block].strip_prefix(b"BLOCK_DATA:").ok_or("no block")?;
    let new_hash = BlockHasher::hash(json).to_string();
    let old_hash = lines[display]
        .get(lines[display].len() - 64..)
        .ok_or("short")?;
    copy[display] = replace_once(&copy[display], old_hash, new_hash.as_bytes());
    let path_c = write_copy(&dir, "c-hash-recomputed.log", &copy)?;
    println!("   c) ...and its hash recomputed, as a forger would:");
    report("", &path_c, Options::default())?;

    let mut deleted = lines.clone();
    deleted.drain(2..4);
    let path_d = write_copy(&dir, "d-record-deleted.log", &deleted)?;
    println!("   d) Record 1 deleted:");
    report("", &path_d, Options::default())?;

    let cut = lines.get(..8).ok_or("short")?.to_vec();
    let path_e = write_copy(&dir, "e-last-records-cut.log", &cut)?;
    println!("   e) The last two records cut off. On its own the rest is a valid chain:");
    report("", &path_e, Options::default())?;
    println!("      ...but not against the head kept in step 3:");
    let expected = ExpectedHead {
        seq: head.seq.ok_or("no seq")?,
        hash: head.hash,
    };
    let with_head = Options {
        expect_head: Some(expected),
        ..Options::default()
    };
    report("", &path_e, with_head)?;

    println!("   f) A forger who changes record 3 and recomputes its hash and every");
    println!("      later one. On its own the log is a valid chain again:");
    let rewritten = rewrite(&lines, 3, b"91%", b"11%")?;
    let path_r = write_copy(&dir, "f-rewritten.log", &rewritten)?;
    report("", &path_r, Options::default())?;
    println!("      ...but not against the head kept in step 3 (the anchor):");
    report("", &path_r, with_head)?;
    println!("      (`immutable-log head` prints the anchor; `verify --expect-head SEQ:HASH`");
    println!("      or `--checkpoint` checks it; a keyed chain needs a key the forger lacks.)\n");

    let path_f = dir.join("g-crash-mid-record.log");
    fs::write(&path_f, original.get(..original.len() - 40).ok_or("short")?)?;
    println!("   g) A crash in the middle of writing the last record (not tampering):");
    report("", &path_f, Options::default())?;
    let reopened = LogFile::open(&path_f)?;
    let recovered = reopened.recovered().ok_or("nothing recovered")?;
    reopened.close()?;
    println!(
        "      Reopening it keeps the {} torn bytes in a recovery record:",
        recovered.len
    );
    report("", &path_f, Options::default())?;

    println!("\nThe files are in {} for you to look at.", dir.display());
    Ok(())
}

/// The log rewritten from record `from` on: `old` replaced by `new` in its
/// message, its hash recomputed, and every later record re-linked and
/// re-hashed, as a forger with the file (and no anchor against them) would.
fn rewrite(
    lines: &[Vec<u8>],
    from: usize,
    old: &[u8],
    new: &[u8],
) -> Result<Vec<Vec<u8>>, Box<dyn Error>> {
    let mut out = lines.to_vec();
    let mut prev: Option<String> = None;
    for record in from..lines.len() / 2 {
        let (display, block) = (2 * record, 2 * record + 1);
        let mut json = out[block]
            .strip_prefix(b"BLOCK_DATA:")
            .ok_or("no block")?
            .to_vec();
        let line = &out[display];
        let mut text = line.get(65..line.len() - 65).ok_or("short")?.to_vec();
        if record == from {
            json = replace_once(&json, old, new);
            text = replace_once(&text, old, new);
        }
        let old_prev = line.get(..64).ok_or("short")?.to_vec();
        let prev_hash = match &prev {
            Some(p) => {
                json = replace_once(&json, &old_prev, p.as_bytes());
                p.clone()
            }
            None => String::from_utf8(old_prev)?,
        };
        let hash = BlockHasher::hash(&json).to_string();
        out[display] = [prev_hash.as_bytes(), b"|", &text, b"|", hash.as_bytes()].concat();
        out[block] = [b"BLOCK_DATA:".as_slice(), &json].concat();
        prev = Some(hash);
    }
    Ok(out)
}

/// Verifies `path` and prints the verdict in a line or two.
fn report(what: &str, path: &Path, options: Options) -> Result<(), Box<dyn Error>> {
    let what = if what.is_empty() {
        String::new()
    } else {
        format!("{what}: ")
    };
    match verify_path(path, options)? {
        Verdict::Intact(r) => {
            let head = r.head.map_or("none".into(), head_text);
            println!("      {what}INTACT: {} records, head {head}", r.records);
        }
        Verdict::Failed(_, failure) => println!("      {what}FAILED at {failure}"),
        Verdict::Torn(r, torn) => println!(
            "      {what}TORN TAIL after {} intact records: {} bytes from line {}",
            r.records, torn.len, torn.line
        ),
    }
    println!();
    Ok(())
}

fn split_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\n").unwrap_or(l).to_vec())
        .collect()
}

fn write_copy(dir: &Path, name: &str, lines: &[Vec<u8>]) -> std::io::Result<PathBuf> {
    let path = dir.join(name);
    let mut bytes = Vec::new();
    for line in lines {
        bytes.extend_from_slice(line);
        bytes.push(b'\n');
    }
    fs::write(&path, bytes)?;
    Ok(path)
}

fn replace_once(line: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    match line.windows(from.len()).position(|w| w == from) {
        Some(at) => [&line[..at], to, &line[at + from.len()..]].concat(),
        None => line.to_vec(),
    }
}

/// The message part of a display line.
fn display_of(line: &[u8]) -> String {
    String::from_utf8_lossy(line.get(65..line.len().saturating_sub(65)).unwrap_or(line)).into()
}

/// A line with its hashes shortened, to fit a terminal.
fn shorten(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let mut out = String::new();
    let mut rest = text.as_ref();
    while let Some(at) = find_hash(rest) {
        out.push_str(&rest[..at]);
        out.push_str(&short(&rest[at..at + 64]));
        rest = &rest[at + 64..];
    }
    out.push_str(rest);
    out
}

fn find_hash(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(63)).find(|&i| {
        bytes[i..i + 64]
            .iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    })
}

/// `seq 5, hash 0123abcd…01234567`.
fn head_text(head: Head) -> String {
    let seq = head.seq.map_or("-".into(), |s| s.to_string());
    format!("seq {seq}, hash {}", short(&head.hash.to_string()))
}

/// `0123abcd…01234567`: the ends of a hash.
fn short(hash: &str) -> String {
    match (hash.get(..8), hash.get(56..)) {
        (Some(start), Some(end)) => format!("{start}…{end}"),
        _ => hash.to_string(),
    }
}
