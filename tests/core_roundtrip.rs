//! Write → verify round trips through the no_std core, for every kind of message.

mod common;

use common::*;
use immutable_log::*;
use proptest::prelude::*;

fn all_controls() -> String {
    (0u8..0x20).chain([0x7f]).map(char::from).collect()
}

fn tricky_messages() -> Vec<String> {
    vec![
        "Application started".into(),
        String::new(),
        "naïve café – ünïcødé ✓ 中文 עברית".into(),
        "emoji 😀🎉👍🏽 and a flag 🇫🇷".into(),
        all_controls(),
        "pipes | in | the | middle |".into(),
        "|".into(),
        "||||".into(),
        r"back\slash \\ \n literal \u0041".into(),
        r#"quotes "inside" and 'single'"#.into(),
        "tab\tstays\ttab".into(),
        "line one\nline two\r\nline three".into(),
        "ESC \u{1b}[31mred\u{1b}[0m".into(),
        "BLOCK_DATA:{\"not\":\"a block\"}".into(),
        "x".repeat(5000),
        "é".repeat(3000),
    ]
}

#[test]
fn every_kind_of_message_round_trips() {
    let messages = tricky_messages();
    let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
    let (log, head) = log_of(&refs);
    let verdict = verify(&log);
    let Verdict::Intact(report) = verdict else {
        panic!("not intact: {verdict:?}")
    };
    assert_eq!(report.records, messages.len() as u64);
    assert_eq!(report.head, head);
    assert_eq!(
        report.head.and_then(|h| h.seq),
        Some(messages.len() as u64 - 1)
    );

    let room = message_capacity(CAP);
    let records = read_records(&log);
    assert_eq!(records.len(), messages.len());
    let mut truncated = 0;
    for (i, (m, record)) in messages.iter().zip(&records).enumerate() {
        let written = &message(record);
        let block = block(record);
        assert_eq!(record.seq(), Some(i as u64));
        assert_eq!(block["seq"].as_u64(), Some(i as u64));
        assert!(block["timestamp"].is_number());
        assert_eq!(record.truncated(), block.get("truncated").is_some());
        if record.truncated() {
            truncated += 1;
            assert_eq!(block["truncated"], true);
            assert!(m.starts_with(written), "cut message is a prefix");
            assert!(written.len() < m.len());
            let escaped = serde_json::to_string(written).unwrap().len() - 2;
            assert!(
                escaped <= room + 1 && escaped + 6 > room,
                "cut near the room: {escaped} vs {room}"
            );
        } else {
            assert_eq!(written, m, "message {i} survives exactly");
        }
        let display = record.display();
        // display = message with control characters (but TAB) escaped
        let mut expected = String::new();
        for c in written.chars() {
            match c {
                '\t' => expected.push('\t'),
                '\n' => expected.push_str("\\n"),
                '\r' => expected.push_str("\\r"),
                '\u{8}' => expected.push_str("\\b"),
                '\u{c}' => expected.push_str("\\f"),
                c if (c as u32) < 0x20 || c == '\u{7f}' => {
                    expected.push_str(&format!("\\u{:04x}", c as u32))
                }
                c => expected.push(c),
            }
        }
        assert_eq!(String::from_utf8_lossy(display), expected);
        assert!(!display.contains(&b'\n'));
    }
    assert_eq!(truncated, 2, "the two long messages are cut, and say so");
    assert_eq!(report.truncated, 2);
}

#[test]
fn block_json_is_compact_with_sorted_keys() {
    // A plain record, then one with every optional key: cut, and after losses.
    let mut writer = vec_writer(None);
    let long = "x".repeat(2 * CAP);
    for (m, unlogged) in [("hello", 0), (long.as_str(), 2)] {
        let mut draft = Draft::<CAP>::new(Level::Info, format_args!("{m}"));
        writer
            .append_draft(&mut draft, Timestamp::default(), unlogged)
            .unwrap();
    }
    let log = writer.into_sink();
    let records = read_records(&log);
    let block = std::str::from_utf8(records[0].block_json()).unwrap();
    assert!(block.starts_with(
        "{\"levelno\":20,\"message\":\"hello\",\"prev_hash\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"seq\":0,\"timestamp\":"
    ), "{block}");
    for record in &records {
        let block = std::str::from_utf8(record.block_json()).unwrap();
        assert!(!block.contains(": ") && !block.contains(", "), "{block}");
        // The keys as they stand in the text (serde_json's map sorts them).
        let keys = common::block(record);
        let keys = keys.as_object().unwrap().keys();
        let at: Vec<usize> = keys
            .map(|k| block.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(at.is_sorted(), "{block}");
    }
    let keys = common::block(&records[1]).as_object().unwrap().len();
    assert_eq!(
        keys, 7,
        "levelno message prev_hash seq timestamp truncated unlogged"
    );
}

#[test]
fn cut_lands_on_a_char_boundary_for_every_length() {
    // Walk the cut point across multi-byte characters and escapes.
    let unit = "aé😀\n\"";
    for n in 0..80 {
        let msg: String = unit.chars().cycle().take(n + 200).collect();
        let (log, _) = log_of(&[&msg.repeat(2)]);
        assert!(matches!(verify(&log), Verdict::Intact(_)), "n = {n}");
        let written = message(&read_records(&log)[0]);
        assert!(msg.repeat(2).starts_with(&written));
    }
}

/// A `Display` that ignores the error of a write and goes on, or fails by
/// itself half-way.
struct Stubborn(bool);

impl std::fmt::Display for Stubborn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let _ = f.write_str(&"A".repeat(2000));
        let _ = f.write_str("\"");
        let _ = f.write_str("B");
        if self.0 {
            return Err(std::fmt::Error);
        }
        Ok(())
    }
}

#[test]
fn a_message_is_a_prefix_of_what_was_formatted_and_marked_if_incomplete() {
    // Pieces after a cut are refused, even ones that would fit.
    let draft = Draft::<CAP>::new(Level::Info, format_args!("{}", Stubborn(false)));
    assert!(draft.truncated());
    assert!(draft.escaped_message().iter().all(|&b| b == b'A'));
    // A `Display` that fails before anything was cut: marked cut all the same.
    let draft = Draft::<CAP>::new(Level::Info, format_args!("half a {}", FailsAt));
    assert!(draft.truncated());
    assert_eq!(draft.escaped_message(), b"half a ");
}

struct FailsAt;

impl std::fmt::Display for FailsAt {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Err(std::fmt::Error)
    }
}

#[test]
fn timestamps_come_from_the_clock_with_integer_formatting() {
    let chain: Chain<Vec<u8>, StepClock, CAP> = Chain::new(Vec::new(), StepClock::default());
    chain.append(Level::Info, format_args!("a")).unwrap();
    chain.append(Level::Info, format_args!("b")).unwrap();
    let log = chain.into_writer().into_sink();
    let text = String::from_utf8(log).unwrap();
    assert!(text.contains("\"timestamp\":1764146337.000000}"), "{text}");
    assert!(text.contains("\"timestamp\":1764146337.001000}"), "{text}");
}

#[test]
fn draft_path_writes_the_same_bytes_as_the_locked_path() {
    let (expected, _) = log_of(&["one", "two \"2\"", "three\n3"]);
    let mut writer = vec_writer(None);
    for (i, m) in ["one", "two \"2\"", "three\n3"].iter().enumerate() {
        let level = [Level::Info, Level::Warning, Level::Error][i % 3];
        let mut draft = Draft::<CAP>::new(level, format_args!("{m}"));
        writer
            .append_draft(&mut draft, Timestamp::default(), 0)
            .unwrap();
    }
    assert_eq!(writer.into_sink(), expected);
}

#[test]
fn one_byte_at_a_time_gives_the_same_verdict() {
    let messages = tricky_messages();
    let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
    let (log, _) = log_of(&refs);
    let whole = verify(&log);
    for chunk in [1, 2, 3, 7, 64, 1000] {
        assert_eq!(
            verify_chunked(&log, chunk, Options::default(), 64 * 1024),
            whole
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_message_survives(msg in any::<String>()) {
        let (log, _) = log_of(&[&msg, "after"]);
        let verdict = verify(&log);
        prop_assert!(matches!(verdict, Verdict::Intact(r) if r.records == 2), "{:?}", verdict);
        let first = read_records(&log)[0];
        let written = message(&first);
        if !first.truncated() {
            prop_assert_eq!(written, msg);
        } else {
            prop_assert!(msg.starts_with(&written));
        }
    }

    #[test]
    fn any_chunking_gives_the_same_verdict(
        msgs in proptest::collection::vec(".{0,40}", 1..6),
        chunk in 1usize..300,
        flip in any::<Option<(usize, u8)>>(),
    ) {
        let refs: Vec<&str> = msgs.iter().map(String::as_str).collect();
        let (mut log, _) = log_of(&refs);
        if let Some((at, x)) = flip {
            let at = at % log.len();
            log[at] ^= x | 1;
        }
        let whole = verify_with(&log, Options::default(), 2048);
        prop_assert_eq!(verify_chunked(&log, chunk, Options::default(), 2048), whole);
    }
}
