//! The `immutable-log` command, run as a process in a directory.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use super::run_with_input;

const BIN: &str = env!("CARGO_BIN_EXE_immutable-log");

/// Runs the command in `dir` with `stdin` as its input.
pub fn run(args: &[&str], stdin: impl AsRef<[u8]>, dir: &Path) -> Output {
    run_with_input(
        Command::new(BIN).args(args).current_dir(dir),
        stdin.as_ref(),
    )
}

/// Starts the command in `dir`, every stream piped, for a test that talks to
/// it while it runs.
pub fn spawn(args: &[&str], dir: &Path) -> Child {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs")
}

/// Its exit code.
#[track_caller]
pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exited")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Standard output, then standard error.
pub fn text(out: &Output) -> String {
    stdout(out) + &stderr(out)
}

/// Standard output as the one JSON object of `verify --json`.
#[track_caller]
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}
