//! The `immutable-log` command: `write`, `verify`, `head`, and for keyed
//! chains and checkpoints `keygen` and `checkpoint`.
//!
//! | exit code | meaning |
//! | --- | --- |
//! | 0 | success (`verify`: the log is intact) |
//! | 1 | integrity failure: a record changed, removed, inserted or reordered, or the log truncated below `--expect-head`; for `write` and `head`, a last record that fails its own check |
//! | 2 | usage or I/O error: a bad argument, a missing file, a locked log |
//! | 3 | `verify`: torn tail (the log ends inside a record, as after a crash; every record before it is intact) |

/// Writes `immutable-log: <message>` to stderr; a closed stderr is ignored
/// (`eprintln!` would panic).
macro_rules! complain {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "immutable-log: {}",
            format_args!($($arg)*)
        );
    }};
}

mod json;
mod verify;
mod write;

use std::ffi::OsString;
use std::io::{self, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use super::{create_key_pair, read_checkpoint, read_head, Durability, Error};
use crate::{ExpectedHead, Hash, Level};

/// What the process tells its caller.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Code {
    Success = 0,
    Integrity = 1,
    Usage = 2,
    Torn = 3,
}

impl From<Code> for ExitCode {
    fn from(code: Code) -> Self {
        ExitCode::from(code as u8)
    }
}

/// The code for an error of the handler: integrity (1) or I/O (2).
fn code_of(error: &Error) -> Code {
    if error.is_integrity() {
        Code::Integrity
    } else {
        Code::Usage
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "immutable-log",
    version,
    about = "Write, verify and inspect tamper-evident (hash-chained) logs",
    after_help = "Exit codes: 0 success (verify: intact), 1 integrity failure, \
                  2 usage or I/O error, 3 torn tail (verify)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Append one record per line of standard input to FILE (created if
    /// missing), continuing its chain. The line, without its LF, is the
    /// message, formatted as `<UTC time> - <LEVEL> - <line>`.
    Write {
        /// The log file.
        file: PathBuf,
        /// The records' level.
        #[arg(long, value_enum, ignore_case = true, default_value_t = LevelArg::Info)]
        level: LevelArg,
        /// When each record reaches the file.
        #[arg(long, value_enum, default_value_t = DurabilityArg::Flush)]
        durability: DurabilityArg,
        /// A keyed, forward-secure chain sealed with this key state (from
        /// `keygen`); the file is replaced by the evolved state as records
        /// are written.
        #[arg(long, value_name = "S")]
        seal_key: Option<PathBuf>,
    },
    /// Verify a log front to back, in bounded memory.
    Verify {
        /// One JSON object on standard output instead of text.
        #[arg(long)]
        json: bool,
        /// The head the log must reach (from `immutable-log head`, recorded
        /// elsewhere): catches records cut off the end.
        #[arg(long, value_name = "SEQ:HASH", value_parser = parse_expected_head)]
        #[arg(conflicts_with = "checkpoint")]
        expect_head: Option<ExpectedHead>,
        /// Accept a log that does not start at genesis (a segment of a longer
        /// chain: a capture, a rotated file).
        #[arg(long)]
        allow_segment: bool,
        /// A keyed chain's verify key (from `keygen`): each record is checked
        /// under its own key.
        #[arg(long, value_name = "V")]
        verify_key: Option<PathBuf>,
        /// A checkpoint file (from `checkpoint`, or a witness file of them:
        /// the last one counts): the log must be the checkpoint's, and reach
        /// its head.
        #[arg(long, value_name = "CP")]
        checkpoint: Option<PathBuf>,
        /// The log file, or `-` for standard input.
        file: PathBuf,
    },
    /// Print `SEQ HASH` of the last record, reading only the end of FILE
    /// (`-` as SEQ for a record written without one).
    Head {
        /// The log file.
        file: PathBuf,
    },
    /// Print the checkpoint of FILE's head: its identity, size and head hash,
    /// as a C2SP tlog-checkpoint note body. Keep it elsewhere; pass it to
    /// `verify --checkpoint` later.
    Checkpoint {
        /// The log file.
        file: PathBuf,
    },
    /// Create a keyed chain's two key files from one fresh random key: V, the
    /// verify key, to keep offline; S, the writer's seal key state. Both mode
    /// 600; existing files are not overwritten.
    Keygen {
        /// Where to write the verify key.
        #[arg(long, value_name = "V")]
        verify_key: PathBuf,
        /// Where to write the seal key state.
        #[arg(long, value_name = "S")]
        seal_key: PathBuf,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum LevelArg {
    Trace,
    Debug,
    Info,
    #[value(alias = "warn")]
    Warning,
    Error,
    Critical,
}

impl From<LevelArg> for Level {
    fn from(level: LevelArg) -> Self {
        match level {
            LevelArg::Trace => Level::Trace,
            LevelArg::Debug => Level::Debug,
            LevelArg::Info => Level::Info,
            LevelArg::Warning => Level::Warning,
            LevelArg::Error => Level::Error,
            LevelArg::Critical => Level::Critical,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, ValueEnum)]
enum DurabilityArg {
    Flush,
    Buffered,
    Sync,
}

impl From<DurabilityArg> for Durability {
    fn from(durability: DurabilityArg) -> Self {
        match durability {
            DurabilityArg::Flush => Durability::Flush,
            DurabilityArg::Buffered => Durability::Buffered,
            DurabilityArg::Sync => Durability::Sync,
        }
    }
}

/// Parses `SEQ:HASH` (or `SEQ HASH`, as `immutable-log head` prints it).
fn parse_expected_head(text: &str) -> Result<ExpectedHead, String> {
    let (seq, hash) = text
        .trim()
        .split_once([':', ' '])
        .ok_or_else(|| format!("expected SEQ:HASH, got {text:?}"))?;
    let seq = seq
        .trim()
        .parse()
        .map_err(|_| format!("SEQ must be a record number, got {seq:?}"))?;
    let hash = Hash::from_hex(hash.trim().as_bytes())
        .ok_or_else(|| format!("HASH must be 64 lowercase hex digits, got {hash:?}"))?;
    Ok(ExpectedHead { seq, hash })
}

/// Runs the command with the process's arguments.
pub fn main() -> ExitCode {
    run(std::env::args_os())
}

/// Runs the command with these arguments (the first is the program name).
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors to stderr with 2.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(Code::Usage as u8));
        }
    };
    let code = match cli.command {
        Command::Write {
            file,
            level,
            durability,
            seal_key,
        } => write::run(&file, level.into(), durability.into(), seal_key.as_deref()),
        Command::Verify {
            json,
            expect_head,
            allow_segment,
            verify_key,
            checkpoint,
            file,
        } => verify::run(
            &file,
            json,
            verify::Checks {
                expect_head,
                allow_segment,
                verify_key,
                checkpoint,
            },
        ),
        Command::Head { file } => head(&file),
        Command::Checkpoint { file } => checkpoint(&file),
        Command::Keygen {
            verify_key,
            seal_key,
        } => match create_key_pair(&verify_key, &seal_key) {
            Ok(()) => Code::Success,
            Err(e) => {
                complain!("{e}");
                Code::Usage
            }
        },
    };
    code.into()
}

/// Prints `text` and a newline on standard output.
fn print(text: &dyn std::fmt::Display) -> Code {
    let mut out = io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Code::Success,
        Err(_) => Code::Usage,
    }
}

/// `immutable-log checkpoint FILE`.
fn checkpoint(file: &std::path::Path) -> Code {
    match read_checkpoint(file) {
        // The checkpoint's own text ends with LF.
        Ok(Some(cp)) => print(&cp.to_string().trim_end()),
        Ok(None) => {
            complain!(
                "{}: no checkpoint: the log holds no record, or its records carry no seq",
                file.display()
            );
            Code::Usage
        }
        Err(e) => {
            complain!("{e}");
            code_of(&e)
        }
    }
}

/// `immutable-log head FILE`.
fn head(file: &std::path::Path) -> Code {
    match read_head(file) {
        Ok(Some(head)) => print(&head),
        Ok(None) => {
            complain!("{}: the log holds no record", file.display());
            Code::Usage
        }
        Err(e) => {
            complain!("{e}");
            code_of(&e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_head_parses_seq_colon_hash() {
        let hex = "ab".repeat(32);
        let head = parse_expected_head(&format!("7:{hex}")).unwrap();
        assert_eq!(head.seq, 7);
        assert_eq!(head.hash.to_string(), hex);
        assert!(parse_expected_head(&hex).is_err());
        assert_eq!(parse_expected_head(&format!("7 {hex}")).unwrap(), head);
        assert!(parse_expected_head(&format!("x:{hex}")).is_err());
        assert!(parse_expected_head("7:abc").is_err());
        assert!(parse_expected_head(&format!("7:{}", hex.to_uppercase())).is_err());
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
