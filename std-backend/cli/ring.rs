//! `immutable-log verify --ring FILE`: a raw dump of a flash ring
//! (`immutable_log::flash`), found by its sector headers and verified in ring
//! order, oldest sector first. Exit codes as `verify`'s: 0 intact, 1 a fault
//! (or no ring in the file), 2 the file cannot be read, 3 torn bytes at the
//! ring's end (a power cut the device repairs at its next start).

use std::io::{self, Read as _, Write as _};
use std::path::Path;

use super::Code;
use crate::flash::{find_region, verify_ring, RingReport, RingVerdict, SliceFlash};

/// The verifier's buffer: a record and the torn bytes a sector recovers.
/// Rings written with record buffers up to 64 KiB read with it.
const BUF: usize = 1 << 18;

pub(super) fn run(file: &Path, as_json: bool) -> Code {
    let from_stdin = file.as_os_str() == "-";
    let name = if from_stdin {
        "<stdin>".to_string()
    } else {
        file.display().to_string()
    };
    let mut dump = Vec::new();
    let read = if from_stdin {
        io::stdin().lock().read_to_end(&mut dump).map(|_| ())
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_end(&mut dump).map(|_| ()))
    };
    if let Err(e) = read {
        return report_error(
            &name,
            as_json,
            &format!("cannot read the dump: {e}"),
            Code::Usage,
        );
    }
    let mut flash = SliceFlash(&dump);
    let region = match find_region(&mut flash) {
        Ok(Some(region)) => region,
        _ => {
            return report_error(
                &name,
                as_json,
                "no flash ring in it: no sector header (\"ILR1\") at any multiple of 256 bytes",
                Code::Integrity,
            )
        }
    };
    let mut buf = vec![0u8; BUF];
    let verdict = match verify_ring(&mut flash, &region, &mut buf) {
        Ok(verdict) => verdict,
        Err(e) => {
            return report_error(
                &name,
                as_json,
                &format!("the dump ends early: {e}"),
                Code::Usage,
            )
        }
    };
    let code = match verdict {
        RingVerdict::Intact(_) => Code::Success,
        RingVerdict::Failed(..) => Code::Integrity,
        RingVerdict::Torn(..) => Code::Torn,
    };
    let text = if as_json {
        json(&name, &verdict).to_string()
    } else {
        human(&name, &verdict)
    };
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => code,
        Err(_) => Code::Usage,
    }
}

/// Says why nothing was verified: on stderr, or as the JSON object.
fn report_error(name: &str, as_json: bool, why: &str, code: Code) -> Code {
    if as_json {
        let object = serde_json::json!({ "file": name, "verdict": "error", "error": why });
        let mut out = io::stdout().lock();
        if writeln!(out, "{object}")
            .and_then(|()| out.flush())
            .is_err()
        {
            return Code::Usage;
        }
    } else {
        complain!("{name}: {why}");
    }
    code
}

fn human(name: &str, verdict: &RingVerdict) -> String {
    match verdict {
        RingVerdict::Intact(report) => format!("{name}: intact: {}", describe(report)),
        RingVerdict::Failed(report, fault) => format!(
            "{name}: FAILED after {} intact records in {} sectors\n{fault}",
            report.records, report.sectors
        ),
        RingVerdict::Torn(report, torn) => format!(
            "{name}: TORN: {}\nbyte {}: {} torn bytes end the ring (a power cut); every record \
             before them is intact, and the device keeps them in recovery records when it \
             next starts",
            describe(report),
            torn.at,
            torn.len
        ),
    }
}

fn describe(report: &RingReport) -> String {
    let mut text = match report.head {
        None => "0 records (an empty ring)".to_string(),
        Some(head) => format!(
            "{} records in {} sectors, head {head}",
            report.records, report.sectors
        ),
    };
    if let (true, Some(start)) = (report.wrapped, report.start) {
        text += &format!(
            "; wrapped: records before seq {} were erased, as a wrap note in the ring states",
            start.seq.unwrap_or(0)
        );
    }
    if report.tears > 0 {
        text += &format!("; {} torn records kept in recovery records", report.tears);
    }
    text
}

fn json(name: &str, verdict: &RingVerdict) -> serde_json::Value {
    let report = verdict.report();
    let mut object = serde_json::json!({
        "file": name,
        "verdict": match verdict {
            RingVerdict::Intact(_) => "intact",
            RingVerdict::Torn(..) => "torn",
            RingVerdict::Failed(..) => "failed",
        },
        "records": report.records,
        "sectors": report.sectors,
        "oldest_sector": report.oldest,
        "wrapped": report.wrapped,
        "tears": report.tears,
        "head": report.head.map(|h| serde_json::json!({
            "seq": h.seq,
            "hash": h.hash.to_string(),
        })),
        "start": report.start.map(|s| serde_json::json!({
            "seq": s.seq,
            "prev_hash": s.prev_hash.to_string(),
        })),
    });
    let extra = match verdict {
        RingVerdict::Failed(_, fault) => Some((
            "failure",
            serde_json::json!({ "reason": fault.to_string() }),
        )),
        RingVerdict::Torn(_, torn) => Some((
            "torn",
            serde_json::json!({ "at": torn.at, "len": torn.len }),
        )),
        RingVerdict::Intact(_) => None,
    };
    if let (Some(map), Some((key, value))) = (object.as_object_mut(), extra) {
        map.insert(key.to_string(), value);
    }
    object
}
