//! `immutable-log verify`: the verdict, as text or as one JSON object
//! (`json.rs`).

use std::fmt;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use super::checkpoint_file::{read_last_checkpoint, KeyTexts, PathError, TreeExpectation};
use super::json;
use super::{not_a_log, Code};
use crate::note::NoteError;
use crate::std_backend::{
    read_verify_key, verify_path_keyed, verify_path_threads, verify_reader_keyed, verify_set,
    Error, SetVerdict, Step,
};
use crate::{AnyCheckpoint, ExpectedHead, Options, Report, Start, TornTail, Verdict};

/// How standard input is named in messages.
const STDIN: &str = "<stdin>";

/// What the log must satisfy besides its own chain.
pub(super) struct Checks {
    pub(super) expect_head: Option<ExpectedHead>,
    pub(super) allow_segment: bool,
    pub(super) verify_key: Option<PathBuf>,
    pub(super) checkpoint: Option<PathBuf>,
    /// Keys that must have signed the checkpoint (`--note-verifier`).
    pub(super) note_verifiers: Vec<PathBuf>,
    /// How many of them (default: all).
    pub(super) quorum: Option<usize>,
    /// Threads for a file (`None`: the default of `verify_path`).
    pub(super) threads: Option<usize>,
}

pub(super) fn run(file: &Path, as_json: bool, checks: Checks) -> Code {
    let from_stdin = file.as_os_str() == "-";
    let name = if from_stdin {
        STDIN.to_string()
    } else {
        file.display().to_string()
    };
    if !from_stdin && super::compact::is_compact(file) {
        return super::compact::verify(file, &name, as_json, &checks);
    }
    let note = anchor_note(&checks);
    let verdict = verify(file, from_stdin, checks);
    let code = match &verdict {
        Ok(Verdict::Intact(_)) => Code::Success,
        Ok(Verdict::Failed(..)) => Code::Integrity,
        Ok(Verdict::Torn(..)) => Code::Torn,
        // A checkpoint not signed as required: an integrity failure.
        Err(Unverified::Signatures(..)) => Code::Integrity,
        Err(_) => Code::Usage,
    };
    let text = match (&verdict, as_json) {
        (Ok(verdict), false) => human(&name, verdict, note),
        (Ok(verdict), true) => json::Verdict::of(&name, verdict).to_line(),
        (Err(e), false) => {
            complain!("{e}");
            return code;
        }
        (Err(e), true) => json::Verdict::error(&name, e.to_string()).to_line(),
    };
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => code,
        Err(_) => Code::Usage,
    }
}

/// Why a log could not be verified at all.
#[derive(Debug)]
enum Unverified {
    /// The verify key, or the log, could not be read.
    Log(Error),
    /// The checkpoint or a key file could not be read, or holds none.
    Checkpoint(PathError),
    /// The checkpoint is not signed as `--note-verifier`/`--quorum` ask.
    Signatures(PathBuf, NoteError),
    /// A tree checkpoint needs the log twice: not from standard input.
    TreeFromStdin,
}

impl fmt::Display for Unverified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unverified::Log(e) => e.fmt(f),
            Unverified::Checkpoint(e) => e.fmt(f),
            Unverified::Signatures(path, e) => write!(f, "{}: checkpoint {e}", path.display()),
            Unverified::TreeFromStdin => {
                f.write_str("a tree checkpoint is checked against a log file, not standard input")
            }
        }
    }
}

fn verify(file: &Path, from_stdin: bool, checks: Checks) -> Result<Verdict, Unverified> {
    let mut options = Options {
        start: if checks.allow_segment {
            Start::Segment
        } else {
            Start::Genesis
        },
        expect_head: checks.expect_head,
        ..Options::default()
    };
    let key = checks
        .verify_key
        .as_deref()
        .map(read_verify_key)
        .transpose()
        .map_err(Unverified::Log)?;
    let mut tree = None;
    if let Some(path) = &checks.checkpoint {
        let note = read_last_checkpoint(path).map_err(Unverified::Checkpoint)?;
        if !checks.note_verifiers.is_empty() {
            let texts = KeyTexts::read(&checks.note_verifiers).map_err(Unverified::Checkpoint)?;
            let keys = texts.parse().map_err(Unverified::Checkpoint)?;
            note.verify_signatures(&keys, checks.quorum)
                .map_err(|e| Unverified::Signatures(path.clone(), e))?;
        }
        match note.checkpoint() {
            Ok(AnyCheckpoint::Head(cp)) => options = options.with_checkpoint(&cp),
            Ok(AnyCheckpoint::Tree(_)) if from_stdin => return Err(Unverified::TreeFromStdin),
            Ok(AnyCheckpoint::Tree(cp)) => {
                let expectation = TreeExpectation::read(file, &cp, &mut options)
                    .map_err(|e| Unverified::Log(Error::io(file, Step::Verify, e)))?;
                tree = Some(expectation);
            }
            Err(e) => {
                return Err(Unverified::Checkpoint(PathError(
                    path.clone(),
                    super::checkpoint_file::FileError::Checkpoint(e),
                )))
            }
        }
    }
    let verdict = if from_stdin {
        verify_reader_keyed(io::stdin().lock(), options, key)
            .map_err(|e| Unverified::Log(Error::io(Path::new(STDIN), Step::Verify, e)))
    } else {
        match checks.threads {
            Some(threads) => verify_path_threads(file, options, key, threads),
            None => verify_path_keyed(file, options, key),
        }
        .map_err(Unverified::Log)
    }?;
    Ok(match tree {
        Some(expectation) => expectation.judge(verdict),
        None => verdict,
    })
}

/// What an intact verdict cannot show without an anchor, said on its
/// summary line (`None` when an anchor was given).
fn anchor_note(checks: &Checks) -> Option<&'static str> {
    if checks.expect_head.is_some() || checks.checkpoint.is_some() {
        return None;
    }
    Some(if checks.verify_key.is_some() {
        "no anchor given: records cut off the end cannot be seen without one \
         (--expect-head or --checkpoint)"
    } else {
        "no anchor given: records cut off the end, or a full rewrite with every \
         hash recomputed, cannot be seen without one (--expect-head, --checkpoint, \
         or a keyed chain)"
    })
}

/// The one-line summary, and on failure the line that says where and what.
fn human(name: &str, verdict: &Verdict, note: Option<&str>) -> String {
    match verdict {
        Verdict::Intact(report) => match note {
            Some(note) => format!("{name}: intact: {}; {note}", describe(report)),
            None => format!("{name}: intact: {}", describe(report)),
        },
        Verdict::Failed(report, failure) => {
            let mut text = format!(
                "{name}: FAILED after {}\n{failure}",
                count(report.records, "intact record")
            );
            if not_a_log(failure) {
                text += &format!("\n{}", super::NotALog);
            }
            text
        }
        Verdict::Torn(report, torn) => format!(
            "{name}: TORN TAIL: {}\nline {}: {}",
            describe(report),
            torn.line,
            torn_reason(torn)
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

/// `immutable-log verify --set FILE`: FILE and its rotated files as one
/// chain, a line per file, then the set's summary.
pub(super) fn run_set(file: &Path, verify_key: Option<&Path>) -> Code {
    let key = match verify_key.map(read_verify_key).transpose() {
        Ok(key) => key,
        Err(e) => {
            complain!("{e}");
            return Code::Usage;
        }
    };
    let note = if key.is_some() {
        "no anchor given: records cut off the end cannot be seen without one"
    } else {
        "no anchor given: records cut off the end, or a full rewrite with every hash \
         recomputed, cannot be seen without one (a keyed chain, or `verify \
         --expect-head` of FILE)"
    };
    let verdict = match verify_set(file, key) {
        Ok(verdict) => verdict,
        Err(e) => {
            complain!("{e}");
            return Code::Usage;
        }
    };
    let report = verdict.report();
    let mut text = String::new();
    for file in &report.files {
        let name = file.path.display().to_string();
        let line = match &file.verdict {
            Verdict::Intact(r) | Verdict::Torn(r, _) => {
                format!("{name}: {}", count(r.records, "record"))
            }
            Verdict::Failed(r, _) => {
                format!("{name}: FAILED after {}", count(r.records, "intact record"))
            }
        };
        text += &line;
        text.push('\n');
    }
    let set = format!(
        "{} (set of {})",
        file.display(),
        count(report.files.len() as u64, "file")
    );
    let head = report
        .head()
        .map_or_else(|| "no records".to_string(), |h| format!("head {h}"));
    let start = match (report.start(), report.pruned_before()) {
        (Some(start), _) if start.is_genesis() => "from genesis".to_string(),
        (_, Some(pruned)) => format!(
            "retention ({}) pruned the records up to seq {} ({} and older, stated in the chain)",
            pruned.policy,
            pruned
                .head
                .seq
                .map_or_else(|| "-".to_string(), |s| s.to_string()),
            pruned.name
        ),
        _ => "no records".to_string(),
    };
    let code = match &verdict {
        SetVerdict::Intact(report) => {
            text += &format!(
                "{set}: intact: {}, {head}; {start}; {note}",
                count(report.records(), "record")
            );
            Code::Success
        }
        SetVerdict::Torn(report, torn) => {
            text += &format!(
                "{set}: TORN TAIL: {}, {head}; {start}\nline {}: {}",
                count(report.records(), "record"),
                torn.line,
                torn_reason(torn)
            );
            Code::Torn
        }
        SetVerdict::Failed(report, failure) => {
            text += &format!(
                "{set}: FAILED after {}\n{failure}",
                count(report.records(), "intact record")
            );
            Code::Integrity
        }
    };
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => code,
        Err(_) => Code::Usage,
    }
}

/// What a torn tail is, and what became of it.
pub(super) fn torn_reason(torn: &TornTail) -> String {
    format!(
        "the log ends inside a record ({} from byte {}), as a crash mid-write \
         leaves it; every record before it is intact, and opening the log with a \
         writer keeps these bytes in recovery records",
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
