//! `immutable-log write`: one record per line of standard input.

use std::io::{self, BufRead};
use std::path::Path;

use super::{code_of, Code};
use crate::std_backend::{Durability, LogFile, RECORD_CAPACITY};
use crate::{message_capacity, Level};

/// Bytes of a line kept: one more than a message can hold, so a longer line
/// still overflows the record and is marked `"truncated":true`, while a line
/// of any length (50 MB without an LF) costs bounded memory.
const LINE_LIMIT: usize = message_capacity(RECORD_CAPACITY) + 1;

pub(super) fn run(
    file: &Path,
    level: Level,
    durability: Durability,
    seal_key: Option<&Path>,
) -> Code {
    let mut options = LogFile::options();
    options.durability(durability);
    if let Some(seal_key) = seal_key {
        options.seal_key(seal_key);
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
    let mut input = io::stdin().lock();
    let mut line = Vec::new();
    loop {
        match read_line(&mut input, &mut line, LINE_LIMIT) {
            Ok(true) => {
                let text = String::from_utf8_lossy(&line);
                if let Err(e) = log.append(level, format_args!("{text}")) {
                    complain!("{e}");
                    return code_of(&e);
                }
            }
            Ok(false) => break,
            Err(e) => {
                complain!("cannot read standard input: {e}");
                // What was read so far is in the log; report the read error.
                let _ = log.close();
                return Code::Usage;
            }
        }
    }
    match log.close() {
        Ok(()) => Code::Success,
        Err(e) => {
            complain!("{e}");
            code_of(&e)
        }
    }
}

/// Reads the next line into `line`, without its LF, keeping at most `limit`
/// bytes of it and skipping the rest. False at the end of the input.
fn read_line(input: &mut impl BufRead, line: &mut Vec<u8>, limit: usize) -> io::Result<bool> {
    line.clear();
    let mut any = false;
    loop {
        let buf = match input.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(any);
        }
        any = true;
        let lf = buf.iter().position(|&b| b == b'\n');
        let take = lf.unwrap_or(buf.len());
        let room = limit.saturating_sub(line.len());
        line.extend_from_slice(buf.get(..take.min(room)).unwrap_or_default());
        input.consume(take + usize::from(lf.is_some()));
        if lf.is_some() {
            return Ok(true);
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
        while read_line(&mut input, &mut line, 6).unwrap() {
            lines.push(String::from_utf8(line.clone()).unwrap());
        }
        assert_eq!(lines, ["ab", "", "long l", "last"]);
    }
}
