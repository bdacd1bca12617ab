//! Every JSON reader must see what was hashed: a block this crate accepts
//! reads the same to serde_json (and so to Python's `json.loads`, `jq`), and
//! anything JSON forbids is refused with a reason that names it.

mod common;

use common::*;
use immutable_log::*;
use proptest::prelude::*;

const G: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A one-record log around `block`, correctly hashed, with `display`; its
/// display line states the block's `prev_hash` where serde_json finds one.
fn log_of_block(block: &str, display: &str) -> Vec<u8> {
    let hash = BlockHasher::hash(block.as_bytes());
    let prev = serde_json::from_str::<serde_json::Value>(block)
        .ok()
        .and_then(|v| Some(v.get("prev_hash")?.as_str()?.to_owned()))
        .filter(|p| Hash::from_hex(p.as_bytes()).is_some())
        .unwrap_or_else(|| G.to_owned());
    format!("{prev}|{display}|{hash}\nBLOCK_DATA:{block}\n").into_bytes()
}

/// The fault this crate finds in `block` (None: accepted), read as a record.
fn fault_of(block: &str) -> Option<JsonFaultKind> {
    let log = log_of_block(block, "m");
    let (line1, rest) = log.split_at(log.iter().position(|&b| b == b'\n').unwrap());
    let line2 = &rest[1..rest.len() - 1];
    match Record::parse(line1, line2) {
        Ok(_) => None,
        Err(RecordFault::MalformedBlock(f)) => Some(f.kind),
        Err(other) => panic!("{other:?} for {block}"),
    }
}

fn block_with(rest: &str) -> String {
    format!(r#"{{"levelno":20,"message":"m","prev_hash":"{G}","timestamp":1.5{rest}}}"#)
}

#[test]
fn keys_are_compared_after_unescaping() {
    // Python reads `message` = "B" here; this crate must not read "A".
    let cases = [
        (
            format!(
                r#"{{"levelno":20,"message":"A","prev_hash":"{G}","timestamp":1,"mess\u0061ge":"B"}}"#
            ),
            JsonFaultKind::DuplicateKey,
        ),
        (
            format!(r#"{{"lev\u0065lno":20,"message":"m","prev_hash":"{G}","timestamp":1}}"#),
            JsonFaultKind::EscapedKey("levelno"),
        ),
        (
            block_with(r#","s\u0065q":3"#),
            JsonFaultKind::EscapedKey("seq"),
        ),
        (
            format!(
                r#"{{"levelno":20,"message":"m","prev_hash":"{G}","prev_h\u0061sh":"{G}","timestamp":1}}"#
            ),
            JsonFaultKind::DuplicateKey,
        ),
        (block_with(r#","x":1,"x":2"#), JsonFaultKind::DuplicateKey),
        (
            block_with(r#","\u0078":1,"x":2"#),
            JsonFaultKind::DuplicateKey,
        ),
        (
            r#"{"levelno":20,"message":"m","timestamp":1}"#.to_string(),
            JsonFaultKind::MissingKey("prev_hash"),
        ),
    ];
    for (block, want) in cases {
        assert_eq!(fault_of(&block), Some(want), "{block}");
        // And a verifier refuses the log, naming the record's block line.
        let v = verify(&log_of_block(&block, "m"));
        assert!(
            matches!(
                v,
                Verdict::Failed(
                    _,
                    Failure {
                        line: 2,
                        kind: FailureKind::Record(RecordFault::MalformedBlock(_)),
                        ..
                    }
                )
            ),
            "{v:?}"
        );
    }
    // An unknown key with escapes is fine.
    assert_eq!(fault_of(&block_with(r#","\u0078y":1"#)), None);
}

#[test]
fn what_json_forbids_is_refused_with_its_reason() {
    use JsonFaultKind::*;
    let cases: &[(&str, JsonFaultKind)] = &[
        (r#","timestamp2":hello world"#, UnexpectedByte(b'h')),
        (r#","x":@@ !!"#, UnexpectedByte(b'@')),
        (r#","x":1,"#, UnexpectedByte(b'}')),
        (r#","x":[1,2,]"#, UnexpectedByte(b']')),
        (r#","x":"\ud83d""#, LoneSurrogate),
        (r#","x":"\ude00x""#, LoneSurrogate),
        (r#","x":"\q""#, BadEscape),
        (",\"x\":\"a\u{1}b\"", ControlCharacter),
        (",\"x\":\"a\tb\"", ControlCharacter),
        (r#","x":01"#, BadNumber),
        (r#","x":1."#, BadNumber),
        (r#","x":-"#, BadNumber),
        (r#","x":1e400"#, NumberOutOfRange),
        (r#","x":tru"#, UnexpectedByte(b't')),
        (r#","x":[[[[[[[[1]]]]]]]]"#, TooDeep),
    ];
    for (rest, want) in cases {
        assert_eq!(fault_of(&block_with(rest)), Some(*want), "{rest}");
    }
    // The timestamp must be a JSON number.
    for ts in [
        "hello world",
        "\"yesterday\"",
        "NaN",
        "--e+.",
        "Infinity",
        "null",
        "[1]",
    ] {
        let block = format!(r#"{{"levelno":20,"message":"m","prev_hash":"{G}","timestamp":{ts}}}"#);
        let fault = fault_of(&block);
        assert!(
            matches!(
                fault,
                Some(WrongType("timestamp") | UnexpectedByte(_) | BadNumber)
            ),
            "{ts}: {fault:?}"
        );
    }
    // Around the object, only whitespace.
    assert_eq!(
        fault_of(&format!("{} x", block_with(""))),
        Some(TrailingBytes)
    );
    assert_eq!(fault_of(&format!(" \t{} ", block_with(""))), None);
    assert_eq!(fault_of("[1]"), Some(NotAnObject));
    assert_eq!(fault_of(""), Some(UnexpectedEnd));
    // Types of the known keys.
    assert_eq!(
        fault_of(&block_with(r#","seq":"3""#)),
        Some(WrongType("seq"))
    );
    assert_eq!(
        fault_of(&block_with(r#","truncated":1"#)),
        Some(WrongType("truncated"))
    );
    assert_eq!(
        fault_of(&format!(
            r#"{{"levelno":20.5,"message":"m","prev_hash":"{G}","timestamp":1}}"#
        )),
        Some(WrongType("levelno"))
    );
    // `-0`: an integer to Python, a float to serde_json.
    assert_eq!(
        fault_of(&format!(
            r#"{{"levelno":-0,"message":"m","prev_hash":"{G}","timestamp":1}}"#
        )),
        Some(WrongType("levelno"))
    );
    assert_eq!(
        fault_of(&block_with(r#","seq":-0"#)),
        Some(WrongType("seq"))
    );
    assert_eq!(
        fault_of(&block_with(r#","unlogged":99999999999999999999999"#)),
        Some(NumberOutOfRange)
    );
    let many: String = (0..MAX_KEYS).map(|i| format!(",\"k{i}\":{i}")).collect();
    assert_eq!(fault_of(&block_with(&many)), Some(TooManyKeys));
}

#[test]
fn a_quote_outside_a_string_does_not_hide_deep_nesting() {
    // `"x":a"` once made the nesting check think a string had started, and
    // serde-json-core then recursed into what followed.
    let deep = "[".repeat(400_000);
    let block = block_with(&format!(r#","x":a","y":{deep}"#));
    assert!(fault_of(&block).is_some());
    // The whole ~1 MB record, verified on a thread with a 64 KiB stack.
    // (On the code before the validator this aborted the process.)
    let block = block_with(&format!(r#","x":a","y":{}"#, "[".repeat(1 << 20)));
    let log = log_of_block(&block, "m");
    let verdict = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(move || {
            let mut buf = vec![0u8; 2 << 20];
            let mut v = Verifier::new(&mut buf, Options::default());
            let _ = v.feed(&log);
            let verdict = v.finish();
            let _ = resume(&log, true);
            verdict
        })
        .unwrap()
        .join()
        .expect("the verifier must not overflow a 64 KiB stack");
    assert!(matches!(verdict, Verdict::Failed(..)), "{verdict:?}");
}

/// The five fields, as serde_json reads a block (None: it refuses the block).
#[derive(Debug, PartialEq)]
struct Fields {
    levelno: i64,
    message: String,
    prev_hash: String,
    seq: Option<u64>,
    timestamp: f64,
}

fn serde_fields(block: &str) -> Option<Fields> {
    let v: serde_json::Value = serde_json::from_str(block).ok()?;
    let o = v.as_object()?;
    Some(Fields {
        levelno: o.get("levelno")?.as_i64()?,
        message: o.get("message")?.as_str()?.to_owned(),
        prev_hash: o.get("prev_hash")?.as_str()?.to_owned(),
        seq: match o.get("seq") {
            None | Some(serde_json::Value::Null) => None,
            Some(s) => Some(s.as_u64()?),
        },
        timestamp: o.get("timestamp")?.as_f64()?,
    })
}

/// Checks the differential property on one block: accepted here means read
/// the same by serde_json; refused by serde_json means refused here.
fn agrees_with_serde_json(block: &str) {
    let log = log_of_block(block, "m");
    let nl = log.iter().position(|&b| b == b'\n').unwrap();
    let ours = Record::parse(&log[..nl], &log[nl + 1..log.len() - 1]);
    let theirs = serde_json::from_str::<serde_json::Value>(block);
    if let Ok(record) = ours {
        {
            let fields = serde_fields(block)
                .unwrap_or_else(|| panic!("accepted here, not by serde_json: {block:?}"));
            let message: String = record.message().collect::<Result<_, _>>().unwrap();
            let ts: f64 = serde_json::from_str(record.timestamp()).unwrap();
            let mine = Fields {
                levelno: record.levelno(),
                message,
                prev_hash: record.prev_hash().to_string(),
                seq: record.seq(),
                timestamp: ts,
            };
            assert_eq!(mine, fields, "{block:?}");
        }
    }
    if theirs.is_err() {
        assert!(
            Record::parse(&log[..nl], &log[nl + 1..log.len() - 1]).is_err(),
            "serde_json refuses, this crate accepted: {block:?}"
        );
    }
}

#[test]
fn hand_made_blocks_agree_with_serde_json() {
    let mut blocks = vec![
        block_with(""),
        block_with(r#","seq":null"#),
        block_with(r#","seq":7,"x":{"a":[1,2,{"b":null}]}"#),
        format!(
            r#"{{"levelno": 20, "message": "\u00e9\ud83d\ude00\n\"\/", "prev_hash": "{G}", "timestamp": 1764146337.541715}}"#
        ),
        format!(r#"{{"timestamp":-0.5e+3,"prev_hash":"{G}","message":"m","levelno":-20}}"#),
        format!(
            r#"{{"levelno":20,"message":"A","prev_hash":"{G}","timestamp":1,"mess\u0061ge":"B"}}"#
        ),
        block_with(r#","x":1e400"#),
        block_with(r#","x":"\ud800""#),
    ];
    // What this crate's own writer produces, every kind of message.
    let (log, _) = log_of(&[
        "plain",
        "a \"q\" \\ b",
        "tab\tnl\n\u{1b}\u{7f}",
        "é 😀 |",
        "",
    ]);
    for record in records(&log) {
        blocks.push(String::from_utf8(record.unwrap().block_json().to_vec()).unwrap());
    }
    for (i, block) in blocks.iter().enumerate() {
        agrees_with_serde_json(block);
        // Not vacuous: all but the four refused ones are read.
        let refused = (5..=7).contains(&i);
        assert_eq!(fault_of(block).is_none(), !refused, "{block}");
    }
}

/// Bracket, quote, escape and number soup around the known keys.
fn soup() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "\\",
        "\\u0061",
        "\\ud83d",
        "\\ude00",
        "\\n",
        "a",
        "message",
        "levelno",
        "1",
        "-",
        "0",
        ".",
        "e",
        "+",
        "null",
        "true",
        " ",
        "\u{1}",
        "é",
        "1e400",
        "\"x\"",
        "\"seq\"",
        "\"mess\\u0061ge\"",
    ]);
    prop::collection::vec(atoms, 0..24).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]
    #[test]
    fn soup_agrees_with_serde_json(extra in soup(), at in 0usize..4, ts in soup()) {
        // Soup in an unknown key's value, spliced into the object, or as the timestamp.
        let block = match at {
            0 => block_with(&format!(",\"x\":{extra}")),
            1 => block_with(&extra),
            2 => format!(r#"{{"levelno":20,"message":"m","prev_hash":"{G}","timestamp":{ts}}}"#),
            _ => format!("{{\"levelno\":20,\"message\":\"{extra}\",\"prev_hash\":\"{G}\",\"timestamp\":1}}"),
        };
        agrees_with_serde_json(&block);
    }
}

#[test]
fn bytes_that_start_no_record_are_not_a_torn_tail() {
    // A gzip file has no LF to end a line in its first bytes: it once read
    // as a log torn before its first record (exit 3), not as "not a log".
    let gzip = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage without a line end";
    let v = verify(gzip);
    assert!(
        matches!(
            v,
            Verdict::Failed(
                _,
                Failure {
                    line: 1,
                    kind: FailureKind::Record(RecordFault::MalformedDisplayLine),
                    ..
                }
            )
        ),
        "{v:?}"
    );
    assert!(matches!(
        resume(gzip, true),
        Err(ResumeError::MalformedTail { offset: 0 })
    ));
    // A record cut off at every byte, its last bytes garbled as a cut flash
    // word leaves them, is still a torn tail.
    let (log, _) = log_of(&["first"]);
    for cut in 1..log.len() {
        let mut torn = log[..cut].to_vec();
        if torn.contains(&b'\n') {
            break;
        }
        let at = torn.len().saturating_sub(8);
        torn[at..].fill(0xff);
        assert!(matches!(verify(&torn), Verdict::Torn(..)), "cut at {cut}");
        assert!(resume(&torn, true).is_ok(), "cut at {cut}");
    }
}
