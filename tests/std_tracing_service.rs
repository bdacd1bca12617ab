//! The service example on a small scale: threads log through `tracing` into
//! a rotating, retained, compressed set, and the set verifies as one chain.
#![cfg(feature = "tracing")]

use std::sync::Arc;
use std::thread;

use immutable_log::std_backend::{
    set_files, verify_set, LogFile, PlainFormat, Rotation, SetVerdict, TracingLayer,
};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn threads_logging_through_tracing_leave_a_set_that_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("service.log");
    let log = Arc::new(
        LogFile::options()
            .format(PlainFormat)
            .rotate(
                Rotation::new()
                    .max_size(8 << 10)
                    .keep_files(2)
                    .compress(true),
            )
            .open(&path)
            .unwrap(),
    );
    let layer = TracingLayer::new(Arc::clone(&log)).with_span_scope(true);
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
    let workers: Vec<_> = (0..4)
        .map(|worker| {
            let dispatch = dispatch.clone();
            thread::spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for id in 0..150 {
                        let _span = tracing::info_span!("request", worker, id).entered();
                        tracing::info!(target: "svc", status = 200, "done");
                    }
                })
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    log.sync().unwrap();
    assert!(log.rotation_error().is_none());
    let files = set_files(&path).unwrap();
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files[0].to_string_lossy().ends_with("service.log.2.gz"));
    let report = match verify_set(&path, None).unwrap() {
        SetVerdict::Intact(report) => report,
        other => panic!("{other:?}"),
    };
    assert!(
        report.pruned_before().is_some(),
        "the oldest files were pruned, and it says so"
    );
    assert_eq!(report.unlogged(), 0);
    let head = report.head().unwrap();
    assert_eq!(Some(head), log.head());
    // 600 events, plus a rotation record per rotation and a retention record
    // per removed file, all in one chain from seq 0.
    assert!(head.seq.unwrap() >= 600, "{head:?}");
}
