//! Keyed, forward-secure chains: what they catch that a plain chain cannot.

mod common;

use common::*;
use immutable_log::*;

const K0: [u8; 32] = [0x42; 32];

/// A keyed log of these messages; returns it, its head and the writer's final key state.
fn keyed_log(messages: &[&str]) -> (Vec<u8>, Option<Head>, SealKey) {
    let writer = Writer::sealed(Vec::new(), None, SealKey::new(Key::from_bytes(K0)));
    let chain: Chain<Vec<u8>, NoClock, CAP, SealKey> = Chain::from_writer(writer, NoClock);
    for m in messages {
        chain.append(Level::Info, format_args!("{m}")).unwrap();
    }
    let head = chain.head();
    let writer = chain.into_writer();
    let key = writer.seal().clone();
    (writer.into_sink(), head, key)
}

fn verify_keyed(log: &[u8], key: [u8; 32], options: Options) -> Verdict {
    let mut buf = vec![0u8; 8192];
    let mut v = Verifier::keyed(&mut buf, options, VerifyKey::new(Key::from_bytes(key)));
    let _ = v.feed(log);
    v.finish()
}

#[test]
fn a_keyed_log_starts_with_a_chain_start_record_and_verifies_with_its_key() {
    let (log, head, key) = keyed_log(&["a", "b", "c"]);
    let records = read_records(&log);
    assert_eq!(records.len(), 4, "chain start + 3");
    assert!(records[0].is_chain_start());
    assert_eq!(block(&records[0])["version"], "immutable-log/1 keyed");
    assert!(message(&records[0]).contains("keyed"));
    assert!(records[1..].iter().all(|r| !r.is_chain_start()));
    assert!(records[1..]
        .iter()
        .all(|r| block(r).get("version").is_none()));
    assert_eq!(head.unwrap().seq, Some(3));
    assert_eq!(key.seq(), 4);
    let v = verify_keyed(&log, K0, Options::default());
    assert!(
        matches!(v, Verdict::Intact(r) if r.records == 4 && r.head == head),
        "{v:?}"
    );
}

#[test]
fn without_the_key_it_says_a_key_is_required() {
    let (log, _, _) = keyed_log(&["a"]);
    let f = failure(&verify(&log));
    assert_eq!((f.line, f.record, f.kind), (1, 0, FailureKind::KeyRequired));
    assert!(f.to_string().contains("key is required"));
}

#[test]
fn an_evolved_seal_key_does_not_verify_earlier_records() {
    let (log, _, key) = keyed_log(&["a", "b"]);
    let evolved = *key.key().as_bytes();
    let f = failure(&verify_keyed(&log, evolved, Options::default()));
    assert_eq!((f.record, f.kind), (0, FailureKind::WrongKey));
    let f = failure(&verify_keyed(&log, [0; 32], Options::default()));
    assert_eq!(f.kind, FailureKind::WrongKey);
}

#[test]
fn a_plain_log_given_a_key_is_not_accepted() {
    // Someone without the key rewrote the log as a plain chain: it is
    // internally consistent, and the keyed verifier refuses it.
    let (plain, _) = log_of(&["a", "b"]);
    assert!(matches!(verify(&plain), Verdict::Intact(_)));
    let f = failure(&verify_keyed(&plain, K0, Options::default()));
    assert_eq!((f.record, f.kind), (0, FailureKind::NotKeyed));
}

#[test]
fn a_forged_rewrite_passes_a_plain_check_but_not_the_keyed_one() {
    let (log, _, _) = keyed_log(&["pay alice 10", "pay bob 20", "pay carol 30"]);
    // The forger edits record 2 and recomputes every hash after it, as one can
    // for a plain chain: SHA-256 needs no secret.
    let mut forged = String::new();
    let mut prev = Hash::GENESIS;
    for (i, record) in read_records(&log).iter().enumerate() {
        let mut block = String::from_utf8(record.block_json().to_vec()).unwrap();
        let mut display = String::from_utf8(record.display().to_vec()).unwrap();
        if i == 2 {
            display = display.replace("bob 20", "bob 2000");
            block = block.replace("bob 20", "bob 2000");
        }
        if i > 0 {
            block = block.replace(&record.prev_hash().to_string(), &prev.to_string());
        }
        let hash = BlockHasher::hash(block.as_bytes());
        forged.push_str(&format!("{prev}|{display}|{hash}\nBLOCK_DATA:{block}\n"));
        prev = hash;
    }
    // The forged file is a consistent plain chain, but its chain start no
    // longer carries a valid tag:
    let f = failure(&verify_keyed(forged.as_bytes(), K0, Options::default()));
    assert_eq!(
        f.record, 0,
        "the re-hashed chain start no longer carries a valid tag"
    );
    // Even keeping the genuine chain start and record 1, the forged record 2 fails.
    let spans = record_spans(&log);
    let mut spliced = log[..spans[2].start].to_vec();
    let fspans = record_spans(forged.as_bytes());
    spliced.extend_from_slice(&forged.as_bytes()[fspans[2].start..]);
    let f = failure(&verify_keyed(&spliced, K0, Options::default()));
    assert_eq!(f.record, 2);
}

#[test]
fn a_seized_key_cannot_reseal_earlier_records() {
    let (log, _, key) = keyed_log(&["one", "two", "three"]);
    // The thief holds the current key (for seq 4) and rewrites record 2,
    // sealing it with that key: wrong key for seq 2.
    let spans = record_spans(&log);
    let record = read_records(&log)[2];
    let edit = |bytes: &[u8]| std::str::from_utf8(bytes).unwrap().replace("two", "TWO");
    let (display, block) = (edit(record.display()), edit(record.block_json()));
    let digest = BlockHasher::hash(block.as_bytes());
    let tag = key.key().tag(&digest);
    let prev = record.prev_hash();
    let resealed = format!("{prev}|{display}|{tag}\nBLOCK_DATA:{block}\n");
    let mut bad = log[..spans[2].start].to_vec();
    bad.extend_from_slice(resealed.as_bytes());
    let f = failure(&verify_keyed(&bad, K0, Options::default()));
    assert_eq!(
        (f.record, f.kind),
        (2, FailureKind::Record(RecordFault::HashMismatch))
    );
}

#[test]
fn every_single_byte_change_of_a_keyed_log_is_caught() {
    let (log, _, _) = keyed_log(&["x", "y"]);
    let spans = record_spans(&log);
    for at in 0..log.len() {
        let k = spans.iter().position(|s| s.contains(&at)).unwrap() as u64;
        for value in [log[at] ^ 1, log[at] ^ 0x20, b'\n', b'0'] {
            if value == log[at] {
                continue;
            }
            let mut bad = log.clone();
            bad[at] = value;
            match verify_keyed(&bad, K0, Options::default()) {
                Verdict::Failed(_, f) => assert_eq!(f.record, k, "byte {at}"),
                Verdict::Torn(r, _) => assert_eq!(r.records, k, "byte {at}"),
                Verdict::Intact(_) => panic!("byte {at} -> {value} not caught"),
            }
        }
    }
}

#[test]
fn a_forged_huge_seq_costs_no_key_derivations() {
    // A first record claiming seq u64::MAX: the verifier must not derive
    // that many keys before looking (it would never finish).
    let g = "0".repeat(64);
    let forged = format!(
        "{g}|x|{g}\nBLOCK_DATA:{{\"levelno\":20,\"message\":\"x\",\"prev_hash\":\"{g}\",\"seq\":18446744073709551615,\"timestamp\":0,\"version\":\"immutable-log/1 keyed\"}}\n"
    );
    let f = failure(&verify_keyed(forged.as_bytes(), K0, Options::default()));
    assert_eq!(
        f.kind,
        FailureKind::SeqOutOfOrder {
            expected: 0,
            found: u64::MAX
        }
    );
    let segment = forged.replace(",\"version\":\"immutable-log/1 keyed\"", "");
    let any = Options {
        start: Start::Segment,
        ..Options::default()
    };
    let f = failure(&verify_keyed(segment.as_bytes(), K0, any));
    assert_eq!(f.kind, FailureKind::KeyOutOfReach { seq: u64::MAX });
}

#[test]
fn a_keyed_segment_verifies_from_its_own_key() {
    let (log, _, _) = keyed_log(&["a", "b", "c", "d"]);
    let spans = record_spans(&log);
    let segment = &log[spans[2].start..];
    let any = Options {
        start: Start::Segment,
        ..Options::default()
    };
    assert!(matches!(verify_keyed(segment, K0, any), Verdict::Intact(r) if r.records == 3));
}

#[test]
fn a_plain_segment_given_a_key_says_not_keyed_not_changed() {
    let (plain, _) = log_of(&["a", "b", "c"]);
    let spans = record_spans(&plain);
    let segment = &plain[spans[1].start..];
    let any = Options {
        start: Start::Segment,
        ..Options::default()
    };
    let f = failure(&verify_keyed(segment, K0, any));
    assert_eq!((f.record, f.kind), (0, FailureKind::NotKeyed));
    // A keyed segment with a record changed is still a changed record.
    let (log, _, _) = keyed_log(&["a", "b", "c"]);
    let spans = record_spans(&log);
    let mut changed = log[spans[1].start..].to_vec();
    let at = changed.iter().position(|&b| b == b'|').unwrap() + 1;
    changed[at] ^= 1;
    let f = failure(&verify_keyed(&changed, K0, any));
    assert_ne!(f.kind, FailureKind::NotKeyed);
}

#[test]
fn a_keyed_writer_resumes_with_its_key_state() {
    let (log, head, key) = keyed_log(&["a", "b"]);
    let mut resumed_key = key.clone();
    let r = resume_keyed(&log, true, &mut resumed_key).unwrap();
    assert_eq!(r.head, head);
    assert_eq!(resumed_key, key, "an up-to-date key state is unchanged");
    // Plain resume cannot check a keyed record (its tag needs the erased key).
    assert!(matches!(
        resume(&log, true),
        Err(ResumeError::LastRecord {
            fault: RecordFault::HashMismatch,
            ..
        })
    ));
    let mut writer = Writer::sealed(log.clone(), r.head, key.clone());
    writer
        .append_draft(
            &mut Draft::<CAP>::new(Level::Info, format_args!("c")),
            Timestamp::default(),
            0,
        )
        .unwrap();
    let out = writer.into_sink();
    assert!(
        matches!(verify_keyed(&out, K0, Options::default()), Verdict::Intact(r) if r.records == 4)
    );
    let records = read_records(&out);
    let starts = records.iter().filter(|r| r.is_chain_start()).count();
    assert_eq!(starts, 1, "one chain start");
    let versions = records.iter().filter(|r| block(r).get("version").is_some());
    assert_eq!(versions.count(), 1, "one chain start");

    let spans = record_spans(&log);
    // A log whose last record was cut off: the key is ahead of it.
    assert!(matches!(
        resume_keyed(&log[..spans[2].start], true, &mut key.clone()),
        Err(ResumeError::KeyOutOfStep {
            key_seq: 3,
            log_seq: Some(1)
        })
    ));
    // An edited last record is refused.
    let mut bad = log.clone();
    let at = spans[2].end - 70;
    bad[at] ^= 1;
    assert!(matches!(
        resume_keyed(&bad, true, &mut key.clone()),
        Err(ResumeError::LastRecord { .. })
    ));
    // A fresh key on an empty log starts the chain.
    let mut fresh = SealKey::new(Key::from_bytes(K0));
    assert_eq!(
        resume_keyed(b"", true, &mut fresh),
        Ok(Resumed { head: None, end: 0 })
    );
}

#[test]
fn a_key_state_behind_the_log_catches_up_by_checking_the_records() {
    // The writer stored its key state after record 0 and crashed after
    // writing records 1..=3 without storing it again.
    let (log, head, key) = keyed_log(&["a", "b", "c"]);
    let (_, _, stale) = keyed_log(&[]);
    let mut stale = stale;
    assert_eq!(stale.seq(), 0);
    let r = resume_keyed(&log, true, &mut stale).unwrap();
    assert_eq!(r.head, head);
    assert_eq!(stale, key, "caught up to the writer's own state");
    // From the tail alone too, as long as it reaches back far enough.
    let spans = record_spans(&log);
    let mut stale2 = SealKey::new(Key::from_bytes(K0));
    let first_kept = &log[spans[0].start + 10..];
    assert_eq!(
        resume_keyed(first_kept, false, &mut stale2),
        Err(ResumeError::NeedMoreTail)
    );
    // A record in the unseen part edited: caught while catching up.
    let mut bad = log.clone();
    bad[spans[1].start + 66] ^= 1;
    assert!(matches!(
        resume_keyed(&bad, true, &mut SealKey::new(Key::from_bytes(K0))),
        Err(ResumeError::LastRecord { .. })
    ));
    // A forged record after the ones the key checked (a lower seq, made-up
    // hashes) is not accepted as the last record.
    let mut forged = log.clone();
    forged.extend(
        format!(
            "{}|FORGED|{}\nBLOCK_DATA:{{\"levelno\":20,\"message\":\"FORGED\",\"prev_hash\":\"{}\",\"seq\":1,\"timestamp\":0.000000}}\n",
            "1".repeat(64),
            "2".repeat(64),
            "1".repeat(64)
        )
        .bytes(),
    );
    assert!(resume_keyed(&forged, true, &mut SealKey::new(Key::from_bytes(K0))).is_err());
    // The wrong initial key cannot catch up: it is named as another log's.
    assert!(matches!(
        resume_keyed(&log, true, &mut SealKey::new(Key::from_bytes([1; 32]))),
        Err(ResumeError::Keyed {
            fault: KeyedFault::WrongKey,
            offset: 0
        })
    ));
    // A seal key given for a plain log says so.
    let mut plain = [0u8; 2048];
    let mut sink = &mut plain[..];
    let mut writer = Writer::new(&mut sink);
    for m in ["a", "b"] {
        let mut draft = Draft::<512>::new(Level::Info, format_args!("{m}"));
        writer
            .append_draft(&mut draft, Timestamp::default(), 0)
            .unwrap();
    }
    let used = 2048 - sink.len();
    assert!(matches!(
        resume_keyed(&plain[..used], true, &mut SealKey::new(Key::from_bytes(K0))),
        Err(ResumeError::Keyed {
            fault: KeyedFault::NotKeyed,
            ..
        })
    ));
}

#[test]
fn a_key_out_of_step_is_an_error_not_a_bad_record() {
    let at_five = SealKey::from_parts(5, Key::from_bytes(K0), None);
    let mut writer = Writer::sealed(Vec::new(), None, at_five);
    let e = writer
        .append_draft(
            &mut Draft::<CAP>::new(Level::Info, format_args!("x")),
            Timestamp::default(),
            0,
        )
        .unwrap_err();
    assert_eq!(
        e,
        WriteError::Seal(SealError::OutOfStep {
            key_seq: 5,
            record_seq: Some(0)
        })
    );
    assert!(writer.into_sink().is_empty(), "nothing written");
}
