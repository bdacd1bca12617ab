//! `immutable-log verify`: the verdict, as text or as one JSON object.

use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use super::json::{self, Object};
use super::Code;
use crate::std_backend::{read_verify_key, verify_path_keyed, verify_reader_keyed, Error, Step};
use crate::{
    Checkpoint, ExpectedHead, Failure, FailureKind, Head, Options, RecordFault, Report,
    SegmentStart, Start, TornTail, Verdict,
};

/// How standard input is named in messages.
const STDIN: &str = "<stdin>";

/// What the log must satisfy besides its own chain.
pub(super) struct Checks {
    pub(super) expect_head: Option<ExpectedHead>,
    pub(super) allow_segment: bool,
    pub(super) verify_key: Option<PathBuf>,
    pub(super) checkpoint: Option<PathBuf>,
}

pub(super) fn run(file: &Path, as_json: bool, checks: Checks) -> Code {
    let mut options = Options {
        start: if checks.allow_segment {
            Start::Segment
        } else {
            Start::Genesis
        },
        expect_head: checks.expect_head,
        ..Options::default()
    };
    let key = match checks
        .verify_key
        .as_deref()
        .map(read_verify_key)
        .transpose()
    {
        Ok(key) => key,
        Err(e) => {
            complain!("{e}");
            return Code::Usage;
        }
    };
    if let Some(path) = &checks.checkpoint {
        match read_last_checkpoint(path) {
            Ok(cp) => options = options.with_checkpoint(&cp),
            Err(why) => {
                complain!("{}: {why}", path.display());
                return Code::Usage;
            }
        }
    }
    let from_stdin = file.as_os_str() == "-";
    let name = if from_stdin {
        STDIN.to_string()
    } else {
        file.display().to_string()
    };
    let verdict = if from_stdin {
        verify_reader_keyed(io::stdin().lock(), options, key)
            .map_err(|e| Error::io(Path::new(STDIN), Step::Verify, e))
    } else {
        verify_path_keyed(file, options, key)
    };
    let code = match &verdict {
        Ok(Verdict::Intact(_)) => Code::Success,
        Ok(Verdict::Failed(..)) => Code::Integrity,
        Ok(Verdict::Torn(..)) => Code::Torn,
        Err(_) => Code::Usage,
    };
    let text = match (&verdict, as_json) {
        (Ok(verdict), false) => human(&name, verdict),
        (Ok(verdict), true) => to_json(&name, verdict),
        (Err(e), false) => {
            complain!("{e}");
            return code;
        }
        (Err(e), true) => Object::new()
            .string("file", &name)
            .string("status", "error")
            .raw("records", 0)
            .raw("head", "null")
            .string("error", &e.to_string())
            .finish(),
    };
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => code,
        Err(_) => Code::Usage,
    }
}

/// Bytes read from the end of a witness file: far more than one note.
const WITNESS_TAIL: u64 = 64 * 1024;

/// The last checkpoint in a file of them (notes separated by empty lines,
/// appended over time): read from the file's end, so a witness file of any
/// size costs the same. A last note cut short (a writer interrupted) is
/// skipped for the one before it.
fn read_last_checkpoint(path: &Path) -> Result<Checkpoint, String> {
    use std::io::{Seek, SeekFrom};
    let mut file =
        std::fs::File::open(path).map_err(|e| format!("cannot read the checkpoint: {e}"))?;
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read the checkpoint: {e}"))?
        .len();
    let start = len.saturating_sub(WITNESS_TAIL);
    let mut text = Vec::new();
    file.seek(SeekFrom::Start(start))
        .and_then(|_| file.take(WITNESS_TAIL).read_to_end(&mut text))
        .map_err(|e| format!("cannot read the checkpoint: {e}"))?;
    let text = String::from_utf8_lossy(&text);
    // The first piece may be the end of a note cut by the read: never used
    // unless the file is short enough to have been read whole.
    let notes: Vec<&str> = text.split("\n\n").collect();
    let skip_first = usize::from(start > 0);
    notes
        .iter()
        .skip(skip_first)
        .rev()
        .map(|note| note.trim_start_matches('\n'))
        .filter(|note| !note.trim().is_empty())
        .find_map(|note| Checkpoint::parse(format!("{}\n", note.trim_end()).as_bytes()).ok())
        .ok_or_else(|| "no checkpoint in the file".to_string())
}

/// The one-line summary, and on failure the line that says where and what.
fn human(name: &str, verdict: &Verdict) -> String {
    match verdict {
        Verdict::Intact(report) => format!("{name}: intact: {}", describe(report)),
        Verdict::Failed(report, failure) => format!(
            "{name}: FAILED after {}\n{failure}",
            count(report.records, "intact record")
        ),
        Verdict::Torn(report, torn) => format!(
            "{name}: TORN TAIL: {}\n{}",
            describe(report),
            torn_text(torn)
        ),
    }
}

fn describe(report: &Report) -> String {
    let mut text = match report.head {
        None => "0 records (an empty log)".to_string(),
        Some(head) => format!("{}, head {head}", count(report.records, "record")),
    };
    if let Some(start) = report.start.filter(|s| !s.is_genesis()) {
        text += &format!(
            "; a segment starting at seq {} (prev_hash {})",
            start
                .seq
                .map_or_else(|| "unknown".to_string(), |s| s.to_string()),
            start.prev_hash
        );
    }
    if report.unlogged > 0 {
        text += &format!(
            "; the writer reported {} lost",
            count(report.unlogged, "record")
        );
    }
    if report.truncated > 0 {
        text += &format!("; {} cut to fit", count(report.truncated, "message"));
    }
    text
}

fn torn_text(torn: &TornTail) -> String {
    format!(
        "line {}: the log ends inside a record ({} from byte {}), as a crash \
         mid-write leaves it; every record before it is intact, and opening the \
         log with a writer keeps these bytes in recovery records",
        torn.line,
        count(torn.len as u64, "byte"),
        torn.offset
    )
}

/// `1 record`, `2 records`.
fn count(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn to_json(name: &str, verdict: &Verdict) -> String {
    let report = verdict.report();
    let (status, error, failure, torn) = match verdict {
        Verdict::Intact(_) => ("intact", None, None, None),
        Verdict::Failed(_, failure) => ("failed", Some(failure.to_string()), Some(failure), None),
        Verdict::Torn(_, torn) => ("torn", Some(torn_text(torn)), None, Some(torn)),
    };
    Object::new()
        .string("file", name)
        .string("status", status)
        .raw("records", report.records)
        .nullable("head", report.head, head_json)
        .nullable("start", report.start, start_json)
        .raw("unlogged", report.unlogged)
        .raw("truncated", report.truncated)
        .nullable("failure", failure, failure_json)
        .nullable("torn", torn, |t| {
            Object::new()
                .raw("line", t.line)
                .raw("offset", t.offset)
                .raw("bytes", t.len)
                .finish()
        })
        .nullable("error", error, |e| json::string(&e))
        .finish()
}

fn seq_json(seq: Option<u64>) -> String {
    seq.map_or_else(|| "null".to_string(), |s| s.to_string())
}

fn head_json(head: Head) -> String {
    Object::new()
        .raw("seq", seq_json(head.seq))
        .string("hash", &head.hash.to_string())
        .finish()
}

fn start_json(start: SegmentStart) -> String {
    Object::new()
        .raw("seq", seq_json(start.seq))
        .string("prev_hash", &start.prev_hash.to_string())
        .raw("genesis", start.is_genesis())
        .finish()
}

fn failure_json(failure: &Failure) -> String {
    Object::new()
        .raw("line", failure.line)
        .raw("record", failure.record)
        .string("kind", kind_name(&failure.kind))
        .string("reason", &failure.kind.to_string())
        .finish()
}

/// A stable, machine-readable name for a failure.
fn kind_name(kind: &FailureKind) -> &'static str {
    match kind {
        FailureKind::Record(RecordFault::MalformedDisplayLine) => "malformed_display_line",
        FailureKind::Record(RecordFault::MissingBlockData) => "missing_block_data",
        FailureKind::Record(RecordFault::MalformedBlock(_) | RecordFault::MalformedPrevHash) => {
            "malformed_block"
        }
        FailureKind::Record(RecordFault::HashMismatch) => "hash_mismatch",
        FailureKind::Record(RecordFault::PrevHashDisagrees) => "prev_hash_disagrees",
        FailureKind::Record(RecordFault::DisplayMismatch) => "display_mismatch",
        FailureKind::PrevHashMismatch { .. } => "prev_hash_mismatch",
        FailureKind::SeqOutOfOrder { .. } => "seq_out_of_order",
        FailureKind::LineTooLong { .. } => "line_too_long",
        FailureKind::NotAtGenesis { .. } => "not_at_genesis",
        FailureKind::HeadMismatch { .. } => "head_mismatch",
        FailureKind::EndsBeforeHead { .. } => "truncated",
        FailureKind::KeyRequired => "key_required",
        FailureKind::NotKeyed => "not_keyed",
        FailureKind::WrongKey => "wrong_key",
        FailureKind::SeqMissing => "seq_missing",
        FailureKind::KeyOutOfReach { .. } => "key_out_of_reach",
        FailureKind::OriginMismatch { .. } => "origin_mismatch",
    }
}
