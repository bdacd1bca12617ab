//! The `immutable-log` command: `write`, `verify`, `head`, and for keyed
//! chains and checkpoints `keygen` and `checkpoint`.
//!
//! Not part of the library's API: hidden from its docs, and only [`main`] is
//! public, for `src/bin/immutable-log.rs`. It stays inside the crate so its
//! matches on the crate's `#[non_exhaustive]` failure kinds stay exhaustive:
//! a new kind does not compile until `verify --json` has a name for it.
//!
//! | exit code | meaning |
//! | --- | --- |
//! | 0 | success (`verify`: the log is intact) |
//! | 1 | integrity failure: a record changed, removed, inserted or reordered, or the log truncated below `--expect-head`; a file that is not a log (line 1 is not a record); for `write`, `head` and `checkpoint`, a last record that fails its own check; for `write`, a seal key out of step with the log, another log's, or given for a plain log |
//! | 2 | usage or I/O error: a bad argument, a missing file, a locked log, a log that is not a regular file |
//! | 3 | `verify`: torn tail (the log ends inside a record, as after a crash; every record before it is intact) |
//! | 4 | `verify`: incomplete, a compact log with gaps (lost or damaged frames; every record present that could be checked is intact) |
//!
//! (Long for the argument definitions of every command, each documented for `--help`; the commands themselves live in their own files.)

#![doc(hidden)]

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

mod check_proof;
mod checkpoint_file;
mod compact;
mod defmt_decode;
mod json;
mod not_a_log;
mod note;
mod prove;
mod ring;
mod verify;
mod write;

use std::ffi::OsString;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use super::{create_key_pair, read_checkpoint, read_head, Durability, Error};
use crate::{ExpectedHead, Hash, Level};
use not_a_log::{first_record_failure, not_a_log, NotALog};

/// What the process tells its caller.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Code {
    Success = 0,
    Integrity = 1,
    Usage = 2,
    Torn = 3,
    Incomplete = 4,
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
                  2 usage or I/O error, 3 torn tail (verify), 4 incomplete: a compact \
                  log with gaps (verify)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Append one record per line of standard input to FILE (created if
    /// missing; it must be a regular file), continuing its chain. The line,
    /// without its LF, is the message, formatted as
    /// `<local time and offset> - <LEVEL> - <line>` (`--format`).
    ///
    /// A line that is not valid UTF-8 is kept losslessly, never replaced:
    /// its message part is `immutable-log: not UTF-8 (bytes as \xNN,
    /// backslash as \\):`, an LF, then the line with each byte that is not
    /// part of valid UTF-8 written `\xNN` and each backslash doubled. A line
    /// read from standard input holds no LF, so this form is never a line's
    /// own text. A line too long for a record is cut and marked
    /// `"truncated":true`. Both are counted on standard error at the end.
    Write {
        /// The log file.
        file: PathBuf,
        /// The records' level: trace, debug, info, warning (or warn), error
        /// or critical, in any case.
        #[arg(long, value_parser = parse_level, default_value = "info")]
        level: Level,
        /// When each record reaches the file: flush, buffered or sync.
        #[arg(long, default_value_t = Durability::Flush)]
        durability: Durability,
        /// A keyed, forward-secure chain sealed with this key state (from
        /// `keygen`); the file is replaced by the evolved state as records
        /// are written.
        #[arg(long, value_name = "S")]
        seal_key: Option<PathBuf>,
        /// The message: seed (`<local time> - <LEVEL> - <line>`, as the
        /// Python original writes it) or plain (the line alone).
        #[arg(long, value_enum, default_value_t = write::WriteFormat::Seed)]
        format: write::WriteFormat,
        /// Rotate FILE to FILE.1 (the others move up: FILE.2, ...) once it
        /// holds BYTES (suffix K, M or G: powers of 1024). The new FILE
        /// continues the chain; `verify --set FILE` reads them as one.
        #[arg(long, value_name = "BYTES", value_parser = write::parse_size)]
        max_size: Option<u64>,
        /// Rotate once FILE's first record is DURATION old (`90s`, `30m`,
        /// `12h`, `7d`; a bare number is seconds), checked at each line.
        #[arg(long, value_name = "DURATION", value_parser = write::parse_duration)]
        max_age: Option<std::time::Duration>,
        /// Retention: keep the N newest rotated files (`--keep 5`), or those
        /// written within a DURATION (`--keep 7d`). Each removal is first
        /// stated in the chain (the file, its records, its head).
        #[arg(long, value_name = "N", value_parser = write::parse_keep)]
        keep: Option<write::Keep>,
        /// Gzip rotated files (FILE.N.gz).
        #[arg(long)]
        compress: bool,
    },
    /// Verify a log front to back, in bounded memory: the text format, or the
    /// compact encoding (detected from its first bytes; exit 4 if it has gaps).
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
        /// Verify FILE and its rotated files (FILE.N, FILE.N.gz) as one
        /// chain, oldest first, and say what retention pruned.
        #[arg(long, conflicts_with_all = ["json", "expect_head", "allow_segment", "checkpoint"])]
        set: bool,
        /// A keyed chain's verify key (from `keygen`): each record is checked
        /// under its own key.
        #[arg(long, value_name = "V")]
        verify_key: Option<PathBuf>,
        /// A checkpoint file (from `checkpoint`, or a witness file of them:
        /// the last one counts): the log must be the checkpoint's and reach
        /// it (a tree checkpoint: its first SIZE records have its root; a
        /// head checkpoint: its head).
        #[arg(long, value_name = "CP")]
        checkpoint: Option<PathBuf>,
        /// FILE is a raw dump of a flash ring (`immutable_log::flash`): its
        /// sectors are found by their headers and verified in ring order.
        #[arg(long, conflicts_with_all = ["expect_head", "allow_segment", "verify_key", "checkpoint"])]
        ring: bool,
        /// A file of note verifier keys (`NAME+ID+KEY`, one a line; from
        /// `note-keygen`): the checkpoint must be signed by them. Repeat for
        /// more keys.
        #[arg(long, value_name = "V", requires = "checkpoint")]
        note_verifier: Vec<PathBuf>,
        /// How many of the --note-verifier keys must have signed (default: all).
        #[arg(long, value_name = "N", requires = "note_verifier")]
        quorum: Option<usize>,
        /// Threads for a log file (default: 2 when the machine has two cores
        /// or more; 1 verifies on one). Standard input is read on one.
        #[arg(long, value_name = "N")]
        threads: Option<usize>,
        /// The log file, or `-` for standard input.
        file: PathBuf,
    },
    /// Print a compact-encoded log's frames as text lines (or JSON lines with
    /// --json), one per record or sync record; damaged frames are marked. It
    /// does not verify: run `verify` for that (defmt records print as hex).
    /// With --elf: defmt records decoded with the firmware's ELF, each line
    /// with its verification status (ok, unverified, FAILED, unchecked), and
    /// the exit code of `verify`.
    Decode {
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
        /// The firmware's ELF (with its `.defmt` table): decode defmt
        /// records to text, and verify.
        #[arg(long, value_name = "ELF")]
        elf: Option<PathBuf>,
        /// The compact log (a capture).
        file: PathBuf,
    },
    /// Print `SEQ HASH` of the last record, reading only the end of FILE
    /// (`-` as SEQ for a record written without one).
    Head {
        /// The log file.
        file: PathBuf,
    },
    /// Print the checkpoint of FILE: a C2SP tlog-checkpoint note (origin,
    /// size, root of the Merkle tree of its records), signed by each SIGNER
    /// given. Keep it elsewhere; pass it to `verify --checkpoint`, `prove`,
    /// `check-proof` later. The tree's hashes are kept in FILE.tree.
    Checkpoint {
        /// Sign the checkpoint with this note signer key (from
        /// `note-keygen`); repeat for more signatures.
        #[arg(long, value_name = "SIGNER", conflicts_with = "head")]
        sign: Vec<PathBuf>,
        /// The origin line (default `immutable-log/tree/<hex of record 0's hash>`).
        #[arg(long, value_name = "ORIGIN", conflicts_with = "head")]
        origin: Option<String>,
        /// Print a head checkpoint instead (the format before the tree:
        /// origin, size, the head record's hash), reading only the tail.
        #[arg(long)]
        head: bool,
        /// The log file.
        file: PathBuf,
    },
    /// Create an Ed25519 note key pair named NAME, in the text formats of
    /// Go's golang.org/x/mod/sumdb/note: SIGNER (`PRIVATE+KEY+NAME+ID+KEY`,
    /// secret) and VERIFIER (`NAME+ID+KEY`). Both mode 600; existing files
    /// are not overwritten.
    NoteKeygen {
        /// The key name (e.g. `example.com/app-log`): no space, no `+`.
        name: String,
        /// Where to write the signer key.
        signer: PathBuf,
        /// Where to write the verifier key.
        verifier: PathBuf,
        /// A witness's cosigner key (C2SP tlog-cosignature, type 0x04).
        #[arg(long)]
        cosigner: bool,
    },
    /// Print a proof from FILE's tree: with --record, the inclusion proof of
    /// record N in the tree of CP's size (C2SP tlog-proof text); with
    /// --consistency, the proof that OLD_CP's tree is a prefix of CP's (the
    /// body of a C2SP tlog-witness add-checkpoint request). Each checkpoint
    /// must be this log's (its root is the log's at its size).
    Prove {
        /// The record (0-based) to prove.
        #[arg(long, value_name = "N", required_unless_present = "consistency")]
        #[arg(conflicts_with = "consistency")]
        record: Option<u64>,
        /// The older checkpoint to prove consistency from.
        #[arg(long, value_name = "OLD_CP")]
        consistency: Option<PathBuf>,
        /// The checkpoint (the newer one, with --consistency).
        #[arg(long, value_name = "CP")]
        checkpoint: PathBuf,
        /// JSON in Certificate Transparency's names instead.
        #[arg(long)]
        json: bool,
        /// The log file.
        file: PathBuf,
    },
    /// Check a proof without the log: with --record, that the record in
    /// REC (its two lines) is in the checkpoint's tree; with --consistency,
    /// that OLD_CP's tree is a prefix of the newer checkpoint's. The
    /// checkpoint comes with the proof (from `prove`) or from --checkpoint.
    CheckProof {
        /// A file with the record's two lines.
        #[arg(long, value_name = "REC", required_unless_present = "consistency")]
        #[arg(conflicts_with = "consistency")]
        record: Option<PathBuf>,
        /// The older checkpoint.
        #[arg(long, value_name = "OLD_CP")]
        consistency: Option<PathBuf>,
        /// The proof: `prove`'s output (text or --json).
        #[arg(long, value_name = "P")]
        proof: PathBuf,
        /// The checkpoint (needed with a --json proof).
        #[arg(long, value_name = "CP")]
        checkpoint: Option<PathBuf>,
        /// A file of note verifier keys that must have signed the
        /// checkpoint(s); repeat for more.
        #[arg(long, value_name = "V")]
        note_verifier: Vec<PathBuf>,
        /// How many of the --note-verifier keys must have signed (default: all).
        #[arg(long, value_name = "N", requires = "note_verifier")]
        quorum: Option<usize>,
    },
    /// As a witness: check a checkpoint (REQUEST: the body of an
    /// add-checkpoint request from `prove --consistency`, or a checkpoint
    /// alone the first time) against the log's keys and the last checkpoint
    /// this witness cosigned, and print a C2SP cosignature line to append
    /// to the checkpoint.
    Cosign {
        /// The witness's cosigner key (from `note-keygen --cosigner`).
        #[arg(long, value_name = "SIGNER")]
        signer: PathBuf,
        /// The log's note verifier key file(s): one must have signed.
        #[arg(long, value_name = "V", required = true)]
        note_verifier: Vec<PathBuf>,
        /// The last checkpoint this witness cosigned for the log.
        #[arg(long, value_name = "OLD_CP")]
        old: Option<PathBuf>,
        /// The cosignature's time, POSIX seconds (default: now).
        #[arg(long, value_name = "SECS")]
        time: Option<u64>,
        /// The request body, or a checkpoint.
        request: PathBuf,
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

/// Parses a level name with [`Level::from_name`].
fn parse_level(name: &str) -> Result<Level, String> {
    Level::from_name(name).ok_or_else(|| {
        format!("expected trace, debug, info, warning (or warn), error or critical, got {name:?}")
    })
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
fn run<I, T>(args: I) -> ExitCode
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
            format,
            max_size,
            max_age,
            keep,
            compress,
        } => write::run(
            &file,
            &write::Args {
                level,
                durability,
                seal_key,
                format,
                max_size,
                max_age,
                keep,
                compress,
            },
        ),
        Command::Verify {
            set: true,
            verify_key,
            file,
            ..
        } => verify::run_set(&file, verify_key.as_deref()),
        Command::Verify {
            json,
            ring: true,
            file,
            ..
        } => ring::run(&file, json),
        Command::Verify {
            json,
            expect_head,
            allow_segment,
            verify_key,
            checkpoint,
            ring: false,
            note_verifier,
            quorum,
            threads,
            file,
            ..
        } => verify::run(
            &file,
            json,
            verify::Checks {
                expect_head,
                allow_segment,
                verify_key,
                checkpoint,
                note_verifiers: note_verifier,
                quorum,
                threads,
            },
        ),
        Command::Decode { json, elf, file } => compact::decode(&file, json, elf.as_deref()),
        Command::Head { file } => head(&file),
        Command::Checkpoint {
            head: true, file, ..
        } => checkpoint(&file),
        Command::Checkpoint {
            sign, origin, file, ..
        } => prove::checkpoint(&file, &sign, origin.as_deref()),
        Command::NoteKeygen {
            name,
            signer,
            verifier,
            cosigner,
        } => note::keygen(&name, &signer, &verifier, cosigner),
        Command::Prove {
            record: Some(index),
            checkpoint,
            json,
            file,
            ..
        } => prove::prove_record(&file, index, &checkpoint, json),
        Command::Prove {
            consistency: Some(old),
            checkpoint,
            json,
            file,
            ..
        } => prove::prove_consistency(&file, &old, &checkpoint, json),
        Command::Prove { .. } => Code::Usage,
        Command::CheckProof {
            record,
            consistency,
            proof,
            checkpoint,
            note_verifier,
            quorum,
        } => check_proof::run(&check_proof::Args {
            record,
            consistency,
            proof,
            checkpoint,
            note_verifiers: note_verifier,
            quorum,
        }),
        Command::Cosign {
            signer,
            note_verifier,
            old,
            time,
            request,
        } => note::cosign(&note::CosignArgs {
            signer,
            note_verifiers: note_verifier,
            old,
            time,
            request,
        }),
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

/// `immutable-log checkpoint --head FILE`.
fn checkpoint(file: &Path) -> Code {
    match read_checkpoint(file) {
        // The checkpoint's own text ends with LF.
        Ok(Some(cp)) => print(&cp.to_string().trim_end()),
        Ok(None) => no_result(
            file,
            "no checkpoint: the log holds no record, or its records carry no seq",
        ),
        Err(e) => failed(file, &e),
    }
}

/// `immutable-log head FILE`.
fn head(file: &Path) -> Code {
    match read_head(file) {
        Ok(Some(head)) => print(&head),
        Ok(None) => no_result(file, "the log holds no record"),
        Err(e) => failed(file, &e),
    }
}

/// `head` and `checkpoint` found nothing to print: a usage error (2),
/// unless the first record fails (1), as in a file that is not a log.
fn no_result(file: &Path, why: &str) -> Code {
    match first_record_failure(file) {
        Ok(Some(failure)) => {
            complain!("{}: {failure}", file.display());
            if not_a_log(&failure) {
                complain!("{}: {NotALog}", file.display());
            }
            Code::Integrity
        }
        // The file was read a moment ago; a failure now changes nothing.
        Ok(None) | Err(_) => {
            complain!("{}: {why}", file.display());
            Code::Usage
        }
    }
}

/// `head` and `checkpoint` failed: the error, and whether the file is a log
/// at all.
fn failed(file: &Path, error: &Error) -> Code {
    complain!("{error}");
    if error.is_integrity() {
        if let Ok(Some(failure)) = first_record_failure(file) {
            if not_a_log(&failure) {
                complain!("{}: {NotALog}", file.display());
            }
        }
    }
    code_of(error)
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
