//! The `log` builder: level and per-target filters, `RUST_LOG`-style text,
//! what the message names, and closing a log to open another in the same
//! process. The `log` crate has one logger per process, so these tests take
//! turns.
#![cfg(feature = "std")]

mod common;

use std::sync::{Mutex, MutexGuard};

use common::files::records_of;
use immutable_log::std_backend::{Error, InstallError, LogBuilder, LogFile, PlainFormat};
use log::LevelFilter;

static TURN: Mutex<()> = Mutex::new(());

fn turn() -> MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

fn open(path: &std::path::Path) -> LogFile {
    LogFile::options().format(PlainFormat).open(path).unwrap()
}

fn messages(path: &std::path::Path) -> Vec<(i64, String)> {
    records_of(path)
        .into_iter()
        .map(|r| (r.levelno, r.message))
        .collect()
}

#[test]
fn info_by_default_and_the_target_kept() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    let handle = LogBuilder::new().install(open(&path)).unwrap();
    log::trace!(target: "app", "t");
    log::debug!(target: "app", "d");
    log::info!(target: "app::web", "i {}", 1);
    log::error!(target: "dep", "e");
    handle.close().unwrap();
    assert_eq!(
        messages(&path),
        [
            (20, "app::web: i 1".to_string()),
            (40, "dep: e".to_string())
        ]
    );
}

#[test]
fn rust_log_text_sets_per_target_levels() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.log");
    std::env::set_var("IMMUTABLE_LOG_TEST_FILTER", "warn,app=debug,app::noisy=off");
    let handle = LogBuilder::new()
        .parse_env("IMMUTABLE_LOG_TEST_FILTER")
        .unwrap()
        .target_level("dep::inner", LevelFilter::Trace)
        .install(open(&path))
        .unwrap();
    log::info!(target: "other", "hidden");
    log::warn!(target: "other", "w");
    log::debug!(target: "app::db", "d");
    log::trace!(target: "app::db", "hidden");
    log::error!(target: "app::noisy", "hidden");
    log::info!(target: "dep", "hidden");
    log::trace!(target: "dep::inner::x", "t");
    handle.close().unwrap();
    assert_eq!(
        messages(&path),
        [
            (30, "other: w".to_string()),
            (10, "app::db: d".to_string()),
            (5, "dep::inner::x: t".to_string())
        ]
    );
}

#[test]
fn module_and_location_when_asked() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.log");
    let handle = LogBuilder::new()
        .with_module(true)
        .with_location(true)
        .install(open(&path))
        .unwrap();
    let line = line!() + 1;
    log::info!(target: "custom", "here");
    log::info!("default target");
    handle.close().unwrap();
    let got = messages(&path);
    assert_eq!(
        got[0].1,
        format!("custom [std_log_builder] (tests/std_log_builder.rs:{line}): here")
    );
    // The default target is the module: not named twice.
    assert_eq!(
        got[1].1,
        format!(
            "std_log_builder (tests/std_log_builder.rs:{}): default target",
            line + 1
        )
    );
}

#[test]
fn a_closed_log_is_released_and_another_installed_in_the_same_process() {
    let _turn = turn();
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("1.log"), dir.path().join("2.log"));
    let handle = LogBuilder::new().install(open(&first)).unwrap();
    log::info!(target: "x", "to the first");
    // While it is installed, its file stays locked, and a second install waits.
    assert!(matches!(LogFile::open(&first), Err(Error::Locked { .. })));
    let refused = LogBuilder::new().install(open(&second)).unwrap_err();
    assert!(matches!(refused, InstallError::StillOpen(_)), "{refused}");
    drop(refused.into_log());
    handle.close().unwrap();
    log::info!(target: "x", "to no log");

    // Closed: the file is free again, and another log can be installed.
    let reopened = open(&first);
    reopened.close().unwrap();
    let handle = LogFile::install(open(&second)).unwrap();
    log::trace!(target: "x", "to the second, every level, no target");
    handle.close().unwrap();
    assert_eq!(messages(&first), [(20, "x: to the first".to_string())]);
    assert_eq!(
        messages(&second),
        [(5, "to the second, every level, no target".to_string())]
    );
}

#[test]
fn bad_filter_text_is_an_error_that_quotes_it() {
    let e = LogBuilder::new().parse("info,app=loud").unwrap_err();
    assert_eq!(e.spec, "info,app=loud");
    assert!(e.to_string().contains("\"info,app=loud\""), "{e}");
}
