//! The `tracing` layer: what a record holds, filters and other layers beside
//! it, span scopes, and records that could not be written.
#![cfg(feature = "tracing")]

mod common;

use std::io;
use std::sync::{Arc, Mutex};

use common::files::{intact, records_of};
use immutable_log::std_backend::recovery_fs::FaultyFs;
use immutable_log::std_backend::{LogFile, PlainFormat, TracingLayer};
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

fn plain_log(dir: &tempfile::TempDir) -> Arc<LogFile> {
    let log = LogFile::options()
        .format(PlainFormat)
        .open(dir.path().join("t.log"))
        .unwrap();
    Arc::new(log)
}

fn messages(log: &LogFile) -> Vec<(i64, String)> {
    records_of(log.path())
        .into_iter()
        .map(|r| (r.levelno, r.message))
        .collect()
}

#[test]
fn an_event_is_its_target_message_and_fields_message_first() {
    let dir = tempfile::tempdir().unwrap();
    let log = plain_log(&dir);
    let subscriber = tracing_subscriber::registry().with(TracingLayer::new(Arc::clone(&log)));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(target: "shop::pay", order = 42, user = "alice", "paid {} EUR", 7);
        tracing::warn!(target: "shop", disk = 91);
        tracing::error!(target: "shop", "quote \"and\" newline\nkept");
        tracing::debug!(target: "shop", ok = true, "done");
        tracing::trace!(target: "shop", "fine");
    });
    assert_eq!(
        messages(&log),
        [
            (
                20,
                "shop::pay: paid 7 EUR order=42 user=\"alice\"".to_string()
            ),
            (30, "shop: disk=91".to_string()),
            (40, "shop: quote \"and\" newline\nkept".to_string()),
            (10, "shop: done ok=true".to_string()),
            (5, "shop: fine".to_string()),
        ]
    );
    intact(log.path());
}

#[test]
fn span_scopes_are_written_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let log = plain_log(&dir);
    let layers = tracing_subscriber::registry()
        .with(TracingLayer::new(Arc::clone(&log)).with_span_scope(true));
    tracing::subscriber::with_default(layers, || {
        let request = tracing::info_span!("request", id = 7);
        let _r = request.enter();
        let db = tracing::info_span!("db", table = tracing::field::Empty);
        db.record("table", "users");
        let _d = db.enter();
        tracing::info!(target: "svc", "query");
    });
    let without = tempfile::tempdir().unwrap();
    let other = plain_log(&without);
    let layers = tracing_subscriber::registry().with(TracingLayer::new(Arc::clone(&other)));
    tracing::subscriber::with_default(layers, || {
        let _r = tracing::info_span!("request", id = 7).entered();
        tracing::info!(target: "svc", "query");
    });
    assert_eq!(
        messages(&log),
        [(
            20,
            "svc: request{id=7}:db{table=\"users\"}: query".to_string()
        )]
    );
    assert_eq!(messages(&other), [(20, "svc: query".to_string())]);
}

/// What a `fmt` layer printed.
#[derive(Clone, Default)]
struct Console(Arc<Mutex<Vec<u8>>>);

impl io::Write for Console {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Console {
    type Writer = Console;
    fn make_writer(&'a self) -> Console {
        self.clone()
    }
}

#[test]
fn beside_a_fmt_layer_each_with_its_own_filter() {
    let dir = tempfile::tempdir().unwrap();
    let log = plain_log(&dir);
    let console = Console::default();
    let ours = TracingLayer::new(Arc::clone(&log)).with_filter(
        Targets::new()
            .with_target("noisy", LevelFilter::ERROR)
            .with_default(LevelFilter::INFO),
    );
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(console.clone())
        .with_ansi(false)
        .with_filter(LevelFilter::DEBUG);
    let subscriber = tracing_subscriber::registry().with(ours).with(fmt);
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(target: "noisy", "chatter");
        tracing::error!(target: "noisy", "broke");
        tracing::debug!(target: "app", "detail");
        tracing::info!(target: "app", "started");
    });
    assert_eq!(
        messages(&log),
        [
            (40, "noisy: broke".to_string()),
            (20, "app: started".to_string())
        ]
    );
    let printed = String::from_utf8(console.0.lock().unwrap().clone()).unwrap();
    for seen in ["chatter", "broke", "detail", "started"] {
        assert!(printed.contains(seen), "{printed}");
    }
}

#[test]
fn an_env_filter_decides_what_reaches_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = plain_log(&dir);
    let filter = EnvFilter::builder().parse("warn,db=debug").unwrap();
    let subscriber = tracing_subscriber::registry()
        .with(TracingLayer::new(Arc::clone(&log)).with_filter(filter));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(target: "web", "hidden");
        tracing::warn!(target: "web", "shown");
        tracing::debug!(target: "db", "shown too");
        tracing::trace!(target: "db", "hidden too");
    });
    assert_eq!(
        messages(&log),
        [
            (30, "web: shown".to_string()),
            (10, "db: shown too".to_string())
        ]
    );
}

#[test]
fn an_event_that_cannot_be_written_is_counted_in_the_next_record() {
    let dir = tempfile::tempdir().unwrap();
    // The second write fails (a full disk); the third succeeds.
    let fs = Arc::new(FaultyFs::fail_at(1, io::ErrorKind::StorageFull));
    let log = Arc::new(
        LogFile::options()
            .format(PlainFormat)
            .recovery_fs(fs.clone())
            .open(dir.path().join("t.log"))
            .unwrap(),
    );
    let subscriber = tracing_subscriber::registry().with(TracingLayer::new(Arc::clone(&log)));
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(target: "a", "one");
        tracing::info!(target: "a", "lost");
        tracing::info!(target: "a", "three");
    });
    assert!(fs.hit());
    let records = records_of(log.path());
    let texts: Vec<_> = records.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(texts, ["a: one", "a: three"]);
    assert_eq!(records[0].unlogged, 0);
    assert_eq!(records[1].unlogged, 1);
    assert_eq!(intact(log.path()).unlogged, 1);
}
