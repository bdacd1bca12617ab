//! Checkpoints kept apart from the log catch truncation and forks.

mod common;

use common::*;
use immutable_log::*;

/// A log and its witness file, with a checkpoint every `every` records.
fn log_with_witness(messages: &[String], every: u64) -> (Vec<u8>, Vec<u8>) {
    let mut writer = vec_writer(None);
    let mut cp = Checkpointer::new(Vec::new(), None, every, 0);
    for m in messages {
        let head = writer
            .append_draft(
                &mut Draft::<CAP>::new(Level::Info, format_args!("{m}")),
                Timestamp::default(),
                0,
            )
            .unwrap();
        cp.observe(head, Timestamp::default()).unwrap();
    }
    (writer.into_sink(), std::mem::take(cp.sink_mut()))
}

fn last_checkpoint(witness: &[u8]) -> Checkpoint {
    let text = std::str::from_utf8(witness).unwrap();
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    Checkpoint::parse(format!("{last}\n").as_bytes()).unwrap()
}

fn messages(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("event {i}")).collect()
}

#[test]
fn the_checkpointer_writes_every_n_records() {
    let (log, witness) = log_with_witness(&messages(10), 4);
    let text = String::from_utf8(witness.clone()).unwrap();
    assert_eq!(text.matches("immutable-log/").count(), 2, "{text}");
    let cp = last_checkpoint(&witness);
    assert_eq!(cp.size, 8);
    let spans = record_spans(&log);
    assert_eq!(
        cp.origin,
        verify(&log[..spans[0].end]).report().head.unwrap().hash
    );
    assert!(matches!(
        verify_with(&log, Options::default().with_checkpoint(&cp), 4096),
        Verdict::Intact(_)
    ));
}

#[test]
fn a_log_cut_below_its_checkpoint_fails() {
    let (log, witness) = log_with_witness(&messages(10), 4);
    let cp = last_checkpoint(&witness);
    let spans = record_spans(&log);
    // Cut cleanly after record 5: intact on its own, truncated against the checkpoint.
    let cut = &log[..spans[5].end];
    assert!(matches!(verify(cut), Verdict::Intact(_)));
    let v = verify_with(cut, Options::default().with_checkpoint(&cp), 4096);
    assert_fails(&v, |k| matches!(k, FailureKind::EndsBeforeHead { .. }));
    // Cut above it: still contains the checkpoint's head.
    let v = verify_with(
        &log[..spans[8].end],
        Options::default().with_checkpoint(&cp),
        4096,
    );
    assert!(matches!(v, Verdict::Intact(_)), "{v:?}");
}

#[test]
fn a_fork_from_the_checkpoint_fails() {
    let (log, witness) = log_with_witness(&messages(10), 4);
    let cp = last_checkpoint(&witness);
    let spans = record_spans(&log);
    // Same first 6 records, then another history: a fork before seq 7.
    let mut other = messages(10);
    other[6] = "a different event".into();
    let (forked, _) = log_with_witness(&other, 4);
    assert_eq!(&forked[..spans[5].end], &log[..spans[5].end]);
    assert!(matches!(verify(&forked), Verdict::Intact(_)));
    let v = verify_with(&forked, Options::default().with_checkpoint(&cp), 4096);
    assert_fails_at(&v, 7, |k| matches!(k, FailureKind::HeadMismatch { .. }));
}

#[test]
fn a_checkpoint_of_another_log_is_named_as_such() {
    let (_, witness) = log_with_witness(&messages(10), 4);
    let cp = last_checkpoint(&witness);
    let (other, _) = log_of(&["something else entirely"]);
    let v = verify_with(&other, Options::default().with_checkpoint(&cp), 4096);
    assert_fails_at(&v, 0, |k| matches!(k, FailureKind::OriginMismatch { .. }));
}

#[test]
fn time_triggers_checkpoints_too() {
    let mut writer = vec_writer(None);
    let mut cp = Checkpointer::new(Vec::new(), None, 0, 60);
    let mut written = 0;
    for (i, secs) in [0u64, 10, 30, 61, 62, 200].into_iter().enumerate() {
        let head = writer
            .append_draft(
                &mut Draft::<CAP>::new(Level::Info, format_args!("{i}")),
                Timestamp::new(secs, 0),
                0,
            )
            .unwrap();
        if cp.observe(head, Timestamp::new(secs, 0)).unwrap().is_some() {
            written += 1;
        }
    }
    assert_eq!(written, 2, "at 61 s and at 200 s");
}
