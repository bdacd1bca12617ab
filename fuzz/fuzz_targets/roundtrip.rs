//! Any messages, written through `Writer` or `Chain`, plain or keyed, read
//! back intact and unchanged (or cut, and said so); one changed byte is never
//! intact; a crash inside the last record, resumed and recovered, gives a log
//! that verifies whole; a keyed writer's key state stored at any earlier
//! append catches up with the log.
//!
//! Input: `[sep, mode, pos_lo, pos_hi, xor, messages ..]`: the messages are
//! the rest split on `sep` (lossy UTF-8, at most 64 of them). `mode & 0x80`
//! writes through a `Chain`, otherwise through a `Writer` with drafts and
//! `unlogged = (mode >> 3) & 7`; `mode & 0x40` seals with `KEY`; `mode` also
//! picks the first level. `pos` picks the byte XORed with `xor` (0 counts as
//! 1), and where the last record is cut.
#![no_main]

use immutable_log::{
    resume, resume_keyed, Chain, Draft, Head, Key, Level, NoClock, Options, Plain, ResumeError,
    Resumed, Seal, SealKey, Start, Timestamp, Verdict, VerifyKey, Writer,
};
use immutable_log_fuzz::{messages, reassemble, record_spans, verify_whole, VecSink, KEY, LIMIT};
use libfuzzer_sys::fuzz_target;

const CAP: usize = 1024;
const LEVELS: [Level; 6] = Level::ALL;

/// What writing gave: the log, the head after each append, the seal state
/// before the first and after each append, and the unlogged count stated.
struct Written<S> {
    log: Vec<u8>,
    heads: Vec<Option<Head>>,
    states: Vec<S>,
    unlogged: u64,
}

fn write<S: Seal + Clone>(
    writer: Writer<VecSink, S>,
    mode: u8,
    texts: &[String],
    level: impl Fn(usize) -> Level,
) -> Written<S> {
    let mut heads = vec![writer.head()];
    let mut states = vec![writer.seal().clone()];
    if mode & 0x80 != 0 {
        let chain: Chain<VecSink, NoClock, CAP, S> = Chain::from_writer(writer, NoClock);
        for (i, m) in texts.iter().enumerate() {
            let head = chain
                .append(level(i), format_args!("{m}"))
                .expect("a Vec sink never fails");
            heads.push(Some(head));
            states.push(chain.with_writer(|w| w.seal().clone()));
        }
        let log = chain.into_writer().into_sink().0;
        Written {
            log,
            heads,
            states,
            unlogged: 0,
        }
    } else {
        let mut writer = writer;
        let unlogged = u64::from(mode >> 3) & 7;
        for (i, m) in texts.iter().enumerate() {
            let mut draft = Draft::<CAP>::new(level(i), format_args!("{m}"));
            let ts = Timestamp::new(1_764_146_337 + i as u64, (i as u32).wrapping_mul(7919));
            let head = writer
                .append_draft(&mut draft, ts, unlogged)
                .expect("a Vec sink never fails");
            heads.push(Some(head));
            states.push(writer.seal().clone());
        }
        let log = writer.into_sink().0;
        Written {
            log,
            heads,
            states,
            unlogged: unlogged * texts.len() as u64,
        }
    }
}

fn check(data: &[u8]) {
    let [sep, mode, pos_lo, pos_hi, xor, rest @ ..] = data else {
        return;
    };
    let (mode, pos, xor) = (*mode, u16::from_le_bytes([*pos_lo, *pos_hi]), (*xor).max(1));
    let texts: Vec<String> = rest
        .split(|b| b == sep)
        .take(64)
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    let level = |i: usize| LEVELS[(usize::from(mode) + i) % LEVELS.len()];
    let keyed = mode & 0x40 != 0;
    if keyed {
        let seal = SealKey::new(Key::from_bytes(KEY));
        let key = VerifyKey::new(Key::from_bytes(KEY));
        let written = write(
            Writer::sealed(VecSink::default(), None, seal),
            mode,
            &texts,
            level,
        );
        let resume_from = |log: &[u8], state: &SealKey| resume_keyed(log, true, &mut state.clone());
        check_written(&texts, &written, Some(&key), level, pos, xor, resume_from);
        // A key state behind the log (stored before its last appends) catches up.
        let Written {
            log, heads, states, ..
        } = &written;
        let behind = &states[usize::from(pos) % states.len()];
        let mut caught_up = behind.clone();
        let resumed = resume_keyed(log, true, &mut caught_up);
        let head = *heads.last().expect("a head");
        assert_eq!(
            resumed,
            Ok(Resumed {
                head,
                end: log.len()
            })
        );
        assert_eq!(&caught_up, states.last().expect("a state"));
    } else {
        let written = write::<Plain>(Writer::new(VecSink::default()), mode, &texts, level);
        let resume_from = |log: &[u8], _: &Plain| resume(log, true);
        check_written(&texts, &written, None, level, pos, xor, resume_from);
    }
}

fn check_written<S: Seal + Clone>(
    texts: &[String],
    written: &Written<S>,
    key: Option<&VerifyKey>,
    level: impl Fn(usize) -> Level,
    pos: u16,
    xor: u8,
    resume: impl Fn(&[u8], &S) -> Result<Resumed, ResumeError>,
) {
    let Written {
        log,
        heads,
        states,
        unlogged,
    } = written;
    let head = *heads.last().expect("the head before any append");
    // A keyed chain starts with its chain-start record.
    let extra = usize::from(key.is_some() && !texts.is_empty());
    // Whether each message is cut to fit, as the writer decides it.
    let cut: Vec<bool> = texts
        .iter()
        .enumerate()
        .map(|(i, m)| Draft::<CAP>::new(level(i), format_args!("{m}")).truncated())
        .collect();

    // Intact, every record counted, every message back as written.
    let mut buf = [0u8; LIMIT];
    let verdict = verify_whole(&mut buf, Options::default(), key, log);
    let Verdict::Intact(report) = verdict else {
        panic!("a written log does not verify: {verdict:?}");
    };
    assert_eq!(report.records, (texts.len() + extra) as u64);
    assert_eq!(report.head, head);
    assert_eq!(report.unlogged, *unlogged);
    assert_eq!(report.truncated, cut.iter().filter(|&&c| c).count() as u64);
    let read = messages(log);
    assert_eq!(read.len(), texts.len() + extra);
    for ((written, read), cut) in texts.iter().zip(&read[extra..]).zip(&cut) {
        if *cut {
            assert!(written.starts_with(read.as_str()) && read.len() < written.len());
        } else {
            assert_eq!(written, read);
        }
    }
    let last_state = states.last().expect("the state before any append");
    assert_eq!(
        resume(log, last_state),
        Ok(Resumed {
            head,
            end: log.len()
        })
    );
    if log.is_empty() {
        return;
    }

    // One byte changed: never intact, from genesis or as a segment.
    let pos = usize::from(pos);
    let at = pos % log.len();
    let mut bad = log.clone();
    bad[at] ^= xor;
    for start in [Start::Genesis, Start::Segment] {
        let options = Options {
            start,
            ..Options::default()
        };
        let verdict = verify_whole(&mut buf, options, key, &bad);
        assert!(
            !matches!(verdict, Verdict::Intact(_)),
            "byte {at} changed, still intact ({start:?})"
        );
    }
    // A change in the last record: resume does not continue from it.
    let spans = record_spans(log);
    let last = spans.last().expect("a record").clone();
    if at >= last.start {
        if let Ok(r) = resume(&bad, last_state) {
            assert_ne!(
                r.head, head,
                "byte {at} of the last record changed, resumed from it"
            );
        }
    }

    // A crash inside the last record: resumed from the record before it with
    // the state from before it, the torn bytes recovered, the log verifies whole.
    // (A keyed chain's first append writes two records: no state between them.)
    if key.is_some() && texts.len() < 2 {
        return;
    }
    let crashed = &log[..last.start + 1 + pos % (last.len() - 1)];
    let before = &states[states.len() - 2];
    let resumed = resume(crashed, before).expect("a crash inside the last record resumes");
    assert_eq!(
        resumed,
        Resumed {
            head: heads[heads.len() - 2],
            end: last.start
        }
    );
    let mut writer = Writer::sealed(
        VecSink(crashed[..last.start].to_vec()),
        resumed.head,
        before.clone(),
    );
    let torn = &crashed[last.start..];
    writer
        .append_recovered::<CAP>(torn, last.start as u64, Timestamp::default())
        .expect("a Vec sink never fails");
    let continued = writer.into_sink().0;
    let verdict = verify_whole(&mut buf, Options::default(), key, &continued);
    assert!(
        matches!(verdict, Verdict::Intact(_)),
        "recovered after a crash: {verdict:?}"
    );
    let recovered = reassemble(&messages(&continued[last.start..]), last.start as u64)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(recovered, torn);
}

fuzz_target!(|data: &[u8]| check(data));
