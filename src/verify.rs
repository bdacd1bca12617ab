//! The verifier: reads a log front to back in one pass, in a fixed buffer, and
//! gives the verdicts of FORMAT.md ("Verification").
//!
//! Bytes may be fed in any chunking: one byte at a time gives the same verdict
//! as the whole log at once. Memory is the buffer the caller lends, which
//! bounds the longest record accepted (both lines, with their LFs).

use core::fmt;

use crate::hash::{BlockHasher, Hash, HexHash};
use crate::head::Head;
use crate::record::{self, Record, RecordFault};
use crate::scan::find_lf;
use crate::seal::{Key, VerifyKey};
use crate::verdict::{
    Failure, FailureKind, Options, Report, SegmentStart, Start, TornTail, Verdict,
    MAX_SEGMENT_KEY_STEPS,
};

/// Where a verifier gets SHA-256 of each `block_json`: computed on the spot
/// ([`Computed`]), or, on a host, from a thread that hashed it ahead
/// (`std_backend`'s parallel verifier). Whatever the source, the digest is
/// `BlockHasher::hash` of exactly these bytes.
pub(crate) trait Digests {
    /// SHA-256 of `block_json`, which stands in the input last fed.
    fn digest(&mut self, block_json: &[u8]) -> Hash;
}

/// Every digest computed where it is needed.
pub(crate) struct Computed;

impl Digests for Computed {
    #[inline]
    fn digest(&mut self, block_json: &[u8]) -> Hash {
        BlockHasher::hash(block_json)
    }
}

/// A keyed verification's key: the verify key until the first record says
/// where the chain is, then the key for the next record's `seq`.
#[derive(Debug)]
enum KeyCursor {
    Initial(VerifyKey),
    At { seq: u64, key: Key },
}

/// The verifier's state apart from its buffer.
#[derive(Debug)]
struct State {
    options: Options,
    key: Option<KeyCursor>,
    /// Complete lines consumed by complete records.
    lines: u64,
    /// Bytes consumed by complete records.
    offset: u64,
    /// The hash the next record must follow (`None`: any, at a segment start).
    expect_prev: Option<Hash>,
    /// The next record's `seq`, when known.
    expect_seq: Option<u64>,
    /// The hex text of `expect_prev` as the record before stated it.
    prev_text: Option<HexHash>,
    expected_head_seen: bool,
    report: Report,
    failure: Option<Failure>,
}

impl State {
    fn fail(&mut self, line: u64, kind: FailureKind) -> Failure {
        let failure = Failure {
            line,
            record: self.report.records,
            kind,
        };
        self.failure = Some(failure);
        failure
    }

    /// Checks the hash a record states: its digest in a plain chain, its tag
    /// under the record's own key in a keyed chain; then its display.
    fn check_seal(&mut self, parsed: &Record<'_>) -> Result<(), (u64, FailureKind)> {
        let first = self.lines + 1;
        let at_start = self.report.records == 0;
        let fault = |fault| (first, FailureKind::Record(fault));
        let Some(cursor) = &mut self.key else {
            if at_start && parsed.is_chain_start() {
                return Err((first, FailureKind::KeyRequired));
            }
            return parsed.check_stated(&parsed.digest()).map_err(fault);
        };
        if at_start && self.options.start == Start::Genesis && !parsed.is_chain_start() {
            return Err((first, FailureKind::NotKeyed));
        }
        let Some(seq) = parsed.seq() else {
            return Err((first, FailureKind::SeqMissing));
        };
        if let KeyCursor::Initial(verify) = cursor {
            // Where the chain (or segment) starts: derive that key once, for
            // the seq the options expect, or, in a segment, for the record's
            // own seq if it is within reach (each step is one SHA-256).
            let start = match self.expect_seq {
                Some(expected) if expected != seq => {
                    return Err((
                        first,
                        FailureKind::SeqOutOfOrder {
                            expected,
                            found: seq,
                        },
                    ));
                }
                Some(expected) => expected,
                None if seq > MAX_SEGMENT_KEY_STEPS => {
                    return Err((first, FailureKind::KeyOutOfReach { seq }));
                }
                None => seq,
            };
            let key = verify.key_at(start);
            *cursor = KeyCursor::At { seq: start, key };
        }
        let KeyCursor::At { seq: key_seq, key } = cursor else {
            return Err(fault(RecordFault::HashMismatch));
        };
        if *key_seq != seq {
            let kind = FailureKind::SeqOutOfOrder {
                expected: *key_seq,
                found: seq,
            };
            return Err((first, kind));
        }
        match parsed.check_stated(&key.tag(&parsed.digest())) {
            Err(RecordFault::HashMismatch) if parsed.is_chain_start() => {
                return Err((first, FailureKind::WrongKey))
            }
            // A segment whose first record states its plain digest: sealed
            // with no key at all, not with a wrong one.
            Err(RecordFault::HashMismatch)
                if at_start && parsed.check_stated(&parsed.digest()).is_ok() =>
            {
                return Err((first, FailureKind::NotKeyed))
            }
            result => result.map_err(fault)?,
        }
        // One derivation per record; the old key is erased.
        *key = key.evolve();
        *key_seq = seq.saturating_add(1);
        Ok(())
    }

    /// One complete record: `line1`, `line2` without their LFs.
    fn record(
        &mut self,
        line1: &[u8],
        line2: &[u8],
        digests: &mut impl Digests,
    ) -> Result<(), Failure> {
        let first = self.lines + 1;
        let fault = |fault| {
            let line = match fault {
                RecordFault::MissingBlockData
                | RecordFault::MalformedBlock(_)
                | RecordFault::MalformedPrevHash => first + 1,
                _ => first,
            };
            (line, FailureKind::Record(fault))
        };
        let known = self.prev_text.as_ref().zip(self.expect_prev);
        let checked = match Record::parse_digested(line1, line2, |b| digests.digest(b), known) {
            Ok(parsed) => self.check_seal(&parsed).map(|()| parsed),
            Err(e) => Err(fault(e)),
        };
        let checked = checked.map_err(|(line, kind)| self.fail(line, kind))?;
        match self.expect_prev {
            Some(expected) if expected != checked.prev_hash() => {
                let kind = if self.report.records == 0 && self.options.start == Start::Genesis {
                    FailureKind::NotAtGenesis {
                        prev_hash: checked.prev_hash(),
                    }
                } else {
                    FailureKind::PrevHashMismatch {
                        expected,
                        found: checked.prev_hash(),
                    }
                };
                return Err(self.fail(first, kind));
            }
            _ => {}
        }
        if let (Some(expected), Some(found)) = (self.expect_seq, checked.seq()) {
            if expected != found {
                return Err(self.fail(first, FailureKind::SeqOutOfOrder { expected, found }));
            }
        }
        if let Some(expected) = self.options.expect_origin {
            if checked.prev_hash() == Hash::GENESIS
                && self.report.records == 0
                && checked.hash() != expected
            {
                let kind = FailureKind::OriginMismatch {
                    expected,
                    found: checked.hash(),
                };
                return Err(self.fail(first, kind));
            }
        }
        let seq = checked.seq().or(self.expect_seq);
        if let Some(expected) = self.options.expect_head {
            if seq == Some(expected.seq) {
                if checked.hash() != expected.hash {
                    let kind = FailureKind::HeadMismatch {
                        expected,
                        found: checked.hash(),
                    };
                    return Err(self.fail(first, kind));
                }
                self.expected_head_seen = true;
            }
        }
        let report = &mut self.report;
        if report.start.is_none() {
            report.start = Some(SegmentStart {
                seq,
                prev_hash: checked.prev_hash(),
            });
        }
        report.records += 1;
        report.head = Some(Head {
            seq,
            hash: checked.hash(),
        });
        report.unlogged = report.unlogged.saturating_add(checked.unlogged());
        report.truncated += u64::from(checked.truncated());
        self.expect_prev = Some(checked.hash());
        // The line's last 64 bytes: the hash, as it stated it.
        self.prev_text = line1
            .get(line1.len().saturating_sub(64)..)
            .and_then(|text| HexHash::try_from(text).ok());
        self.expect_seq = seq.and_then(|s| s.checked_add(1));
        self.lines += 2;
        // Both lines and their LFs.
        self.offset += (line1.len() + line2.len() + 2) as u64;
        Ok(())
    }
}

/// A streaming verifier over a buffer the caller lends.
///
/// ```
/// use immutable_log::{Verifier, Verdict};
/// let log = b""; // an empty log is an intact chain of no records
/// let mut buf = [0u8; 1024];
/// let mut v = Verifier::new(&mut buf, Default::default());
/// v.feed(log).unwrap();
/// assert!(matches!(v.finish(), Verdict::Intact(r) if r.records == 0));
/// ```
pub struct Verifier<'b> {
    buf: &'b mut [u8],
    /// Bytes of the current partial record in `buf`.
    len: usize,
    /// End of the current record's first line in `buf` (index of its LF).
    line1_end: Option<usize>,
    state: State,
}

impl<'b> Verifier<'b> {
    /// A verifier using `buf` for the record being read; its length is the
    /// longest record accepted.
    pub fn new(buf: &'b mut [u8], options: Options) -> Self {
        Self::with_key_option(buf, options, None)
    }

    /// A verifier for a keyed chain, holding its initial key `k(0)`: each
    /// record is checked under its own key, derived one step per record. A
    /// log that is not keyed fails ([`FailureKind::NotKeyed`]).
    pub fn keyed(buf: &'b mut [u8], options: Options, key: VerifyKey) -> Self {
        Self::with_key_option(buf, options, Some(key))
    }

    fn with_key_option(buf: &'b mut [u8], options: Options, key: Option<VerifyKey>) -> Self {
        let (expect_prev, expect_seq) = match options.start {
            Start::Genesis => (Some(Hash::GENESIS), Some(0)),
            Start::Segment => (None, None),
            Start::After(head) => (Some(head.hash), head.seq.and_then(|s| s.checked_add(1))),
        };
        Verifier {
            buf,
            len: 0,
            line1_end: None,
            state: State {
                options,
                key: key.map(KeyCursor::Initial),
                lines: 0,
                offset: 0,
                expect_prev,
                expect_seq,
                prev_text: None,
                expected_head_seen: false,
                report: Report::default(),
                failure: None,
            },
        }
    }

    /// Feeds the next bytes of the log. Returns the first failure as soon as
    /// it is found; after it, every call returns it again.
    pub fn feed(&mut self, input: &[u8]) -> Result<(), Failure> {
        self.feed_with(input, &mut Computed)
    }

    /// [`feed`](Self::feed), with the digests of the blocks from `digests`.
    pub(crate) fn feed_with(
        &mut self,
        mut input: &[u8],
        digests: &mut impl Digests,
    ) -> Result<(), Failure> {
        if let Some(failure) = self.state.failure {
            return Err(failure);
        }
        let limit = self.buf.len();
        while !input.is_empty() {
            if self.len == 0 {
                // Whole records in the input are checked where they stand.
                if let Some(first_lf) = find_lf(input) {
                    let rest = input.get(first_lf + 1..).unwrap_or_default();
                    if let Some(second_lf) = find_lf(rest) {
                        let total = first_lf + 1 + second_lf + 1;
                        if total > limit {
                            let line = self.state.lines + if first_lf < limit { 2 } else { 1 };
                            return Err(self.state.fail(line, FailureKind::LineTooLong { limit }));
                        }
                        let line1 = input.get(..first_lf).unwrap_or_default();
                        let line2 = rest.get(..second_lf).unwrap_or_default();
                        self.state.record(line1, line2, digests)?;
                        input = rest.get(second_lf + 1..).unwrap_or_default();
                        continue;
                    }
                }
            }
            // Otherwise collect the record in the buffer, a line at a time.
            let take = find_lf(input).map_or(input.len(), |p| p + 1);
            let (piece, rest) = input.split_at(take);
            let Some(dest) = self.buf.get_mut(self.len..self.len + piece.len()) else {
                let line = self.state.lines + if self.line1_end.is_some() { 2 } else { 1 };
                return Err(self.state.fail(line, FailureKind::LineTooLong { limit }));
            };
            dest.copy_from_slice(piece);
            self.len += piece.len();
            input = rest;
            if piece.last() == Some(&b'\n') {
                match self.line1_end {
                    None => self.line1_end = Some(self.len - 1),
                    Some(end) => {
                        let line1 = self.buf.get(..end).unwrap_or_default();
                        let line2 = self.buf.get(end + 1..self.len - 1).unwrap_or_default();
                        let result = self.state.record(line1, line2, digests);
                        self.len = 0;
                        self.line1_end = None;
                        result?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The verdict on everything fed. A partial record at the end is a torn
    /// tail, unless it holds a complete first line that is not a display line.
    pub fn finish(&mut self) -> Verdict {
        let state = &mut self.state;
        if let Some(failure) = state.failure {
            return Verdict::Failed(state.report, failure);
        }
        let mut torn = None;
        if self.len > 0 {
            // A complete first line must be a display line; after it, or
            // instead of it, any bytes without an LF are what a crash leaves.
            let partial = self.buf.get(..self.len).unwrap_or_default();
            let line1 = self.line1_end.and_then(|end| partial.get(..end));
            let not_a_start = match line1 {
                Some(l) => record::split_display_line(l).is_none(),
                // A log with no record yet, whose bytes are no record's start.
                None => state.offset == 0 && !record::could_start_record(partial),
            };
            if not_a_start {
                // Not the start of the next record: not what a crash leaves.
                let kind = FailureKind::Record(RecordFault::MalformedDisplayLine);
                let failure = state.fail(state.lines + 1, kind);
                return Verdict::Failed(state.report, failure);
            }
            torn = Some(TornTail {
                line: state.lines + 1,
                offset: state.offset,
                len: self.len,
            });
        }
        if let Some(expected) = state.options.expect_head {
            if !state.expected_head_seen {
                let kind = FailureKind::EndsBeforeHead {
                    expected,
                    last: state.report.head,
                };
                let failure = state.fail(state.lines.max(1), kind);
                return Verdict::Failed(state.report, failure);
            }
        }
        match torn {
            Some(torn) => Verdict::Torn(state.report, torn),
            None => Verdict::Intact(state.report),
        }
    }
}

impl fmt::Debug for Verifier<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("limit", &self.buf.len())
            .field("buffered", &self.len)
            .field("report", &self.state.report)
            .finish_non_exhaustive()
    }
}

/// Verifies everything `reader` yields, reading through `chunk`.
pub fn verify_read<R: embedded_io::Read>(
    reader: &mut R,
    verifier: &mut Verifier<'_>,
    chunk: &mut [u8],
) -> Result<Verdict, R::Error> {
    loop {
        let n = reader.read(chunk)?;
        if n == 0 {
            return Ok(verifier.finish());
        }
        if verifier.feed(chunk.get(..n).unwrap_or_default()).is_err() {
            return Ok(verifier.finish());
        }
    }
}
