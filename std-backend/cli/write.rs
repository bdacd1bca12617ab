//! `immutable-log write`: one record per line of standard input, every byte
//! kept: a line that is not UTF-8 is written losslessly escaped (never
//! replaced), and lines cut to fit a record are counted and reported.
//!
//! (Over 450 lines with its unit tests; the command itself is under 420.)

use std::fmt::{self, Write as _};
use std::fs;
use std::io::{self, BufRead};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::{code_of, Code};
use crate::std_backend::{
    Durability, Entry, Format, LogFile, PlainFormat, Rotation, SeedFormat, RECORD_CAPACITY,
};
use crate::{message_capacity, Level};

/// Bytes of a line kept: one more than a message can hold, so a longer line
/// still overflows the record and is marked `"truncated":true`, while a line
/// of any length (50 MB without an LF) costs bounded memory.
const LINE_LIMIT: usize = message_capacity(RECORD_CAPACITY) + 1;

/// What begins the message part of a line that is not UTF-8; an LF and the
/// escaped line follow. A line never holds an LF, so no line reads like this.
pub(super) const NOT_UTF8: &str = "immutable-log: not UTF-8 (bytes as \\xNN, backslash as \\\\):";

/// Line numbers of lines that were not UTF-8 named at the end, at most.
const NAMED_LINES: usize = 10;

/// The message format of `write --format`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub(super) enum WriteFormat {
    /// `<local time> - <LEVEL> - <line>`, as the Python original writes it.
    Seed,
    /// The line alone.
    Plain,
}

/// Retention of `write --keep`: a number of files, or an age.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Keep {
    /// The N newest rotated files.
    Files(usize),
    /// The rotated files written within this time.
    For(Duration),
}

/// What `write` was asked, besides the file.
#[derive(Debug)]
pub(super) struct Args {
    pub(super) level: Level,
    pub(super) durability: Durability,
    pub(super) seal_key: Option<PathBuf>,
    pub(super) format: WriteFormat,
    pub(super) max_size: Option<u64>,
    pub(super) max_age: Option<Duration>,
    pub(super) keep: Option<Keep>,
    pub(super) compress: bool,
}

impl Args {
    /// The rotation asked for, if any.
    fn rotation(&self) -> Option<Rotation> {
        let mut rotation = Rotation::new().compress(self.compress);
        if let Some(bytes) = self.max_size {
            rotation = rotation.max_size(bytes);
        }
        if let Some(age) = self.max_age {
            rotation = rotation.max_age(age);
        }
        rotation = match self.keep {
            Some(Keep::Files(n)) => rotation.keep_files(n),
            Some(Keep::For(age)) => rotation.keep_for(age),
            None => rotation,
        };
        let asked = self.max_size.is_some()
            || self.max_age.is_some()
            || self.keep.is_some()
            || self.compress;
        asked.then_some(rotation)
    }
}

/// `--max-size`: bytes, with an optional K, M or G (powers of 1024).
pub(super) fn parse_size(text: &str) -> Result<u64, String> {
    let (digits, unit) = match text.trim().char_indices().last() {
        Some((at, c)) if c.is_ascii_alphabetic() => (text.trim().get(..at).unwrap_or(""), Some(c)),
        _ => (text.trim(), None),
    };
    let shift = match unit.map(|c| c.to_ascii_uppercase()) {
        None => 0,
        Some('K') => 10,
        Some('M') => 20,
        Some('G') => 30,
        Some(other) => return Err(format!("unknown size unit {other:?} (use K, M or G)")),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("expected a size in bytes such as 10M, got {text:?}"))
}

/// `--max-age`: `90s`, `30m`, `12h`, `7d`, or seconds.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last() {
        Some((at, c)) if c.is_ascii_alphabetic() => (text.get(..at).unwrap_or(""), Some(c)),
        _ => (text, None),
    };
    let scale = match unit {
        None | Some('s') => 1,
        Some('m') => 60,
        Some('h') => 3600,
        Some('d') => 86_400,
        Some(other) => return Err(format!("unknown time unit {other:?} (use s, m, h or d)")),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .filter(|&n| n > 0)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("expected a duration such as 30m or 7d, got {text:?}"))
}

/// `--keep`: a number of files, or a duration (`7d`).
pub(super) fn parse_keep(text: &str) -> Result<Keep, String> {
    if let Ok(n) = text.trim().parse::<usize>() {
        return Ok(Keep::Files(n));
    }
    parse_duration(text)
        .map(Keep::For)
        .map_err(|_| format!("expected a number of files (5) or a duration (7d), got {text:?}"))
}

pub(super) fn run(file: &Path, args: &Args) -> Code {
    if let Ok(meta) = fs::metadata(file) {
        if !meta.is_file() {
            complain!(
                "{}: not a regular file ({}): a log must be a regular file, or the \
                 records would not be kept",
                file.display(),
                file_kind(&meta)
            );
            return Code::Usage;
        }
    }
    let cut = Arc::new(AtomicU64::new(0));
    let mut options = LogFile::options();
    options.durability(args.durability).format(CountCuts {
        cut: Arc::clone(&cut),
        plain: args.format == WriteFormat::Plain,
    });
    if let Some(seal_key) = &args.seal_key {
        options.seal_key(seal_key);
    }
    if let Some(rotation) = args.rotation() {
        options.rotate(rotation);
    }
    let log = match options.open(file) {
        Ok(log) => log,
        Err(e) => {
            complain!("{e}");
            return code_of(&e);
        }
    };
    if let Some(recovered) = log.recovered() {
        complain!(
            "{}: a torn tail ({} bytes at byte {}) was kept in recovery records",
            file.display(),
            recovered.len,
            recovered.offset
        );
    }
    let mut tally = Tally::default();
    let code = append_lines(&log, args.level, &mut io::stdin().lock(), &mut tally);
    if let Some(e) = log.rotation_error() {
        complain!("{e} (the records stayed in the file being written)");
    }
    let head = log.head();
    // What was read so far is in the log, whatever stopped the loop.
    let code = match (log.close(), code) {
        (Ok(()), code) => code,
        (Err(e), Code::Success) => {
            complain!("{e}");
            code_of(&e)
        }
        (Err(_), code) => code,
    };
    tally.report(file, cut.load(Ordering::Relaxed));
    let head = head.map_or_else(|| "none (the log is empty)".to_string(), |h| h.to_string());
    complain!(
        "{}: {} written, head {head}",
        file.display(),
        records(tally.written)
    );
    code
}

/// `1 record`, `2 records`.
fn records(n: u64) -> String {
    if n == 1 {
        "1 record".to_string()
    } else {
        format!("{n} records")
    }
}

/// Appends one record per line of `input`.
fn append_lines(log: &LogFile, level: Level, input: &mut impl BufRead, tally: &mut Tally) -> Code {
    let mut line = Vec::new();
    let mut escaped = String::new();
    loop {
        let overflowed = match read_line(input, &mut line, LINE_LIMIT) {
            Ok(Some(overflowed)) => overflowed,
            Ok(None) => return Code::Success,
            Err(e) => {
                complain!("cannot read standard input: {e}");
                return Code::Usage;
            }
        };
        tally.lines += 1;
        if overflowed {
            drop_cut_character(&mut line);
        }
        let appended = match std::str::from_utf8(&line) {
            Ok(text) => log.append(level, format_args!("{text}")),
            Err(_) => {
                tally.not_utf8(tally.lines);
                escape_bytes(&line, &mut escaped);
                log.append(level, format_args!("{NOT_UTF8}\n{escaped}"))
            }
        };
        if let Err(e) = appended {
            complain!("{e}");
            return code_of(&e);
        }
        tally.written += 1;
    }
}

/// What `write` tells at the end besides errors.
#[derive(Default, Debug)]
struct Tally {
    /// Lines read.
    lines: u64,
    /// Records written.
    written: u64,
    /// Lines that were not UTF-8.
    not_utf8: u64,
    /// The first of them, by line number.
    named: Vec<u64>,
}

impl Tally {
    fn not_utf8(&mut self, line: u64) {
        self.not_utf8 += 1;
        if self.named.len() < NAMED_LINES {
            self.named.push(line);
        }
    }

    fn report(&self, file: &Path, cut: u64) {
        if self.not_utf8 > 0 {
            let mut named = String::new();
            for (i, line) in self.named.iter().enumerate() {
                let _ = write!(named, "{}{line}", if i == 0 { "" } else { ", " });
            }
            if self.not_utf8 > self.named.len() as u64 {
                named.push_str(", ...");
            }
            complain!(
                "{}: {} not UTF-8 ({} {named}), kept with \\xNN escapes after an \
                 `{NOT_UTF8}` line",
                file.display(),
                lines(self.not_utf8),
                if self.not_utf8 == 1 { "line" } else { "lines" }
            );
        }
        if cut > 0 {
            complain!(
                "{}: {} too long for a record, cut to fit (marked \"truncated\":true)",
                file.display(),
                lines(cut)
            );
        }
    }
}

/// `1 line was`, `2 lines were`.
fn lines(n: u64) -> String {
    if n == 1 {
        "1 line was".to_string()
    } else {
        format!("{n} lines were")
    }
}

/// The seed's format (or the plain one), counting the messages that were
/// cut to fit a record: the record's message writer stops a format that does
/// not fit with `fmt::Error`, and marks the record `"truncated":true`.
struct CountCuts {
    cut: Arc<AtomicU64>,
    plain: bool,
}

impl Format for CountCuts {
    fn format(&self, out: &mut fmt::Formatter<'_>, entry: &Entry<'_>) -> fmt::Result {
        let written = if self.plain {
            PlainFormat.format(out, entry)
        } else {
            SeedFormat::local().format(out, entry)
        };
        if written.is_err() {
            self.cut.fetch_add(1, Ordering::Relaxed);
        }
        written
    }
}

/// Writes `bytes` into `out` losslessly: valid UTF-8 as it is, except each
/// backslash doubled; each byte that is not part of valid UTF-8 as `\xNN`.
fn escape_bytes(bytes: &[u8], out: &mut String) {
    out.clear();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
}

/// Drops a character cut in two by the line limit (the end of a line that
/// was cut), so that a valid line does not read as invalid UTF-8.
fn drop_cut_character(line: &mut Vec<u8>) {
    let len = line.len();
    // The last byte that is not a continuation byte: a character's start.
    let Some(start) = (len.saturating_sub(4)..len)
        .rev()
        .find(|&i| line.get(i).is_some_and(|&b| b & 0xc0 != 0x80))
    else {
        return;
    };
    let needs = match line.get(start) {
        Some(&b) if b >= 0xf0 => 4,
        Some(&b) if b >= 0xe0 => 3,
        Some(&b) if b >= 0xc0 => 2,
        _ => 1,
    };
    if start + needs > len {
        line.truncate(start);
    }
}

/// What a path that is not a regular file is, for the message.
fn file_kind(meta: &fs::Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    "not a file"
}

/// Reads the next line into `line`, without its LF, keeping at most `limit`
/// bytes of it and skipping the rest. `None` at the end of the input;
/// otherwise whether the line was longer than `limit`.
fn read_line(
    input: &mut impl BufRead,
    line: &mut Vec<u8>,
    limit: usize,
) -> io::Result<Option<bool>> {
    line.clear();
    let mut any = false;
    let mut overflowed = false;
    loop {
        let buf = match input.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(any.then_some(overflowed));
        }
        any = true;
        let lf = buf.iter().position(|&b| b == b'\n');
        let take = lf.unwrap_or(buf.len());
        let room = limit.saturating_sub(line.len());
        overflowed |= take > room;
        line.extend_from_slice(buf.get(..take.min(room)).unwrap_or_default());
        input.consume(take + usize::from(lf.is_some()));
        if lf.is_some() {
            return Ok(Some(overflowed));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_at_lf_and_bounded() {
        let mut input = io::BufReader::with_capacity(4, &b"ab\n\nlong line\nlast"[..]);
        let mut line = Vec::new();
        let mut lines = Vec::new();
        while let Some(overflowed) = read_line(&mut input, &mut line, 6).unwrap() {
            lines.push((String::from_utf8(line.clone()).unwrap(), overflowed));
        }
        let expected = [
            ("ab", false),
            ("", false),
            ("long l", true),
            ("last", false),
        ];
        assert_eq!(lines, expected.map(|(l, o)| (l.to_string(), o)).to_vec());
    }

    /// The decoding the README describes.
    fn unescape(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let mut bytes = text.bytes();
        while let Some(b) = bytes.next() {
            if b != b'\\' {
                out.push(b);
                continue;
            }
            match bytes.next() {
                Some(b'\\') => out.push(b'\\'),
                Some(b'x') => {
                    let hex = [bytes.next().unwrap(), bytes.next().unwrap()];
                    let hex = std::str::from_utf8(&hex).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                }
                other => panic!("not an escape: {other:?}"),
            }
        }
        out
    }

    #[test]
    fn bytes_are_escaped_losslessly() {
        let mut out = String::new();
        escape_bytes(b"caf\xe9 \\x41 \xc3\xa9\xff", &mut out);
        assert_eq!(out, "caf\\xe9 \\\\x41 \u{e9}\\xff");
        assert_eq!(unescape(&out), b"caf\xe9 \\x41 \xc3\xa9\xff");
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_round_trip(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let mut out = String::new();
            escape_bytes(&bytes, &mut out);
            proptest::prop_assert_eq!(unescape(&out), bytes);
        }
    }

    #[test]
    fn a_character_cut_by_the_limit_is_dropped_a_whole_one_kept() {
        for (bytes, kept) in [
            (&b"ab\xe2\x82"[..], &b"ab"[..]),
            (b"ab\xe2\x82\xac", b"ab\xe2\x82\xac"),
            (b"ab\xf0", b"ab"),
            (b"abc", b"abc"),
            (b"", b""),
        ] {
            let mut line = bytes.to_vec();
            drop_cut_character(&mut line);
            assert_eq!(line, kept);
        }
    }
}
