//! Retention that never makes a deletion invisible: before removing a
//! rotated file (beyond the `N` newest, or older than `D`), the log states in
//! its chain what it removes — the file's name, its first `seq` and
//! `prev_hash`, its head — and syncs that. `verify --set` then reads "the
//! oldest files were pruned by policy" apart from "someone deleted a file":
//! the oldest file left must start right after a head a retention record
//! names.
//!
//! A crash after the statement and before the removal leaves a file that is
//! stated as removed but still there: the set still verifies, and the next
//! rotation states and removes it again.

use std::time::{Duration, SystemTime};

use super::rotate::write_record;
use super::rotated::{first_record, list, name_of, Rotated};
use super::rotation::Rotation;
use super::set_records::Removed;
use super::shared::{Shared, State};
use super::{Error, Step};
use crate::Head;

/// The policy's words in a retention record: `keep 3 files`, `keep 7 days`.
fn policy_text(policy: &Rotation) -> String {
    let mut parts = Vec::new();
    if let Some(n) = policy.keep_files {
        parts.push(format!("{n} {}", if n == 1 { "file" } else { "files" }));
    }
    if let Some(age) = policy.keep_for {
        parts.push(duration_text(age));
    }
    format!("keep {}", parts.join(", "))
}

/// `7 days`, `12 h`, `90 s`.
fn duration_text(age: Duration) -> String {
    let secs = age.as_secs();
    if secs > 0 && secs.is_multiple_of(86_400) {
        let days = secs / 86_400;
        format!("{days} {}", if days == 1 { "day" } else { "days" })
    } else if secs > 0 && secs.is_multiple_of(3600) {
        format!("{} h", secs / 3600)
    } else {
        format!("{secs} s")
    }
}

/// The rotated files the policy removes at `now`: the index of each in
/// `files` (newest first).
fn doomed(files: &[Rotated], policy: &Rotation, now: SystemTime) -> Vec<usize> {
    files
        .iter()
        .enumerate()
        .filter(|(i, file)| {
            let too_many = policy.keep_files.is_some_and(|keep| *i >= keep);
            let too_old = policy.keep_for.is_some_and(|keep| {
                std::fs::metadata(&file.path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|written| now.duration_since(written).ok())
                    .is_some_and(|age| age > keep)
            });
            too_many || too_old
        })
        .map(|(i, _)| i)
        .collect()
}

/// States and removes the rotated files the policy no longer keeps, oldest
/// first. A file whose records cannot be named (its first record, or the
/// one after it, unreadable) is left in place.
pub(crate) fn prune(
    shared: &Shared,
    state: &mut State,
    policy: &Rotation,
    now: SystemTime,
) -> Result<(), Error> {
    if policy.keep_files.is_none() && policy.keep_for.is_none() {
        return Ok(());
    }
    let log = shared.path.as_path();
    let fs = &*shared.fs;
    let files = list(log).map_err(|e| Error::io(log, Step::Prune, e))?;
    let text = policy_text(policy);
    let mut removals = Vec::new();
    for i in doomed(&files, policy, now).into_iter().rev() {
        let Some(file) = files.get(i) else { continue };
        // The file after it (newer) starts right after its head.
        let (newer, newer_gz) = match i.checked_sub(1).and_then(|j| files.get(j)) {
            Some(newer) => (newer.path.as_path(), newer.gz),
            None => (log, false),
        };
        let read = |path, gz| first_record(path, gz).map_err(|e| Error::io(path, Step::Prune, e));
        let (Some(own), Some(next)) = (read(&file.path, file.gz)?, read(newer, newer_gz)?) else {
            continue;
        };
        removals.push((
            file,
            Removed {
                policy: text.clone(),
                name: name_of(&file.path),
                first: own.seq,
                prev_hash: own.prev_hash,
                head: Head {
                    seq: next.seq.and_then(|s| s.checked_sub(1)),
                    hash: next.prev_hash,
                },
            },
        ));
    }
    if removals.is_empty() {
        return Ok(());
    }
    for (_, removed) in &removals {
        let file = &*state.file;
        write_record(
            fs,
            log,
            file,
            &mut state.appender,
            format_args!("{removed}"),
            now,
        )?;
    }
    fs.sync_data(&state.file)
        .map_err(|e| Error::io(log, Step::Sync, e))?;
    for (file, _) in &removals {
        fs.remove_file(&file.path)
            .map_err(|e| Error::io(&file.path, Step::Prune, e))?;
    }
    fs.sync_dir_of(log)
        .map_err(|e| Error::io(log, Step::Prune, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_reads_in_words() {
        let policy = Rotation::new().keep_files(3);
        assert_eq!(policy_text(&policy), "keep 3 files");
        let policy = Rotation::new()
            .keep_files(1)
            .keep_for(Duration::from_secs(7 * 86_400));
        assert_eq!(policy_text(&policy), "keep 1 file, 7 days");
        assert_eq!(duration_text(Duration::from_secs(7200)), "2 h");
        assert_eq!(duration_text(Duration::from_secs(90)), "90 s");
    }
}
