//! Verifying a log on a host: any reader, in bounded memory.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use super::parallel_verify::verify_reader_parallel;
use super::{Error, Step, MAX_RECORD};
use crate::{Options, Verdict, Verifier, VerifyKey};

/// Bytes read at a time.
const CHUNK: usize = 64 * 1024;

/// Verifies everything `reader` yields, front to back, with memory bounded by
/// [`MAX_RECORD`] (a longer record, or a 50 MB line without LF, is a
/// `LineTooLong` failure, never an allocation).
pub fn verify_reader(reader: impl Read, options: Options) -> io::Result<Verdict> {
    verify_reader_keyed(reader, options, None)
}

/// [`verify_reader`] for a keyed chain, given its verify key (`k(0)`); with
/// `None`, the same as [`verify_reader`].
pub fn verify_reader_keyed(
    reader: impl Read,
    options: Options,
    key: Option<VerifyKey>,
) -> io::Result<Verdict> {
    let mut buf = vec![0; MAX_RECORD];
    let mut verifier = match key {
        Some(key) => Verifier::keyed(&mut buf, options, key),
        None => Verifier::new(&mut buf, options),
    };
    feed_reads(reader, |chunk| verifier.feed(chunk).is_ok())?;
    Ok(verifier.finish())
}

/// Reads `reader` to its end, 64 KiB at a time, handing each read to
/// `feed` until it returns false (a verifier that found a failure: its
/// verdict holds it, and the rest need not be read).
pub(crate) fn feed_reads(
    mut reader: impl Read,
    mut feed: impl FnMut(&[u8]) -> bool,
) -> io::Result<()> {
    let mut chunk = vec![0; CHUNK];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if !feed(chunk.get(..n).unwrap_or_default()) {
            return Ok(());
        }
    }
}

/// Verifies the log at `path` (see [`verify_reader`]). It takes no lock: a
/// log being written may end in a torn tail.
///
/// On a machine with two cores or more it uses two threads (see
/// [`verify_path_threads`]): the same verdict, sooner.
pub fn verify_path(path: impl AsRef<Path>, options: Options) -> Result<Verdict, Error> {
    verify_path_keyed(path, options, None)
}

/// [`verify_path`] for a keyed chain, given its verify key.
pub fn verify_path_keyed(
    path: impl AsRef<Path>,
    options: Options,
    key: Option<VerifyKey>,
) -> Result<Verdict, Error> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    verify_path_threads(path, options, key, threads)
}

/// [`verify_path_keyed`] on at most `threads` threads (two are used at most:
/// 0 or 1 verifies on the calling thread alone). With two, the calling
/// thread runs the one sequential verifier over the file's batches of
/// 128 KiB, in order, while a second thread reads them, finds their records
/// and computes SHA-256 of them from the back: the verdict, failure and line
/// are the same as on one thread; memory is [`MAX_RECORD`] plus four
/// batches (512 KiB).
pub fn verify_path_threads(
    path: impl AsRef<Path>,
    options: Options,
    key: Option<VerifyKey>,
    threads: usize,
) -> Result<Verdict, Error> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| Error::io(path, Step::Open, e))?;
    let verdict = if threads >= 2 {
        verify_reader_parallel(file, options, key)
    } else {
        verify_reader_keyed(file, options, key)
    };
    verdict.map_err(|e| Error::io(path, Step::Verify, e))
}
