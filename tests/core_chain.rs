//! The chain under failing sinks, full buffers and interrupt-time appends.

mod common;

use common::*;
use immutable_log::*;

#[test]
fn a_failing_sink_returns_the_error_and_the_head_stays() {
    for mode in [Flaw::Error, Flaw::Zero] {
        let (good, head) = log_of(&["one"]);
        let sink = FlakySink {
            data: Vec::new(),
            ok_bytes: good.len() + 40,
            mode,
        };
        let chain: Chain<FlakySink, NoClock, CAP> = Chain::new(sink, NoClock);
        let first = chain.append(Level::Info, format_args!("one")).unwrap();
        assert_eq!(Some(first), head);
        let err = chain.append(Level::Info, format_args!("two")).unwrap_err();
        match mode {
            Flaw::Error => assert_eq!(
                err,
                AppendError::Sink(SinkError::Io(embedded_io::ErrorKind::Other))
            ),
            _ => assert_eq!(err, AppendError::Sink(SinkError::WriteZero)),
        }
        assert_eq!(chain.head(), head, "{mode:?}: the head did not advance");
        let data = chain.into_writer().into_sink().data;
        assert_eq!(&data[..good.len()], &good[..], "what was written stays");
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn short_writes_are_completed() {
    let sink = FlakySink {
        data: Vec::new(),
        ok_bytes: usize::MAX,
        mode: Flaw::Short(3),
    };
    let chain: Chain<FlakySink, NoClock, CAP> = Chain::new(sink, NoClock);
    for i in 0..5 {
        chain
            .append(Level::Info, format_args!("short write {i}"))
            .unwrap();
    }
    let data = chain.into_writer().into_sink().data;
    let plain: Chain<Vec<u8>, NoClock, CAP> = Chain::new(Vec::new(), NoClock);
    for i in 0..5 {
        plain
            .append(Level::Info, format_args!("short write {i}"))
            .unwrap();
    }
    assert_eq!(
        data,
        plain.into_writer().into_sink(),
        "same bytes as an unhindered sink"
    );
    assert!(matches!(verify(&data), Verdict::Intact(r) if r.records == 5));
}

#[test]
fn a_full_slice_sink_is_an_error_not_a_panic() {
    let mut storage = [0u8; 700];
    let mut slice: &mut [u8] = &mut storage;
    let chain: Chain<&mut &mut [u8], NoClock, 512> = Chain::new(&mut slice, NoClock);
    let mut ok = 0;
    let mut last_err = None;
    for i in 0..10 {
        match chain.append(Level::Info, format_args!("record number {i}")) {
            Ok(_) => ok += 1,
            Err(e) => {
                last_err = Some(e);
                break;
            }
        }
    }
    let head = chain.head();
    assert!(ok >= 2, "{ok}");
    assert!(matches!(last_err, Some(AppendError::Sink(_))));
    assert_eq!(head.and_then(|h| h.seq), Some(ok - 1));
    let written = 700 - slice.len();
    // Every complete record written before the sink filled verifies; the part
    // of the record that did not fit is a torn tail.
    let v = verify(&storage[..written]);
    assert!(
        matches!(v, Verdict::Torn(r, _) | Verdict::Intact(r) if r.records == ok),
        "{v:?}"
    );
}

#[test]
fn try_append_never_waits_and_the_loss_is_reported() {
    let chain: Chain<Vec<u8>, NoClock, CAP> = Chain::new(Vec::new(), NoClock);
    chain.append(Level::Info, format_args!("before")).unwrap();
    // While the lock is held (as by the code an interrupt interrupted)...
    chain.with_writer(|_| {
        for _ in 0..3 {
            assert_eq!(
                chain.try_append(Level::Error, format_args!("from the ISR")),
                Err(AppendError::Busy)
            );
        }
    });
    assert_eq!(chain.unlogged(), 3);
    // ...the next record written says three were lost, and the verifier sums it.
    chain
        .try_append(Level::Info, format_args!("after"))
        .unwrap();
    assert_eq!(chain.unlogged(), 0);
    chain.append(Level::Info, format_args!("later")).unwrap();
    let log = chain.into_writer().into_sink();
    let records = read_records(&log);
    assert_eq!(records[1].unlogged(), 3);
    assert_eq!(block(&records[1])["unlogged"], 3);
    let said = |i: usize| block(&records[i]).get("unlogged").is_some();
    assert!(!said(0) && !said(2), "no loss, no key");
    assert!(matches!(verify(&log), Verdict::Intact(r) if r.unlogged == 3 && r.records == 3));
}

#[test]
fn an_unreported_loss_survives_a_sink_failure() {
    let sink = FlakySink {
        data: Vec::new(),
        ok_bytes: 0,
        mode: Flaw::Error,
    };
    let chain: Chain<FlakySink, NoClock, CAP> = Chain::new(sink, NoClock);
    chain.with_writer(|_| {
        let _ = chain.try_append(Level::Info, format_args!("lost"));
    });
    assert_eq!(chain.unlogged(), 1);
    assert!(chain.append(Level::Info, format_args!("fails")).is_err());
    assert_eq!(chain.unlogged(), 1, "still to be reported");
}

#[test]
fn a_static_chain_is_shared_by_threads() {
    static CHAIN: Chain<Vec<u8>, NoClock, 512> = Chain::new(Vec::new(), NoClock);
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                for i in 0..50 {
                    CHAIN
                        .append(Level::Info, format_args!("t{t} m{i}"))
                        .unwrap();
                }
            });
        }
    });
    let log = CHAIN.with_writer(|w| w.sink_mut().clone());
    assert!(matches!(verify(&log), Verdict::Intact(r) if r.records == 200));
}

#[cfg(feature = "log")]
#[test]
fn the_log_facade_writes_records_and_uses_try_append_in_interrupts() {
    use log::Log;
    static CHAIN: Chain<Vec<u8>, NoClock, 512> = Chain::new(Vec::new(), NoClock);
    static THREAD: Logger<Vec<u8>, NoClock, 512> = Logger::blocking(&CHAIN);
    fn yes() -> bool {
        true
    }
    static ISR: Logger<Vec<u8>, NoClock, 512> = Logger::new(&CHAIN, yes);
    let record = |level, msg: std::fmt::Arguments| {
        let r = log::Record::builder().level(level).args(msg).build();
        THREAD.log(&r);
    };
    record(log::Level::Info, format_args!("hello {}", 42));
    record(log::Level::Warn, format_args!("careful"));
    CHAIN.with_writer(|_| {
        ISR.log(
            &log::Record::builder()
                .level(log::Level::Error)
                .args(format_args!("isr"))
                .build(),
        );
    });
    ISR.log(
        &log::Record::builder()
            .level(log::Level::Debug)
            .args(format_args!("isr ok"))
            .build(),
    );
    THREAD.flush();
    let log = CHAIN.with_writer(|w| w.sink_mut().clone());
    let records = read_records(&log);
    let levels: Vec<i64> = records.iter().map(Record::levelno).collect();
    assert_eq!(levels, [20, 30, 10]);
    assert_eq!(message(&records[0]), "hello 42");
    assert_eq!(records[2].unlogged(), 1);
    assert!(matches!(verify(&log), Verdict::Intact(r) if r.unlogged == 1));
}
