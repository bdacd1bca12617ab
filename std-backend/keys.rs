//! Key files of keyed chains: the verify key (`k(0)`, kept offline) and the
//! seal key state (the writer's current key), both mode 600, the seal key
//! state replaced atomically each time the key moves on.
//!
//! ```text
//! immutable-log verify-key 1          immutable-log seal-key 1
//! key <64 hex>                        seq <next record's seq>
//!                                     key <64 hex>
//!                                     last <tag hex> <digest hex>   (after the first record)
//! ```
//!
//! A key file is written to a new temporary file in the same directory
//! (created exclusively, not through a symlink, mode 600 from the start),
//! synced, renamed over the old one, and the directory synced. Key hex is
//! encoded and decoded in constant time (`base16ct`) in buffers that are
//! zeroized when dropped.
//!
//! (Over 400 lines for its unit tests: the code is under 300.)

use std::fmt::{self, Write as _};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::recovery_fs::sync_dir_of;
use super::{Error, Step};
use crate::{Hash, Key, SealKey, SealedRecord, VerifyKey};

const VERIFY_HEADER: &[u8] = b"immutable-log verify-key 1";
const SEAL_HEADER: &[u8] = b"immutable-log seal-key 1";

/// The most of a key file read: a seal key state is under 300 bytes.
const KEY_FILE_LIMIT: u64 = 4096;

/// Attempts at a temporary name before giving up (each name is random).
const TEMP_ATTEMPTS: usize = 8;

/// Which of a keyed chain's two key files.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum KeyFile {
    /// The verify key, `k(0)` (`immutable-log verify-key 1`).
    Verify,
    /// The writer's seal key state (`immutable-log seal-key 1`).
    Seal,
}

impl fmt::Display for KeyFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyFile::Verify => "a verify key",
            KeyFile::Seal => "a seal key state",
        })
    }
}

/// A line of a key file after its header, by what it must hold.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum KeyLine {
    /// `seq <decimal number>`.
    Seq,
    /// `key <64 lowercase hex>`.
    Key,
    /// `last <64 lowercase hex> <64 lowercase hex>`.
    Last,
}

impl fmt::Display for KeyLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyLine::Seq => "seq <decimal number>",
            KeyLine::Key => "key <64 lowercase hex digits>",
            KeyLine::Last => "last <64 lowercase hex digits> <64 lowercase hex digits>",
        })
    }
}

/// A fresh random key from the operating system's random number generator
/// (`getrandom`).
pub fn generate_key() -> io::Result<Key> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut *bytes)?;
    Ok(Key::from_bytes(*bytes))
}

/// Creates a new keyed chain's two key files from one fresh key: `verify`
/// (to keep offline, for `verify --verify-key`) and `seal` (the writer's state
/// at seq 0). Neither file may exist yet ([`Error::KeyFileExists`]).
pub fn create_key_pair(verify: &Path, seal: &Path) -> Result<(), Error> {
    for path in [verify, seal] {
        // `symlink_metadata`: a dangling symlink is a file that exists.
        if fs::symlink_metadata(path).is_ok() {
            return Err(Error::KeyFileExists {
                path: path.to_path_buf(),
            });
        }
    }
    let key = generate_key().map_err(|e| Error::io(verify, Step::GenerateKey, e))?;
    store(verify, &verify_text(&VerifyKey::new(key.clone())))?;
    store_seal_key(seal, &SealKey::new(key))
}

/// The text of a verify key file, in a buffer zeroized on drop.
fn verify_text(key: &VerifyKey) -> Zeroizing<String> {
    let mut text = Zeroizing::new(String::with_capacity(128));
    text.push_str(header(VERIFY_HEADER));
    text.push_str("\nkey ");
    push_hex(&mut text, key.initial());
    text.push('\n');
    text
}

fn header(bytes: &'static [u8]) -> &'static str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// Appends the key's 64 hex digits (constant-time, through a zeroized buffer).
fn push_hex(text: &mut String, key: &Key) {
    let mut hex = Zeroizing::new([0u8; 64]);
    if let Ok(digits) = base16ct::lower::encode_str(key.as_bytes(), &mut *hex) {
        text.push_str(digits);
    }
}

/// Replaces the seal key state at `path` atomically (a new file, synced, then
/// renamed over the old one, and its directory synced), mode 600.
pub fn store_seal_key(path: &Path, key: &SealKey) -> Result<(), Error> {
    let mut text = Zeroizing::new(String::with_capacity(320));
    text.push_str(header(SEAL_HEADER));
    // Writing to a String cannot fail.
    let _ = write!(text, "\nseq {}\nkey ", key.seq());
    push_hex(&mut text, key.key());
    text.push('\n');
    if let Some(last) = key.last() {
        let _ = writeln!(text, "last {} {}", last.tag, last.digest);
    }
    store(path, &text)
}

/// Writes `text` to `path` through a new temporary file in the same
/// directory: created exclusively (`O_EXCL`: a file or symlink planted at
/// that name is never written through, and never becomes the key file),
/// without following symlinks, mode 600 from its creation; synced, renamed
/// over `path`, and the directory synced.
fn store(path: &Path, text: &str) -> Result<(), Error> {
    let fail = |e| Error::io(path, Step::StoreKey, e);
    let (tmp, mut file) = create_temp(path).map_err(fail)?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = written {
        // Best effort: the error is what matters.
        let _ = fs::remove_file(&tmp);
        return Err(fail(e));
    }
    sync_dir_of(path).map_err(fail)
}

/// Creates `.<name>.tmp<pid>.<random>` next to `path`, exclusively.
fn create_temp(path: &Path) -> io::Result<(PathBuf, File)> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("key");
    let options = exclusive();
    let mut last_error = None;
    for _ in 0..TEMP_ATTEMPTS {
        let suffix = getrandom::u64()?;
        let mut tmp = PathBuf::from(path);
        tmp.set_file_name(format!(".{name}.tmp{}.{suffix:016x}", std::process::id()));
        match options.open(&tmp) {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::from(io::ErrorKind::AlreadyExists)))
}

/// Options that create a new file or fail: never an existing file, never
/// through a symlink, mode 600 from the start.
fn exclusive() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options
}

/// Reads a verify key file.
pub fn read_verify_key(path: &Path) -> Result<VerifyKey, Error> {
    let text = read(path)?;
    let mut lines = text.split(|&b| b == b'\n');
    match lines.next() {
        Some(VERIFY_HEADER) => {}
        Some(SEAL_HEADER) => {
            return Err(Error::WrongKeyFile {
                path: path.to_path_buf(),
                expected: KeyFile::Verify,
            })
        }
        _ => {
            return Err(Error::NotAKeyFile {
                path: path.to_path_buf(),
                expected: KeyFile::Verify,
            })
        }
    }
    let key = field(lines.next(), b"key")
        .and_then(parse_key)
        .ok_or_else(|| bad_line(path, 2, KeyLine::Key))?;
    Ok(VerifyKey::new(key))
}

/// Reads a seal key state file.
pub fn read_seal_key(path: &Path) -> Result<SealKey, Error> {
    let text = read(path)?;
    let mut lines = text.split(|&b| b == b'\n');
    match lines.next() {
        Some(SEAL_HEADER) => {}
        Some(VERIFY_HEADER) => {
            return Err(Error::WrongKeyFile {
                path: path.to_path_buf(),
                expected: KeyFile::Seal,
            })
        }
        _ => {
            return Err(Error::NotAKeyFile {
                path: path.to_path_buf(),
                expected: KeyFile::Seal,
            })
        }
    }
    let seq = field(lines.next(), b"seq")
        .and_then(|s| std::str::from_utf8(s).ok()?.parse().ok())
        .ok_or_else(|| bad_line(path, 2, KeyLine::Seq))?;
    let key = field(lines.next(), b"key")
        .and_then(parse_key)
        .ok_or_else(|| bad_line(path, 3, KeyLine::Key))?;
    let last = match lines.next() {
        None | Some(b"") => None,
        Some(line) => {
            let bad = || bad_line(path, 4, KeyLine::Last);
            let mut words = field(Some(line), b"last")
                .ok_or_else(bad)?
                .split(|&b| b == b' ');
            let mut hash = || words.next().and_then(Hash::from_hex);
            match (hash(), hash(), words.next()) {
                (Some(tag), Some(digest), None) => Some(SealedRecord { tag, digest }),
                _ => return Err(bad()),
            }
        }
    };
    Ok(SealKey::from_parts(seq, key, last))
}

fn bad_line(path: &Path, line: u32, expected: KeyLine) -> Error {
    Error::BadKeyLine {
        path: path.to_path_buf(),
        line,
        expected,
    }
}

/// The first [`KEY_FILE_LIMIT`] bytes of a key file, in a buffer zeroized
/// on drop.
fn read(path: &Path) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut text = Zeroizing::new(Vec::with_capacity(KEY_FILE_LIMIT as usize));
    File::open(path)
        .and_then(|f| f.take(KEY_FILE_LIMIT).read_to_end(&mut text))
        .map_err(|e| Error::io(path, Step::ReadKey, e))?;
    Ok(text)
}

fn field<'a>(line: Option<&'a [u8]>, name: &[u8]) -> Option<&'a [u8]> {
    line?.strip_prefix(name)?.strip_prefix(b" ")
}

/// A key from exactly 64 lowercase hex digits (constant-time).
fn parse_key(hex: &[u8]) -> Option<Key> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    match base16ct::lower::decode(hex, &mut *bytes) {
        Ok(decoded) if decoded.len() == 32 => Some(Key::from_bytes(*bytes)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_round_trip_with_mode_600_and_refuse_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let (v, s) = (dir.path().join("v.key"), dir.path().join("s.key"));
        create_key_pair(&v, &s).unwrap();
        let verify = read_verify_key(&v).unwrap();
        let seal = read_seal_key(&s).unwrap();
        assert_eq!(seal.seq(), 0);
        assert_eq!(seal.key(), verify.initial());
        #[cfg(unix)]
        for path in [&v, &s] {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", path.display());
        }
        assert!(matches!(
            create_key_pair(&v, &dir.path().join("other")),
            Err(Error::KeyFileExists { path }) if path == v
        ));
        assert!(
            read_verify_key(&s).is_err(),
            "a seal key is not a verify key"
        );
        let moved = SealKey::from_parts(
            9,
            Key::from_bytes([3; 32]),
            Some(SealedRecord {
                tag: Hash::from_bytes([1; 32]),
                digest: Hash::from_bytes([2; 32]),
            }),
        );
        store_seal_key(&s, &moved).unwrap();
        assert_eq!(read_seal_key(&s).unwrap(), moved);
        assert_ne!(generate_key().unwrap(), generate_key().unwrap());
        // Only the two key files: no temporary left behind.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn each_fault_of_a_key_file_is_its_own_error() {
        let dir = tempfile::tempdir().unwrap();
        let (v, s) = (dir.path().join("v.key"), dir.path().join("s.key"));
        create_key_pair(&v, &s).unwrap();
        let hex = "ab".repeat(32);
        let write = |text: &str| {
            let path = dir.path().join("k");
            fs::write(&path, text).unwrap();
            path
        };
        // The other kind of key file.
        assert!(matches!(
            read_verify_key(&s),
            Err(Error::WrongKeyFile {
                expected: KeyFile::Verify,
                ..
            })
        ));
        assert!(matches!(
            read_seal_key(&v),
            Err(Error::WrongKeyFile {
                expected: KeyFile::Seal,
                ..
            })
        ));
        // Not a key file at all.
        let passwd = write("root:x:0:0:root:/root:/bin/sh\n");
        assert!(matches!(
            read_seal_key(&passwd),
            Err(Error::NotAKeyFile {
                expected: KeyFile::Seal,
                ..
            })
        ));
        assert!(matches!(
            read_verify_key(&passwd),
            Err(Error::NotAKeyFile {
                expected: KeyFile::Verify,
                ..
            })
        ));
        // A bad line, named by its number and form.
        let bad = |text: &str, seal: bool| {
            let path = write(text);
            let e = if seal {
                read_seal_key(&path).unwrap_err()
            } else {
                read_verify_key(&path).unwrap_err()
            };
            match e {
                Error::BadKeyLine { line, expected, .. } => (line, expected),
                other => panic!("{other}"),
            }
        };
        assert_eq!(
            bad("immutable-log verify-key 1\nkey 12\n", false),
            (2, KeyLine::Key)
        );
        let upper = hex.to_uppercase();
        assert_eq!(
            bad(&format!("immutable-log verify-key 1\nkey {upper}\n"), false),
            (2, KeyLine::Key)
        );
        assert_eq!(
            bad(
                &format!("immutable-log seal-key 1\nseq x\nkey {hex}\n"),
                true
            ),
            (2, KeyLine::Seq)
        );
        assert_eq!(
            bad("immutable-log seal-key 1\nseq 3\n", true),
            (3, KeyLine::Key)
        );
        assert_eq!(
            bad(
                &format!("immutable-log seal-key 1\nseq 3\nkey {hex}\nlast {hex}\n"),
                true
            ),
            (4, KeyLine::Last)
        );
        let e = read_seal_key(&write("immutable-log seal-key 1\nseq 3\n")).unwrap_err();
        assert!(
            e.to_string().contains("line 3") && e.to_string().contains("key <64"),
            "{e}"
        );
    }

    /// A file or symlink planted at the temporary name a writer would use
    /// (`.NAME.tmp<pid>`, or any name next to the key) is never written
    /// through and never becomes the key file; the key file is mode 600.
    #[cfg(unix)]
    #[test]
    fn a_planted_temporary_file_or_symlink_is_not_used() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let s = dir.path().join("s.key");
        let pid = std::process::id();
        // The name the old code used, world-writable, and a symlink next to it.
        let planted = dir.path().join(format!(".s.key.tmp{pid}"));
        fs::write(&planted, "planted").unwrap();
        fs::set_permissions(&planted, fs::Permissions::from_mode(0o666)).unwrap();
        let target = dir.path().join("target");
        fs::write(&target, "target").unwrap();
        let link = dir.path().join(format!(".s.key.tmp{pid}.link"));
        symlink(&target, &link).unwrap();

        let key = SealKey::new(Key::from_bytes([5; 32]));
        store_seal_key(&s, &key).unwrap();
        assert_eq!(read_seal_key(&s).unwrap(), key);
        let meta = fs::symlink_metadata(&s).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        // The planted files are untouched, and still not the key.
        assert_eq!(fs::read(&planted).unwrap(), b"planted");
        assert_eq!(
            fs::metadata(&planted).unwrap().permissions().mode() & 0o777,
            0o666
        );
        assert_eq!(fs::read(&target).unwrap(), b"target");
    }

    /// A temporary created exclusively fails on a planted symlink instead of
    /// writing through it.
    #[cfg(unix)]
    #[test]
    fn the_temporary_is_never_opened_through_a_symlink() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::write(&target, "target").unwrap();
        let link = dir.path().join("link");
        symlink(&target, &link).unwrap();
        let err = exclusive().open(&link).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&target).unwrap(), b"target");
        // A dangling one too: nothing is created at its target.
        fs::remove_file(&target).unwrap();
        assert!(exclusive().open(&link).is_err());
        assert!(fs::symlink_metadata(&target).is_err());
    }
}
