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

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::{Error, Step};
use crate::{Hash, Key, SealKey, SealedRecord, VerifyKey};

const VERIFY_HEADER: &str = "immutable-log verify-key 1";
const SEAL_HEADER: &str = "immutable-log seal-key 1";

/// A fresh random key from the operating system (`/dev/urandom`).
pub fn generate_key() -> io::Result<Key> {
    let mut bytes = [0u8; 32];
    File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    let key = Key::from_bytes(bytes);
    bytes.fill(0);
    Ok(key)
}

/// Creates a new keyed chain's two key files from one fresh key: `verify`
/// (to keep offline, for `verify --verify-key`) and `seal` (the writer's state
/// at seq 0). Neither file may exist yet.
pub fn create_key_pair(verify: &Path, seal: &Path) -> Result<(), Error> {
    for path in [verify, seal] {
        if path.exists() {
            let e = io::Error::new(
                io::ErrorKind::AlreadyExists,
                "will not overwrite a key file",
            );
            return Err(Error::io(path, Step::StoreKey, e));
        }
    }
    let key = generate_key().map_err(|e| Error::io(verify, Step::StoreKey, e))?;
    store(verify, &verify_text(&VerifyKey::new(key.clone())))?;
    store_seal_key(seal, &SealKey::new(key))
}

fn verify_text(key: &VerifyKey) -> String {
    format!("{VERIFY_HEADER}\nkey {}\n", hex(key.initial()))
}

fn hex(key: &Key) -> String {
    Hash::from_bytes(*key.as_bytes()).to_string()
}

/// Replaces the seal key state at `path` atomically (a new file, synced, then
/// renamed over the old one), mode 600.
pub fn store_seal_key(path: &Path, key: &SealKey) -> Result<(), Error> {
    let mut text = format!("{SEAL_HEADER}\nseq {}\nkey {}\n", key.seq(), hex(key.key()));
    if let Some(last) = key.last() {
        text += &format!("last {} {}\n", last.tag, last.digest);
    }
    store(path, &text)
}

/// Writes `text` to `path` through a temporary file in the same directory.
fn store(path: &Path, text: &str) -> Result<(), Error> {
    let fail = |e| Error::io(path, Step::StoreKey, e);
    let mut tmp = PathBuf::from(path);
    tmp.set_file_name(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("key"),
        std::process::id()
    ));
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(text.as_bytes())?;
        file.sync_all()
    });
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        // Best effort: the error is what matters.
        let _ = fs::remove_file(&tmp);
        return Err(fail(e));
    }
    Ok(())
}

/// Reads a verify key file.
pub fn read_verify_key(path: &Path) -> Result<VerifyKey, Error> {
    let text = read(path)?;
    let bad = |why| Error::BadKeyFile {
        path: path.to_path_buf(),
        why,
    };
    let mut lines = text.lines();
    if lines.next() != Some(VERIFY_HEADER) {
        return Err(bad(if text.starts_with(SEAL_HEADER) {
            "this is a seal key state, not a verify key"
        } else {
            "not an immutable-log verify key file"
        }));
    }
    let key = field(lines.next(), "key")
        .and_then(parse_key)
        .ok_or(bad("bad key line"))?;
    Ok(VerifyKey::new(key))
}

/// Reads a seal key state file.
pub fn read_seal_key(path: &Path) -> Result<SealKey, Error> {
    let text = read(path)?;
    let bad = |why| Error::BadKeyFile {
        path: path.to_path_buf(),
        why,
    };
    let mut lines = text.lines();
    if lines.next() != Some(SEAL_HEADER) {
        return Err(bad("not an immutable-log seal key state file"));
    }
    let seq = field(lines.next(), "seq")
        .and_then(|s| s.parse().ok())
        .ok_or(bad("bad seq line"))?;
    let key = field(lines.next(), "key")
        .and_then(parse_key)
        .ok_or(bad("bad key line"))?;
    let last = match lines.next() {
        None => None,
        Some(line) => {
            let mut words = field(Some(line), "last")
                .ok_or(bad("bad last line"))?
                .split(' ');
            let mut hash = || words.next().and_then(|w| Hash::from_hex(w.as_bytes()));
            match (hash(), hash()) {
                (Some(tag), Some(digest)) => Some(SealedRecord { tag, digest }),
                _ => return Err(bad("bad last line")),
            }
        }
    };
    Ok(SealKey::from_parts(seq, key, last))
}

fn read(path: &Path) -> Result<String, Error> {
    let mut text = String::new();
    File::open(path)
        .and_then(|f| f.take(4096).read_to_string(&mut text))
        .map_err(|e| Error::io(path, Step::ReadKey, e))?;
    Ok(text)
}

fn field<'a>(line: Option<&'a str>, name: &str) -> Option<&'a str> {
    line?.strip_prefix(name)?.strip_prefix(' ')
}

fn parse_key(hex: &str) -> Option<Key> {
    Hash::from_hex(hex.as_bytes()).map(|h| Key::from_bytes(*h.as_bytes()))
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
        assert!(create_key_pair(&v, &dir.path().join("other")).is_err());
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
    }
}
