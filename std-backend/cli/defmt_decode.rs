//! `decode --elf ELF FILE`: a compact capture whose records are defmt frames
//! (the `defmt_logger` front end), decoded to text with the firmware's ELF
//! (the `defmt-decoder` crate) and verified in the same pass, each line with
//! its record's status:
//!
//! | status | meaning |
//! | --- | --- |
//! | `ok` | the record verified (its tag matches, after every record before it) |
//! | `unverified` | present, but after lost or damaged frames, before the sync record that resumes the chain (or before a segment's first sync) |
//! | `FAILED` | the record the verifier names as changed (or out of order) |
//! | `unchecked` | after a failure: the verifier stops there |
//!
//! A status is known only once the verifier has decided (a record after a gap
//! is decided at the next sync record), so lines are held until then; output
//! stays in capture order. The last line (`# ...`) is `verify`'s verdict, and
//! the exit code is `verify`'s. Verifying never needs the ELF.

use std::fs;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use defmt_decoder::Table;

use super::compact::{damaged, human, line, MAX_FRAME};
use super::Code;
use crate::compact::cobs::decode_in_place;
use crate::compact::{parse, Payload, RecordView};
use crate::{CompactVerdict, CompactVerifier};

/// A defmt record shown without the ELF: its frame in hex.
pub(super) fn undecoded(r: &RecordView<'_>, as_json: bool) -> String {
    let hex: String = r.bytes.iter().map(|b| format!("{b:02x}")).collect();
    if as_json {
        let mut v = serde_json::json!({"seq": r.seq, "defmt": hex});
        marks_json(&mut v, r);
        v.to_string()
    } else {
        format!("{} DEFMT {hex}{}", r.seq, marks(r))
    }
}

/// ` [truncated]`, ` [N lost before]`.
fn marks(r: &RecordView<'_>) -> String {
    let mut text = String::new();
    if r.truncated() {
        text += " [truncated]";
    }
    if r.unlogged > 0 {
        text += &format!(" [{} lost before]", r.unlogged);
    }
    text
}

fn marks_json(v: &mut serde_json::Value, r: &RecordView<'_>) {
    if let Some(o) = v.as_object_mut() {
        if r.truncated() {
            o.insert("truncated".into(), true.into());
        }
        if r.unlogged > 0 {
            o.insert("unlogged".into(), r.unlogged.into());
        }
    }
}

/// A defmt frame as text, or why not. The decoder is another crate's, fed
/// bytes from a capture: a panic in it is caught and reported as undecodable.
fn decode_frame(table: &Table, bytes: &[u8]) -> Result<(Option<&'static str>, String), String> {
    let decoded = catch_unwind(AssertUnwindSafe(|| {
        table.decode(bytes).map(|(frame, consumed)| {
            let level = frame.level().map(|l| l.as_str());
            let mut text = frame.display(false).to_string();
            if consumed < bytes.len() {
                text += &format!(" [{} bytes after the frame]", bytes.len() - consumed);
            }
            (level, text)
        })
    }));
    match decoded {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(e)) => Err(format!("not decodable with this ELF ({e:?})")),
        Err(_) => Err("not decodable: the defmt decoder failed on it".to_string()),
    }
}

/// One output line, its status perhaps still open.
struct Pending {
    /// The verifier's 1-based frame number, for a record (`None`: a sync or
    /// damaged-frame line, printed as it is).
    frame: Option<u64>,
    /// The line without its status.
    text: String,
}

/// Writes lines, text or JSON, with their status.
struct Printer<W: io::Write> {
    out: W,
    as_json: bool,
    held: Vec<Pending>,
}

impl<W: io::Write> Printer<W> {
    fn emit(&mut self, status: Option<&str>, text: &str) -> io::Result<()> {
        match (status, self.as_json) {
            (None, _) => writeln!(self.out, "{text}"),
            (Some(s), false) => writeln!(self.out, "{s:<10} {text}"),
            (Some(s), true) => {
                let mut v: serde_json::Value =
                    serde_json::from_str(text).unwrap_or(serde_json::Value::Null);
                if let Some(o) = v.as_object_mut() {
                    o.insert("status".into(), s.into());
                }
                writeln!(self.out, "{v}")
            }
        }
    }

    /// Prints the held lines, each record's status from `status(frame)`.
    fn settle(&mut self, status: impl Fn(u64) -> &'static str) -> io::Result<()> {
        for p in std::mem::take(&mut self.held) {
            self.emit(p.frame.map(&status), &p.text)?;
        }
        Ok(())
    }
}

/// `decode --elf ELF FILE [--json]`.
pub(super) fn decode(file: &Path, elf: &Path, as_json: bool) -> Code {
    let table = match fs::read(elf).map(|bytes| Table::parse(&bytes)) {
        Ok(Ok(Some(table))) => table,
        Ok(Ok(None)) => {
            complain!(
                "{}: no .defmt section (not a defmt firmware)",
                elf.display()
            );
            return Code::Usage;
        }
        Ok(Err(e)) => {
            complain!("{}: cannot read its defmt table: {e}", elf.display());
            return Code::Usage;
        }
        Err(e) => {
            complain!("{}: cannot read: {e}", elf.display());
            return Code::Usage;
        }
    };
    let bytes = match fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            complain!("{}: cannot read: {e}", file.display());
            return Code::Usage;
        }
    };
    let mut printer = Printer {
        out: io::stdout().lock(),
        as_json,
        held: Vec::new(),
    };
    match run(&table, &bytes, &file.display().to_string(), &mut printer) {
        Ok(code) => code,
        Err(_) => Code::Usage,
    }
}

fn run<W: io::Write>(
    table: &Table,
    bytes: &[u8],
    name: &str,
    p: &mut Printer<W>,
) -> io::Result<Code> {
    let mut buf = vec![0u8; MAX_FRAME];
    let mut verifier = CompactVerifier::new(&mut buf, false);
    let mut frames = 0u64;
    let mut offset = 0usize;
    let mut failed = None;
    for piece in bytes.split(|&b| b == 0) {
        let start = offset;
        offset += piece.len() + 1;
        let whole = offset <= bytes.len();
        // The piece and its zero, as the verifier reads it.
        let fed = bytes
            .get(start..offset.min(bytes.len()))
            .unwrap_or_default();
        if piece.is_empty() {
            if failed.is_none() {
                let _ = verifier.feed(fed);
            }
            continue;
        }
        if !whole {
            if failed.is_none() {
                let _ = verifier.feed(fed);
            }
            p.held.push(Pending {
                frame: None,
                text: damaged(start, p.as_json, "torn (no final zero)"),
            });
            continue;
        }
        frames += 1;
        let mut frame = piece.to_vec();
        let payload = decode_in_place(&mut frame)
            .ok()
            .and_then(|n| frame.get(..n))
            .map(parse);
        let (is_record, text) = match &payload {
            None => (false, damaged(start, p.as_json, "not COBS")),
            Some(Err(fault)) => (false, damaged(start, p.as_json, &format!("{fault:?}"))),
            Some(Ok(Payload::Record(r))) if r.is_defmt() => (true, defmt_line(table, r, p.as_json)),
            Some(Ok(payload @ Payload::Record(_))) => (true, line(payload, p.as_json)),
            Some(Ok(payload @ Payload::Sync(_))) => (false, line(payload, p.as_json)),
        };
        if failed.is_some() {
            let status = is_record.then_some("unchecked");
            p.emit(status, &text)?;
            continue;
        }
        let before = verifier.report().clone();
        let result = verifier.feed(fed);
        p.held.push(Pending {
            frame: is_record.then_some(frames),
            text,
        });
        let now = verifier.report();
        match result {
            Err(f) => {
                failed = Some(f.frame);
                p.settle(|n| if n == f.frame { "FAILED" } else { "unchecked" })?;
            }
            Ok(()) if now.records > before.records => p.settle(|_| "ok")?,
            // A sync resumed the chain, or a segment's record before its first sync.
            Ok(()) if now.syncs > before.syncs || now.unverified > before.unverified => {
                p.settle(|_| "unverified")?
            }
            Ok(()) => {}
        }
    }
    let verdict = verifier.finish();
    let code = match &verdict {
        CompactVerdict::Intact(_) => Code::Success,
        CompactVerdict::Incomplete(_) => Code::Incomplete,
        CompactVerdict::Torn(..) => Code::Torn,
        CompactVerdict::Failed(..) => Code::Integrity,
    };
    match &verdict {
        CompactVerdict::Failed(_, f) => {
            p.settle(|n| if n == f.frame { "FAILED" } else { "unchecked" })?
        }
        _ => p.settle(|_| "unverified")?,
    }
    let summary = human(name, &verdict);
    if p.as_json {
        p.emit(None, &serde_json::json!({"verdict": summary}).to_string())?;
    } else {
        for l in summary.lines() {
            p.emit(None, &format!("# {l}"))?;
        }
    }
    p.out.flush()?;
    Ok(code)
}

/// A defmt record's line (without its status).
fn defmt_line(table: &Table, r: &RecordView<'_>, as_json: bool) -> String {
    let decoded = decode_frame(table, r.bytes);
    if as_json {
        let mut v = match decoded {
            Ok((level, text)) => serde_json::json!({"seq": r.seq, "level": level, "text": text}),
            Err(why) => {
                let hex: String = r.bytes.iter().map(|b| format!("{b:02x}")).collect();
                serde_json::json!({"seq": r.seq, "defmt": hex, "undecodable": why})
            }
        };
        marks_json(&mut v, r);
        v.to_string()
    } else {
        match decoded {
            Ok((_, text)) => format!("{} {text}{}", r.seq, marks(r)),
            Err(why) => format!("{}: {why}", undecoded(r, false)),
        }
    }
}
