//! Helpers the fuzz targets and the seed generator share.

// Links the host implementation of the chain's critical sections.
use critical_section as _;
use immutable_log::{
    records, Draft, Key, Level, Options, Record, SealKey, Timestamp, Verdict, Verifier, VerifyKey,
    Writer,
};

/// The verifier's record limit in the fuzz targets: memory is bounded by
/// construction, this buffer and nothing else.
pub const LIMIT: usize = 4096;

/// A growable in-memory sink.
#[derive(Default, Debug)]
pub struct VecSink(pub Vec<u8>);

impl embedded_io::ErrorType for VecSink {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Write for VecSink {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The key the keyed seeds are written with, and the keyed targets verify with.
pub const KEY: [u8; 32] = [0x42; 32];

/// A verifier over `buf`: keyed when a key is given.
pub fn verifier<'b>(buf: &'b mut [u8], options: Options, key: Option<&VerifyKey>) -> Verifier<'b> {
    match key {
        Some(key) => Verifier::keyed(buf, options, key.clone()),
        None => Verifier::new(buf, options),
    }
}

/// Verifies `log` fed whole, in a buffer of `buf.len()` bytes.
pub fn verify_whole(
    buf: &mut [u8],
    options: Options,
    key: Option<&VerifyKey>,
    log: &[u8],
) -> Verdict {
    let mut v = verifier(buf, options, key);
    let _ = v.feed(log);
    v.finish()
}

/// Verifies `log` fed in pieces of the given sizes, cycled (a size of 0 counts as 1).
pub fn verify_chunked(
    buf: &mut [u8],
    options: Options,
    key: Option<&VerifyKey>,
    log: &[u8],
    sizes: &[usize],
) -> Verdict {
    let mut v = verifier(buf, options, key);
    let mut rest = log;
    let mut i = 0;
    while !rest.is_empty() {
        let size = sizes
            .get(i % sizes.len().max(1))
            .copied()
            .unwrap_or(1)
            .max(1);
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        if v.feed(piece).is_err() {
            break;
        }
        rest = tail;
        i += 1;
    }
    v.finish()
}

/// The verdict on `log`, asserting that it does not depend on the chunking:
/// whole, in pieces of `sizes`, and (for short logs) one byte at a time.
pub fn invariant(
    buf: &mut [u8],
    options: Options,
    key: Option<&VerifyKey>,
    log: &[u8],
    sizes: &[usize],
) -> Verdict {
    let whole = verify_whole(buf, options, key, log);
    let chunked = verify_chunked(buf, options, key, log, sizes);
    assert_eq!(
        whole, chunked,
        "chunking {sizes:?} changed the verdict, {options:?}"
    );
    if log.len() <= 2048 {
        let bytewise = verify_chunked(buf, options, key, log, &[1]);
        assert_eq!(
            whole, bytewise,
            "one byte at a time changed the verdict, {options:?}"
        );
    }
    whole
}

/// A verify target's input, `[h, s_1 .. s_k, log ..]`: `h & 7` is `k - 1`,
/// each `s_i` a chunk size (below 0x80: 1..=128 bytes; from 0x80: 64..=8192
/// bytes in steps of 64). Returns `h`, the sizes and the log.
pub fn split_header(data: &[u8]) -> Option<(u8, Vec<usize>, &[u8])> {
    let (&h, rest) = data.split_first()?;
    let k = usize::from(h & 7) + 1;
    if rest.len() < k {
        return None;
    }
    let (size_bytes, log) = rest.split_at(k);
    let sizes = size_bytes
        .iter()
        .map(|&b| {
            if b < 0x80 {
                usize::from(b) + 1
            } else {
                (usize::from(b & 0x7f) + 1) * 64
            }
        })
        .collect();
    Some((h, sizes, log))
}

/// Byte ranges of each record (both lines with their LFs) of a log of whole
/// records, read with the crate's reader: panics at a record it cannot read,
/// or at a torn tail.
pub fn record_spans(log: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut reader = records(log);
    let mut spans = Vec::new();
    let mut start = 0;
    while let Some(record) = reader.next() {
        record.unwrap_or_else(|fault| panic!("a record does not read: {fault}"));
        let end = log.len() - reader.remainder().len();
        spans.push(start..end);
        start = end;
    }
    assert_eq!(start, log.len(), "a torn tail");
    spans
}

/// A record's message, its escapes decoded by the crate's reader; serde_json
/// must read the same message from its block.
pub fn message(record: &Record) -> String {
    let ours: String = record
        .message()
        .collect::<Result<_, _>>()
        .expect("a message that was read decodes");
    let block: serde_json::Value =
        serde_json::from_slice(record.block_json()).expect("block is JSON to serde_json");
    assert_eq!(block["message"].as_str(), Some(ours.as_str()));
    ours
}

/// The message of every record of a log of whole records (see [`message`]).
pub fn messages(log: &[u8]) -> Vec<String> {
    let mut reader = records(log);
    let messages = reader
        .by_ref()
        .map(|record| message(&record.unwrap_or_else(|f| panic!("a record does not read: {f}"))))
        .collect();
    assert!(reader.remainder().is_empty(), "a torn tail");
    messages
}

/// Puts a torn tail back together from the messages of its recovery records,
/// checking each header (`offset`, `part i/n`, `bytes a..b of len`) on the way:
/// an error says which part is not a recovery message or does not line up.
pub fn reassemble(messages: &[String], offset: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let count = messages.len();
    let mut total = None;
    for (i, m) in messages.iter().enumerate() {
        let prefix = format!(
            "immutable-log: recovered torn tail at byte {offset}, part {}/{count}, bytes ",
            i + 1
        );
        let rest = m
            .strip_prefix(&prefix)
            .ok_or_else(|| format!("part {i}: bad header: {m:?}"))?;
        let (range, rest) = rest
            .split_once(" of ")
            .ok_or_else(|| format!("part {i}: no ' of ': {m:?}"))?;
        let (start, end) = range
            .split_once("..")
            .ok_or_else(|| format!("part {i}: no range: {m:?}"))?;
        let start: usize = start
            .parse()
            .map_err(|_| format!("part {i}: start {m:?}"))?;
        let end: usize = end.parse().map_err(|_| format!("part {i}: end {m:?}"))?;
        if start != out.len() || end < start {
            return Err(format!(
                "part {i}: range {start}..{end} after {} bytes",
                out.len()
            ));
        }
        let (len, payload) = rest
            .split_once(", ")
            .ok_or_else(|| format!("part {i}: no payload: {m:?}"))?;
        let len: usize = len.parse().map_err(|_| format!("part {i}: len {m:?}"))?;
        if *total.get_or_insert(len) != len || end > len {
            return Err(format!("part {i}: bytes {start}..{end} of {len}: {m:?}"));
        }
        let bytes = if let Some(text) = payload.strip_prefix("utf8: ") {
            text.as_bytes().to_vec()
        } else if let Some(hex) = payload.strip_prefix("hex: ") {
            if hex.len() % 2 != 0 {
                return Err(format!("part {i}: odd hex"));
            }
            (0..hex.len() / 2)
                .map(|k| u8::from_str_radix(&hex[2 * k..2 * k + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|_| format!("part {i}: bad hex"))?
        } else {
            return Err(format!("part {i}: neither utf8 nor hex: {m:?}"));
        };
        if bytes.len() != end - start {
            return Err(format!(
                "part {i}: {} bytes for range {start}..{end}",
                bytes.len()
            ));
        }
        out.extend_from_slice(&bytes);
    }
    if total.is_some_and(|t| t != out.len()) {
        return Err(format!("{} bytes, {total:?} announced", out.len()));
    }
    Ok(out)
}

/// The keyed log of the seeds: three messages written with `KEY`, and the
/// writer's key state before the first and after each append (the first
/// append writes the chain-start record, then its own).
pub fn keyed_log() -> (Vec<u8>, Vec<SealKey>) {
    let mut writer = Writer::sealed(VecSink::default(), None, SealKey::new(Key::from_bytes(KEY)));
    let mut states = vec![writer.seal().clone()];
    for (i, m) in [
        "keyed: boot",
        "keyed: sensor 3 = 21.5 C | ok",
        "keyed: caf\u{e9} \u{1f600} \u{1b}[0m",
    ]
    .iter()
    .enumerate()
    {
        let ts = Timestamp::new(1_764_146_337 + i as u64, 0);
        writer
            .append_draft(
                &mut Draft::<1024>::new(Level::Info, format_args!("{m}")),
                ts,
                0,
            )
            .expect("a Vec sink never fails");
        states.push(writer.seal().clone());
    }
    (writer.into_sink().0, states)
}
