//! The compact encoding in the CLI: `verify` detects it and reads it here
//! (exit 4 for a log with gaps); `decode` prints its records as text lines or
//! JSON lines.
//!
//! `verify --json` for a compact log:
//!
//! ```text
//! {"file":"cap.bin","encoding":"compact","status":"intact|incomplete|torn|failed|error",
//!  "records":N,"unverified":N,"missing":N,"gaps":N,
//!  "gap_list":[{"first":N,"last":N,"missing":N}],"damaged_frames":N,"syncs":N,
//!  "start":N|null,"head":{"seq":N,"state":"<hex>"}|null,"unlogged":N,"truncated":N,
//!  "keyed":bool,"failure":{"frame":N,"offset":N,"reason":"<text>"}|null,
//!  "torn_offset":N|null,"error":"<text>"|null}
//! ```

use std::fs::File;
use std::io::{self, Read, Write as _};
use std::path::Path;

use serde::Serialize;

use super::verify::Checks;
use super::Code;
use crate::compact::cobs::decode_in_place;
use crate::compact::{parse, Payload};
use crate::std_backend::{read_verify_key, verify_compact_reader};
use crate::CompactVerdict;

/// Bytes looked at to tell the encodings apart.
const SNIFF: u64 = 4096;

/// The longest frame the verifier takes (this crate writes at most 256).
pub(super) use crate::std_backend::MAX_COMPACT_FRAME as MAX_FRAME;

/// True if the file at `path` looks like the compact encoding (see
/// [`looks_compact`](crate::compact::looks_compact)); false if it cannot be read
/// (the text path reports that).
pub(super) fn is_compact(path: &Path) -> bool {
    let mut prefix = Vec::new();
    File::open(path)
        .and_then(|f| f.take(SNIFF).read_to_end(&mut prefix))
        .is_ok_and(|_| crate::compact::looks_compact(&prefix))
}

#[derive(Serialize, Debug)]
#[serde(rename_all = "lowercase")]
enum Status {
    Intact,
    Incomplete,
    Torn,
    Failed,
    Error,
}

#[derive(Serialize, Debug)]
struct GapJson {
    first: u64,
    last: u64,
    missing: u64,
}

#[derive(Serialize, Debug)]
struct HeadJson {
    seq: u64,
    state: String,
}

#[derive(Serialize, Debug)]
struct FailureJson {
    frame: u64,
    offset: u64,
    reason: String,
}

#[derive(Serialize, Debug, Default)]
struct VerdictJson {
    file: String,
    encoding: &'static str,
    status: Option<Status>,
    records: u64,
    unverified: u64,
    missing: u64,
    gaps: u64,
    gap_list: Vec<GapJson>,
    damaged_frames: u64,
    syncs: u64,
    start: Option<u64>,
    head: Option<HeadJson>,
    unlogged: u64,
    truncated: u64,
    keyed: bool,
    failure: Option<FailureJson>,
    torn_offset: Option<u64>,
    error: Option<String>,
}

/// `verify FILE` for a compact log.
pub(super) fn verify(file: &Path, name: &str, as_json: bool, checks: &Checks) -> Code {
    let verdict = run(file, checks);
    let code = match &verdict {
        Ok(CompactVerdict::Intact(_)) => Code::Success,
        Ok(CompactVerdict::Incomplete(_)) => Code::Incomplete,
        Ok(CompactVerdict::Torn(..)) => Code::Torn,
        Ok(CompactVerdict::Failed(..)) => Code::Integrity,
        Err(_) => Code::Usage,
    };
    let text = match (&verdict, as_json) {
        (Ok(v), false) => human(name, v),
        (Ok(v), true) => json(name, Ok(v)),
        (Err(e), false) => {
            complain!("{name}: {e}");
            return code;
        }
        (Err(e), true) => json(name, Err(e)),
    };
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => code,
        Err(_) => Code::Usage,
    }
}

fn run(file: &Path, checks: &Checks) -> Result<CompactVerdict, String> {
    if checks.expect_head.is_some() || checks.checkpoint.is_some() {
        return Err(
            "--expect-head and --checkpoint are for the text format; a compact log states \
             its chain state in its sync records"
                .to_string(),
        );
    }
    let key = checks
        .verify_key
        .as_deref()
        .map(read_verify_key)
        .transpose()
        .map_err(|e| e.to_string())?;
    let input = File::open(file).map_err(|e| format!("cannot open: {e}"))?;
    verify_compact_reader(input, checks.allow_segment, key).map_err(|e| format!("cannot read: {e}"))
}

fn summary(report: &crate::compact::CompactReport) -> String {
    let mut text = match report.head {
        Some(head) => format!("{} verified, head {head}", count(report.records, "record")),
        None => format!("{} verified", count(report.records, "record")),
    };
    if let Some(start) = report.start.filter(|&s| s > 0) {
        text += &format!("; a segment verified from seq {start}");
    }
    text += &format!("; {}", count(report.syncs, "sync record"));
    if report.unlogged > 0 {
        text += &format!(
            "; the writer reported {} lost",
            count(report.unlogged, "record")
        );
    }
    if report.truncated > 0 {
        text += &format!("; {} cut to fit", count(report.truncated, "message"));
    }
    if report.keyed {
        text += "; keyed";
    }
    text
}

pub(super) fn human(name: &str, verdict: &CompactVerdict) -> String {
    match verdict {
        CompactVerdict::Intact(r) => format!("{name}: intact (compact): {}", summary(r)),
        CompactVerdict::Incomplete(r) => {
            let mut text = format!(
                "{name}: INCOMPLETE (compact): {}\n{} ({} present but not verifiable, {} with no \
                 readable frame, {}); every record present that could be checked is intact",
                summary(r),
                count(r.gaps, "gap"),
                r.unverified,
                r.missing,
                count(r.damaged_frames, "damaged frame"),
            );
            for gap in &r.gap_list {
                text += &format!("\ngap: {gap}");
            }
            if r.gaps > r.gap_list.len() as u64 {
                text += &format!("\n... and {} more", r.gaps - r.gap_list.len() as u64);
            }
            text
        }
        CompactVerdict::Torn(r, offset) => format!(
            "{name}: TORN TAIL (compact): {}\nthe log ends inside a frame (from byte {offset})",
            summary(r)
        ),
        CompactVerdict::Failed(r, failure) => format!(
            "{name}: FAILED (compact) after {}\n{failure}",
            count(r.records, "verified record")
        ),
    }
}

fn json(name: &str, verdict: Result<&CompactVerdict, &String>) -> String {
    let mut out = VerdictJson {
        file: name.to_string(),
        encoding: "compact",
        ..VerdictJson::default()
    };
    match verdict {
        Err(e) => {
            out.status = Some(Status::Error);
            out.error = Some(e.clone());
        }
        Ok(v) => {
            let r = v.report();
            out.status = Some(match v {
                CompactVerdict::Intact(_) => Status::Intact,
                CompactVerdict::Incomplete(_) => Status::Incomplete,
                CompactVerdict::Torn(..) => Status::Torn,
                CompactVerdict::Failed(..) => Status::Failed,
            });
            out.records = r.records;
            out.unverified = r.unverified;
            out.missing = r.missing;
            out.gaps = r.gaps;
            out.gap_list = r
                .gap_list
                .iter()
                .map(|g| GapJson {
                    first: g.first,
                    last: g.last,
                    missing: g.missing,
                })
                .collect();
            out.damaged_frames = r.damaged_frames;
            out.syncs = r.syncs;
            out.start = r.start;
            out.head = r.head.map(|h| HeadJson {
                seq: h.seq,
                state: h.state.to_string(),
            });
            out.unlogged = r.unlogged;
            out.truncated = r.truncated;
            out.keyed = r.keyed;
            if let CompactVerdict::Failed(_, f) = v {
                out.failure = Some(FailureJson {
                    frame: f.frame,
                    offset: f.offset,
                    reason: f.kind.to_string(),
                });
            }
            if let CompactVerdict::Torn(_, offset) = v {
                out.torn_offset = Some(*offset);
            }
        }
    }
    serde_json::to_string(&out).unwrap_or_default()
}

/// `decode FILE [--json]`: each frame as a line. It does not verify. With
/// `--elf`, defmt_decode.rs decodes defmt records and verifies.
pub(super) fn decode(file: &Path, as_json: bool, elf: Option<&Path>) -> Code {
    if let Some(elf) = elf {
        return super::defmt_decode::decode(file, elf, as_json);
    }
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            complain!("{}: cannot read: {e}", file.display());
            return Code::Usage;
        }
    };
    if !crate::compact::looks_compact(&bytes) {
        complain!(
            "{}: not the compact encoding (a text log is already text)",
            file.display()
        );
        return Code::Usage;
    }
    let mut out = io::stdout().lock();
    let mut offset = 0usize;
    for piece in bytes.split(|&b| b == 0) {
        let start = offset;
        offset += piece.len() + 1;
        if piece.is_empty() || offset > bytes.len() {
            // An empty frame, or the bytes after the last zero (a torn frame).
            if !piece.is_empty() {
                let _ = writeln!(out, "{}", damaged(start, as_json, "torn (no final zero)"));
            }
            continue;
        }
        let mut frame = piece.to_vec();
        let line = match decode_in_place(&mut frame) {
            Err(_) => damaged(start, as_json, "not COBS"),
            Ok(n) => match parse(frame.get(..n).unwrap_or_default()) {
                Err(fault) => damaged(start, as_json, &format!("{fault:?}")),
                Ok(payload) => line(&payload, as_json),
            },
        };
        if writeln!(out, "{line}").is_err() {
            return Code::Usage;
        }
    }
    match out.flush() {
        Ok(()) => Code::Success,
        Err(_) => Code::Usage,
    }
}

pub(super) fn damaged(offset: usize, as_json: bool, why: &str) -> String {
    if as_json {
        serde_json::json!({"damaged": {"offset": offset, "reason": why}}).to_string()
    } else {
        format!("# damaged frame at byte {offset}: {why}")
    }
}

pub(super) fn line(payload: &Payload<'_>, as_json: bool) -> String {
    match payload {
        Payload::Record(r) if r.is_defmt() => super::defmt_decode::undecoded(r, as_json),
        Payload::Record(r) => {
            let time = format!("{}.{:06}", r.time_us / 1_000_000, r.time_us % 1_000_000);
            if as_json {
                let mut v = serde_json::json!({
                    "seq": r.seq,
                    "levelno": r.level().levelno(),
                    "level": r.level().name(),
                    "timestamp": serde_json::Value::Number(
                        time.parse().unwrap_or_else(|_| serde_json::Number::from(0))
                    ),
                    "message": r.message,
                });
                if let Some(o) = v.as_object_mut() {
                    if r.truncated() {
                        o.insert("truncated".into(), true.into());
                    }
                    if r.unlogged > 0 {
                        o.insert("unlogged".into(), r.unlogged.into());
                    }
                }
                v.to_string()
            } else {
                let mut text = format!("{} {time} {} ", r.seq, r.level().name());
                for c in r.message.chars() {
                    if c.is_control() && c != '\t' {
                        text += serde_json::to_string(&c.to_string())
                            .unwrap_or_default()
                            .trim_matches('"');
                    } else {
                        text.push(c);
                    }
                }
                if r.truncated() {
                    text += " [truncated]";
                }
                if r.unlogged > 0 {
                    text += &format!(" [{} lost before]", r.unlogged);
                }
                text
            }
        }
        Payload::Sync(y) => {
            let state = crate::Hash::from_bytes(y.state).to_string();
            if as_json {
                serde_json::json!({"sync": {"next": y.next, "state": state}}).to_string()
            } else {
                format!("# sync: next seq {}, chain state {state}", y.next)
            }
        }
    }
}

/// `1 record`, `2 records`.
fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
