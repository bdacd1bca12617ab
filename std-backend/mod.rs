//! The host side (`--features std`): a tamper-evident log file that many
//! threads write, continued across restarts, and verified in bounded memory.
//!
//! ```
//! use immutable_log::std_backend::{verify_path, Durability, LogFile};
//! use immutable_log::{Level, Options, Verdict};
//!
//! let path = std::env::temp_dir().join(format!("doc-{}.log", std::process::id()));
//! # let _ = std::fs::remove_file(&path);
//! let log = LogFile::options().durability(Durability::Flush).open(&path)?;
//! log.append(Level::Info, format_args!("Application started"))?;
//! let head = log.head();
//! log.close()?;
//!
//! // Reopening continues the chain, reading only the end of the file.
//! let log = LogFile::open(&path)?;
//! assert_eq!(log.head(), head);
//! log.append(Level::Warning, format_args!("Disk usage at {}%", 91))?;
//! log.close()?;
//!
//! match verify_path(&path, Options::default())? {
//!     Verdict::Intact(report) => assert_eq!(report.records, 2),
//!     other => panic!("{other:?}"),
//! }
//! # std::fs::remove_file(&path)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! | module | its one job |
//! | --- | --- |
//! | `file` | the handle of an open log: [`LogFile`] |
//! | `options` | how to open one: [`OpenOptions`], the steps of an open |
//! | `shared` | what the handle and its flusher share: the chain under its lock, group write and commit |
//! | `rotation` | when a log rotates and what it keeps: [`Rotation`] |
//! | `rotate` | rotation that keeps the chain: the steps of a rotation, finishing one a crash cut short |
//! | `retention` | removing rotated files by policy, stating each in the chain first |
//! | `rotated` | the files of a rotated set (`FILE.1`, `FILE.2.gz`, …), their first record and head |
//! | `set_records` | the records a set states about itself (rotated from, retention removed) |
//! | `key_store` | a keyed log's seal key file, kept in step with the log |
//! | `appender` | the chain under the lock: stage a record, hand it to the OS, undo a failed write |
//! | `tail` | read only the end of a log to continue it ([`read_head`]) |
//! | `torn` | recover a torn tail through a journal, so a crash during recovery loses nothing |
//! | `journal` | the torn-tail journal's format, and how it proves itself ([`JournalFault`]) |
//! | `recovery_fs` | the filesystem operations of recovery, behind a trait a test can fail at each step |
//! | `group_commit` | concurrent appenders share one `fdatasync` |
//! | `group_write` | concurrent appenders share one `write(2)`, outside the chain's lock |
//! | `keys` | key files of keyed chains: [`create_key_pair`], [`read_seal_key`] |
//! | `flusher` | the background flush of [`Durability::Buffered`] |
//! | `scratch` | a record buffer per thread, formatted outside the lock |
//! | `format` | message text: [`Format`], the seed's [`SeedFormat`] |
//! | `clock` | [`SystemClock`] |
//! | `durability` | [`Durability`] |
//! | `verify` | [`verify_reader`], [`verify_path`] |
//! | `parallel_verify` | the same verifier on two threads: SHA-256 computed ahead by a second one |
//! | `log_leaves` | a log's records as tree leaves, front to back from any record, checked and linked |
//! | `tree_edge` | the tree's right edge the writer keeps as it appends, in `<log>.edge` (`OpenOptions::keep_tree`) |
//! | `tree_file` | the log's Merkle tree in a crash-safe side file: roots and proofs in O(log n) reads ([`TreeFile`]) |
//! | `log_impl` | `log::Log` for [`LogFile`] |
//! | `verify_set` | a rotated set as one chain: [`verify_set`] |
//! | `log_impl` | the `log` facade: [`LogBuilder`], [`FilteredLog`] |
//! | `log_install` | installing one as the `log` crate's logger, closing it: [`LoggerHandle`] |
//! | `tracing_layer` | the `tracing` front end: `TracingLayer` (feature `tracing`) |
//! | `error` | [`Error`] |
//! | `cli` | the `immutable-log` command (feature `cli`) |

mod appender;
#[cfg(feature = "cli")]
#[cfg_attr(docsrs, doc(cfg(feature = "cli")))]
pub mod cli;
mod clock;
mod durability;
mod error;
mod file;
mod flusher;
mod format;
mod group_commit;
mod group_write;
mod journal;
mod key_store;
mod keys;
mod log_impl;
mod log_install;
mod log_leaves;
mod options;
mod parallel_verify;
#[doc(hidden)]
pub mod recovery_fs;
mod retention;
mod rotate;
mod rotated;
mod rotation;
mod scratch;
mod set_records;
mod shared;
mod tail;
mod torn;
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
mod tracing_layer;
mod tree_edge;
mod tree_file;
mod verify;
mod verify_set;

pub use clock::SystemClock;
pub use durability::{Durability, UnknownDurability};
pub use error::{Error, FileKind, JournalStep, Step};
pub use file::{LogFile, Recovered};
pub use format::{AscTime, Entry, Format, PlainFormat, SeedFormat, Zone};
pub use journal::{JournalFault, JournalField};
pub use keys::{
    create_key_pair, generate_key, read_seal_key, read_verify_key, store_seal_key, KeyFile, KeyLine,
};
pub use log_impl::{FilterError, FilteredLog, LogBuilder};
pub use log_install::{InstallError, LoggerHandle};
pub use options::OpenOptions;
pub use rotation::Rotation;
pub use tail::{read_checkpoint, read_head};
pub use torn::SetAside;
#[cfg(feature = "tracing")]
pub use tracing_layer::TracingLayer;
pub use tree_edge::{TreeUnknown, CATCH_UP_MAX, PERSIST_EVERY};
pub use tree_file::{
    stored_hash_count, stored_hash_index, tree_path, Rebuilt, StoreError, TreeError, TreeFile,
    TreeStep,
};
pub use verify::{
    verify_path, verify_path_keyed, verify_path_threads, verify_reader, verify_reader_keyed,
};
pub use verify_set::{
    set_files, verify_set, Pruned, SetFailure, SetFailureKind, SetFile, SetReport, SetVerdict,
};

/// The record buffer of [`LogFile`]: a `block_json` is at most this long, which
/// leaves [`message_capacity`](crate::message_capacity)`(RECORD_CAPACITY)`
/// bytes (JSON-escaped) for the message. A longer message is cut at a
/// character boundary, and its record says so (`"truncated":true`).
pub const RECORD_CAPACITY: usize = 64 * 1024;

/// The longest record (both lines) the host reads: [`verify_reader`]'s
/// buffer, and, twice over, how far back [`LogFile`] looks for the last record.
pub const MAX_RECORD: usize = 1024 * 1024;
