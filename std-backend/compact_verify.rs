//! Verifying a compact log on a host: [`verify_compact_path`], the core's
//! [`CompactVerifier`] over the file in 64 KiB reads.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use super::verify::feed_reads;
use super::{Error, Step};
use crate::{CompactVerdict, CompactVerifier, VerifyKey};

/// The longest frame taken (this crate writes at most 256 bytes a frame):
/// a longer one is a damaged frame, never an allocation.
pub const MAX_COMPACT_FRAME: usize = 4096;

/// Verifies the compact log at `path` from genesis (`segment`: it may start
/// mid-chain, verified from its first sync record), in memory bounded by
/// [`MAX_COMPACT_FRAME`]. It takes no lock: a log being written may end torn.
pub fn verify_compact_path(path: impl AsRef<Path>, segment: bool) -> Result<CompactVerdict, Error> {
    verify_compact_path_keyed(path, segment, None)
}

/// [`verify_compact_path`] for a keyed chain, given its verify key `k(0)`.
pub fn verify_compact_path_keyed(
    path: impl AsRef<Path>,
    segment: bool,
    key: Option<VerifyKey>,
) -> Result<CompactVerdict, Error> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| Error::io(path, Step::Open, e))?;
    verify_compact_reader(file, segment, key).map_err(|e| Error::io(path, Step::Verify, e))
}

/// Verifies the compact log `reader` yields (see [`verify_compact_path`]).
pub fn verify_compact_reader(
    reader: impl Read,
    segment: bool,
    key: Option<VerifyKey>,
) -> io::Result<CompactVerdict> {
    let mut buf = vec![0u8; MAX_COMPACT_FRAME];
    let mut verifier = match key {
        Some(key) => CompactVerifier::keyed(&mut buf, segment, key),
        None => CompactVerifier::new(&mut buf, segment),
    };
    feed_reads(reader, |chunk| verifier.feed(chunk).is_ok())?;
    Ok(verifier.finish())
}
