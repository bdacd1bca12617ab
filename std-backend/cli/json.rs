//! `verify --json`: one object, one schema. Every key is always present;
//! `null` where it does not apply. `error` is set only when the log could not
//! be verified at all (a usage or I/O error), never to repeat a failure.
//!
//! ```text
//! {"file":"app.log","status":"intact|failed|torn|error",
//!  "records":N|null,"head":{"seq":N|null,"hash":"<hex>"}|null,
//!  "start":{"seq":N|null,"prev_hash":"<hex>","genesis":bool}|null,
//!  "unlogged":N|null,"truncated":N|null,
//!  "failure":{"line":N,"record":N,"kind":"<name>","reason":"<text>","not_a_log":bool}|null,
//!  "torn":{"line":N,"offset":N,"bytes":N,"reason":"<text>"}|null,
//!  "error":"<text>"|null}
//! ```

use serde::Serialize;

use crate::{Failure, FailureKind, Head, RecordFault, SegmentStart, TornTail};

/// The verdict, as `verify --json` prints it.
#[derive(Serialize, Debug)]
pub(super) struct Verdict {
    file: String,
    status: Status,
    /// Intact records (`null`: not verified).
    records: Option<u64>,
    head: Option<HeadJson>,
    start: Option<StartJson>,
    unlogged: Option<u64>,
    truncated: Option<u64>,
    failure: Option<FailureJson>,
    torn: Option<TornJson>,
    error: Option<String>,
}

#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
enum Status {
    Intact,
    Failed,
    Torn,
    Error,
}

#[derive(Serialize, Debug)]
struct HeadJson {
    seq: Option<u64>,
    hash: String,
}

#[derive(Serialize, Debug)]
struct StartJson {
    seq: Option<u64>,
    prev_hash: String,
    genesis: bool,
}

#[derive(Serialize, Debug)]
struct FailureJson {
    line: u64,
    record: u64,
    kind: &'static str,
    reason: String,
    /// Line 1 is not a record: not an immutable-log file, or its start was
    /// overwritten.
    not_a_log: bool,
}

#[derive(Serialize, Debug)]
struct TornJson {
    line: u64,
    offset: u64,
    bytes: usize,
    reason: String,
}

impl Verdict {
    /// The object for a verdict on the log named `file`.
    pub(super) fn of(file: &str, verdict: &crate::Verdict) -> Self {
        let report = verdict.report();
        let (status, failure, torn) = match verdict {
            crate::Verdict::Intact(_) => (Status::Intact, None, None),
            crate::Verdict::Failed(_, failure) => {
                (Status::Failed, Some(FailureJson::of(failure)), None)
            }
            crate::Verdict::Torn(_, torn) => (Status::Torn, None, Some(TornJson::of(torn))),
        };
        Verdict {
            file: file.to_string(),
            status,
            records: Some(report.records),
            head: report.head.map(HeadJson::of),
            start: report.start.map(StartJson::of),
            unlogged: Some(report.unlogged),
            truncated: Some(report.truncated),
            failure,
            torn,
            error: None,
        }
    }

    /// The object for a log that could not be verified: `error` says why.
    pub(super) fn error(file: &str, error: String) -> Self {
        Verdict {
            file: file.to_string(),
            status: Status::Error,
            records: None,
            head: None,
            start: None,
            unlogged: None,
            truncated: None,
            failure: None,
            torn: None,
            error: Some(error),
        }
    }

    /// One line of JSON.
    pub(super) fn to_line(&self) -> String {
        // Only strings, numbers, booleans and nulls: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl HeadJson {
    fn of(head: Head) -> Self {
        HeadJson {
            seq: head.seq,
            hash: head.hash.to_string(),
        }
    }
}

impl StartJson {
    fn of(start: SegmentStart) -> Self {
        StartJson {
            seq: start.seq,
            prev_hash: start.prev_hash.to_string(),
            genesis: start.is_genesis(),
        }
    }
}

impl FailureJson {
    fn of(failure: &Failure) -> Self {
        FailureJson {
            line: failure.line,
            record: failure.record,
            kind: kind_name(&failure.kind),
            reason: failure.kind.to_string(),
            not_a_log: super::not_a_log(failure),
        }
    }
}

impl TornJson {
    fn of(torn: &TornTail) -> Self {
        TornJson {
            line: torn.line,
            offset: torn.offset,
            bytes: torn.len,
            reason: super::verify::torn_reason(torn),
        }
    }
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
        FailureKind::RootMismatch { .. } => "root_mismatch",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Hash, Report};

    fn keys(json: &str) -> Vec<String> {
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        value.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn every_status_has_every_key() {
        let report = Report {
            records: 2,
            head: Some(Head {
                seq: Some(1),
                hash: Hash::from_bytes([1; 32]),
            }),
            ..Report::default()
        };
        let intact = Verdict::of("a.log", &crate::Verdict::Intact(report)).to_line();
        let error = Verdict::error("a.log", "cannot open a.log".into()).to_line();
        assert_eq!(keys(&intact), keys(&error));
        assert_eq!(keys(&intact).len(), 10);
        let v: serde_json::Value = serde_json::from_str(&error).unwrap();
        assert!(v["records"].is_null() && v["failure"].is_null());
        assert_eq!(v["status"], "error");
        let v: serde_json::Value = serde_json::from_str(&intact).unwrap();
        assert!(v["error"].is_null());
        assert_eq!(v["head"]["hash"], "01".repeat(32));
    }
}
