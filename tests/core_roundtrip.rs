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
    let blocks = blocks(&log);
    let displays = displays(&log);
    assert_eq!(blocks.len(), messages.len());
    let mut truncated = 0;
    for (i, (m, block)) in messages.iter().zip(&blocks).enumerate() {
        let written = block["message"].as_str().unwrap();
        assert_eq!(block["seq"].as_u64(), Some(i as u64));
        assert!(block["timestamp"].is_number());
        if block.get("truncated").is_some() {
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
        assert_eq!(String::from_utf8_lossy(&displays[i]), expected);
        assert!(!displays[i].contains(&b'\n'));
    }
    assert_eq!(truncated, 2, "the two long messages are cut, and say so");
    assert_eq!(report.truncated, 2);
}

#[test]
fn block_json_is_compact_with_sorted_keys() {
    let (log, _) = log_of(&["hello"]);
    let text = String::from_utf8(log).unwrap();
    let block = text.lines().nth(1).unwrap();
    assert!(block.starts_with(
        "BLOCK_DATA:{\"levelno\":20,\"message\":\"hello\",\"prev_hash\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"seq\":0,\"timestamp\":"
    ), "{block}");
    assert!(!block.contains(": ") && !block.contains(", "));
    let keys: Vec<String> = blocks(text.as_bytes())[0]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[test]
fn cut_lands_on_a_char_boundary_for_every_length() {
    // Walk the cut point across multi-byte characters and escapes.
    let unit = "aé😀\n\"";
    for n in 0..80 {
        let msg: String = unit.chars().cycle().take(n + 200).collect();
        let (log, _) = log_of(&[&msg.repeat(2)]);
        assert!(matches!(verify(&log), Verdict::Intact(_)), "n = {n}");
        let written = blocks(&log)[0]["message"].as_str().unwrap().to_string();
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
    let chain: Chain<VecSink, StepClock, CAP> =
        Chain::new(VecSink::default(), StepClock::default());
    chain.append(Level::Info, format_args!("a")).unwrap();
    chain.append(Level::Info, format_args!("b")).unwrap();
    let log = chain.into_writer().into_sink().0;
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
    assert_eq!(writer.into_sink().0, expected);
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
        let written = blocks(&log)[0]["message"].as_str().unwrap().to_string();
        if blocks(&log)[0].get("truncated").is_none() {
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
