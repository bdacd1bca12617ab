//! Where a keyed log's seal key state lives, and how it follows the log.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::appender::Appender;
use super::keys::store_seal_key;
use super::{Error, Step};
use crate::SealKey;

/// The most a keyed log stages before handing records over: a key file left
/// behind by a crash is at most this (plus one record) behind the log, well
/// within the tail an open reads (`tail::TAIL_LIMIT`).
pub(crate) const KEYED_BATCH_LIMIT: usize = 512 * 1024;

/// Where a keyed log's seal key state lives (nowhere for a plain log).
pub(crate) struct KeyStore {
    path: Option<PathBuf>,
}

impl KeyStore {
    pub(crate) fn new(path: Option<PathBuf>) -> Self {
        KeyStore { path }
    }

    /// After records were handed to the OS: makes them durable, then replaces
    /// the key file with the evolved key state. The key file is never ahead
    /// of the durable log; if it falls behind (a crash between the two), the
    /// next open catches it up.
    ///
    /// A failure of either stops the appender ([`Error::Broken`] from then
    /// on): the records stay in the file, and reopening the log catches the
    /// key state up with them.
    pub(crate) fn keep(
        &self,
        file: &File,
        log: &Path,
        appender: &mut Appender,
    ) -> Result<(), Error> {
        let Some(key) = appender.seal() else {
            return Ok(());
        };
        self.follow(file, log, key).map_err(|(step, e)| {
            appender.set_broken(step);
            e
        })
    }

    /// Makes the records handed to the OS durable, then replaces the key
    /// file with `key`, the key state after the newest of them (a group
    /// write's batch: one key file replacement per batch, not per record).
    /// On failure, the step that failed: the caller stops the appender.
    pub(crate) fn follow(
        &self,
        file: &File,
        log: &Path,
        key: &SealKey,
    ) -> Result<(), (Step, Error)> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        match file.sync_data() {
            Ok(()) => store_seal_key(path, key).map_err(|e| (Step::StoreKey, e)),
            Err(e) => Err((Step::Sync, Error::io(log, Step::Sync, e))),
        }
    }
}
