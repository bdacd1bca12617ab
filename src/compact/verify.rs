//! The compact verifier: frames in, in one pass and a lent buffer; out, a
//! verdict that tells a changed record (failed) from lost frames (a gap:
//! incomplete, never intact).
//!
//! A frame that cannot be read, or a `seq` that skips, is a gap: the chain
//! state is unknown from there until the next sync record, which states it.
//! A record whose tag does not match, followed by records whose `seq`s run on
//! without a break up to that sync, was changed where it stands: a failure.
//!
//! (Long: one job, the compact verifier, whose frame reading, gap bookkeeping and keyed checks share one state machine.)

use core::fmt;

use heapless::Vec;

use crate::hash::Hash;
use crate::seal::{Key, VerifyKey};
use crate::verdict::MAX_SEGMENT_KEY_STEPS;

use super::chain::CompactHead;
use super::cobs::decode_in_place;
use super::state::{advance, message_digest, sync_digest, GENESIS_STATE};
use super::wire::{parse, Payload, RecordView, SyncView, KEYED_TAG, PLAIN_TAG};

/// Gaps a report lists one by one; more are counted.
pub const MAX_GAPS: usize = 8;

/// Records that could not be verified: lost or damaged frames, and the records
/// after them up to the next sync record.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Gap {
    /// The first `seq` not verified.
    pub first: u64,
    /// The last `seq` not verified.
    pub last: u64,
    /// How many `seq`s in the range had no readable frame at all.
    pub missing: u64,
}

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seq {}..={} not verified ({} with no readable frame)",
            self.first, self.last, self.missing
        )
    }
}

/// What was read of a compact log.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct CompactReport {
    /// Records verified.
    pub records: u64,
    /// Records present but not verifiable (inside a gap, or before the first
    /// sync of a segment).
    pub unverified: u64,
    /// Gaps found.
    pub gaps: u64,
    /// The first [`MAX_GAPS`] of them.
    pub gap_list: Vec<Gap, MAX_GAPS>,
    /// `seq`s with no readable frame, over all gaps.
    pub missing: u64,
    /// Frames that could not be read (COBS or layout).
    pub damaged_frames: u64,
    /// Sync records read.
    pub syncs: u64,
    /// The `seq` verification started at (0 from genesis; a segment's first sync).
    pub start: Option<u64>,
    /// The last verified record and the chain state after it.
    pub head: Option<CompactHead>,
    /// Records the writer reported lost (`unlogged`), summed over verified records.
    pub unlogged: u64,
    /// Verified records whose message was cut to fit.
    pub truncated: u64,
    /// The chain is keyed.
    pub keyed: bool,
}

/// The first failure: where, and what.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CompactFailure {
    /// 1-based frame number (empty frames not counted).
    pub frame: u64,
    /// Byte offset of the frame in the input.
    pub offset: u64,
    /// What is wrong.
    pub kind: CompactFailureKind,
}

/// What a compact log's failure is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum CompactFailureKind {
    /// The record's tag does not match, and the records after it follow on
    /// without a break: it was changed (or a record before it was).
    TagMismatch {
        /// The record's `seq`.
        seq: u64,
    },
    /// A `seq` lower than one already read: a record repeated or moved back.
    SeqOutOfOrder {
        /// The `seq` expected at least.
        expected: u64,
        /// The `seq` found.
        found: u64,
    },
    /// A sync record states another chain state than the records give.
    SyncMismatch {
        /// The sync's `next`.
        next: u64,
    },
    /// A keyed sync record's tag does not match: forged or changed.
    SyncTagMismatch {
        /// The sync's `next`.
        next: u64,
    },
    /// The log is keyed and no key was given.
    KeyRequired,
    /// A key was given but this frame is not keyed.
    NotKeyed,
    /// A keyed record or sync is further from genesis than the verifier
    /// derives keys for.
    KeyOutOfReach {
        /// Its `seq`.
        seq: u64,
    },
}

impl fmt::Display for CompactFailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompactFailureKind::TagMismatch { seq } => write!(
                f,
                "tag mismatch at seq {seq}: the record was changed (the records after it follow on)"
            ),
            CompactFailureKind::SeqOutOfOrder { expected, found } => {
                write!(
                    f,
                    "seq out of order: expected {expected} or later, found {found}"
                )
            }
            CompactFailureKind::SyncMismatch { next } => write!(
                f,
                "the sync record before seq {next} states another chain state than the records give"
            ),
            CompactFailureKind::SyncTagMismatch { next } => {
                write!(
                    f,
                    "the sync record before seq {next} has a wrong tag (forged or changed)"
                )
            }
            CompactFailureKind::KeyRequired => {
                f.write_str("the log is keyed: a verify key is required to check it")
            }
            CompactFailureKind::NotKeyed => {
                f.write_str("a key was given but the log (this frame) is not keyed")
            }
            CompactFailureKind::KeyOutOfReach { seq } => write!(
                f,
                "seq {seq} is beyond the {MAX_SEGMENT_KEY_STEPS} key derivations a verifier makes"
            ),
        }
    }
}

impl fmt::Display for CompactFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "frame {} (byte {}): {}",
            self.frame, self.offset, self.kind
        )
    }
}

impl core::error::Error for CompactFailure {}

/// A compact verifier's conclusion.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum CompactVerdict {
    /// Every record from the start verified; no gap.
    Intact(CompactReport),
    /// Every record read that could be checked verified, but there are gaps
    /// (lost or damaged frames, see the report): not intact.
    Incomplete(CompactReport),
    /// As intact or incomplete, but the input ends inside a frame (`offset`
    /// where it starts).
    Torn(CompactReport, u64),
    /// A record or sync fails.
    Failed(CompactReport, CompactFailure),
}

impl CompactVerdict {
    /// What was read.
    pub fn report(&self) -> &CompactReport {
        match self {
            CompactVerdict::Intact(r)
            | CompactVerdict::Incomplete(r)
            | CompactVerdict::Torn(r, _)
            | CompactVerdict::Failed(r, _) => r,
        }
    }
}

/// Where verification stands.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// The chain state before record `next` is known.
    Synced { state: [u8; 32], next: u64 },
    /// Lost since `from`: waiting for a sync.
    Lost {
        from: u64,
        /// The `seq` that would follow on from the frames seen.
        expect: u64,
        /// Records read since `from`.
        seen: u64,
        /// Every frame since `from` read, their `seq`s without a break.
        continuous: bool,
        /// It started with a tag mismatch (at `bad`), not a lost frame.
        bad: Option<(u64, u64)>,
        /// The highest `seq` read.
        max_seen: Option<u64>,
    },
    /// A segment before its first sync.
    Waiting,
}

/// The compact verifier: feed bytes in any chunking, then [`finish`](Self::finish).
#[derive(Debug)]
pub struct CompactVerifier<'b> {
    buf: &'b mut [u8],
    /// Bytes of the current frame in `buf`.
    len: usize,
    /// The current frame is longer than `buf`: skipped up to its zero.
    overlong: bool,
    /// Bytes consumed before the current frame.
    offset: u64,
    frame_start: u64,
    frames: u64,
    mode: Mode,
    key: Option<(VerifyKey, Option<(u64, Key)>)>,
    report: CompactReport,
    failure: Option<CompactFailure>,
}

/// Does this look like the compact encoding? A text log starts with 64 hex
/// digits and `|`, and holds no zero byte. A compact log is frames ended by
/// zeros, and most of the first ones are valid: more than half of the first
/// 8 complete frames in `prefix` must decode and parse (a capture may start
/// inside a frame; a gzip file, which has zeros too, does not pass).
pub fn looks_compact(prefix: &[u8]) -> bool {
    let text = prefix.len() >= 65
        && prefix.iter().take(64).all(|b| b.is_ascii_hexdigit())
        && prefix.get(64) == Some(&b'|');
    if text {
        return false;
    }
    // What follows the last zero is not a complete frame.
    let last = prefix.iter().rposition(|&b| b == 0);
    let complete = prefix.get(..last.unwrap_or(0)).unwrap_or_default();
    let pieces = complete.split(|&b| b == 0);
    let (mut frames, mut good) = (0, 0);
    let mut buf = [0u8; 320];
    for piece in pieces.filter(|p| !p.is_empty()).take(8) {
        frames += 1;
        let Some(frame) = buf.get_mut(..piece.len()) else {
            continue;
        };
        frame.copy_from_slice(piece);
        if let Ok(n) = decode_in_place(frame) {
            if parse(frame.get(..n).unwrap_or_default()).is_ok() {
                good += 1;
            }
        }
    }
    last.is_some() && good * 2 > frames
}

impl<'b> CompactVerifier<'b> {
    /// A verifier of a plain chain; `buf` bounds the longest frame (300
    /// bytes hold any this crate writes). `segment`: the log may start
    /// mid-chain (verification starts at its first sync record).
    pub fn new(buf: &'b mut [u8], segment: bool) -> Self {
        CompactVerifier {
            buf,
            len: 0,
            overlong: false,
            offset: 0,
            frame_start: 0,
            frames: 0,
            mode: if segment {
                Mode::Waiting
            } else {
                Mode::Synced {
                    state: GENESIS_STATE,
                    next: 0,
                }
            },
            key: None,
            report: CompactReport {
                start: (!segment).then_some(0),
                ..CompactReport::default()
            },
            failure: None,
        }
    }

    /// A verifier of a keyed chain, given its verify key `k(0)`.
    pub fn keyed(buf: &'b mut [u8], segment: bool, key: VerifyKey) -> Self {
        let mut v = Self::new(buf, segment);
        v.key = Some((key, None));
        v.report.keyed = true;
        v
    }

    /// What was read so far (records verified, syncs, gaps closed): a
    /// decoder that feeds one frame at a time reads each record's fate here.
    pub fn report(&self) -> &CompactReport {
        &self.report
    }

    /// Feeds more input. Stops at the first failure (returned, and in the verdict).
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), CompactFailure> {
        if let Some(f) = self.failure {
            return Err(f);
        }
        // A frame at a time: up to the next zero (memchr), copied whole.
        while !bytes.is_empty() {
            let zero = memchr::memchr(0, bytes);
            let piece = bytes.get(..zero.unwrap_or(bytes.len())).unwrap_or_default();
            let end = self.len + piece.len();
            match self.buf.get_mut(self.len..end) {
                Some(slot) if !self.overlong => {
                    slot.copy_from_slice(piece);
                    self.len = end;
                }
                _ => self.overlong = true,
            }
            self.offset += piece.len() as u64;
            let Some(zero) = zero else { break };
            self.end_frame();
            self.offset += 1;
            self.frame_start = self.offset;
            if let Some(f) = self.failure {
                return Err(f);
            }
            bytes = bytes.get(zero + 1..).unwrap_or_default();
        }
        Ok(())
    }

    /// The verdict.
    pub fn finish(mut self) -> CompactVerdict {
        if let Some(f) = self.failure {
            return CompactVerdict::Failed(self.report, f);
        }
        if let Mode::Lost {
            from,
            seen,
            continuous,
            bad,
            max_seen,
            ..
        } = self.mode
        {
            match bad {
                Some((frame, offset)) if continuous => {
                    let f = CompactFailure {
                        frame,
                        offset,
                        kind: CompactFailureKind::TagMismatch { seq: from },
                    };
                    return CompactVerdict::Failed(self.report, f);
                }
                _ => {
                    let last = max_seen.map_or(from, |m| m.max(from));
                    self.gap(from, last, seen);
                }
            }
        }
        let partial = self.len > 0 || self.overlong;
        let report = self.report;
        if partial {
            CompactVerdict::Torn(report, self.frame_start)
        } else if report.gaps > 0 || report.unverified > 0 {
            CompactVerdict::Incomplete(report)
        } else {
            CompactVerdict::Intact(report)
        }
    }

    fn fail(&mut self, kind: CompactFailureKind) {
        self.fail_at(self.frames, self.frame_start, kind);
    }

    fn fail_at(&mut self, frame: u64, offset: u64, kind: CompactFailureKind) {
        self.failure = Some(CompactFailure {
            frame,
            offset,
            kind,
        });
    }

    /// Records a gap of `first..=last` in which `seen` frames were read.
    fn gap(&mut self, first: u64, last: u64, seen: u64) {
        let span = last.saturating_sub(first).saturating_add(1);
        let missing = span.saturating_sub(seen);
        self.report.gaps += 1;
        self.report.missing = self.report.missing.saturating_add(missing);
        self.report.unverified = self.report.unverified.saturating_add(seen.min(span));
        let _ = self.report.gap_list.push(Gap {
            first,
            last,
            missing,
        });
    }

    /// A zero byte: the frame before it is complete.
    fn end_frame(&mut self) {
        let len = core::mem::take(&mut self.len);
        let overlong = core::mem::take(&mut self.overlong);
        if len == 0 && !overlong {
            return; // an empty frame: a leading or doubled zero
        }
        self.frames += 1;
        if overlong {
            return self.damaged();
        }
        // The buffer leaves `self` while the payload borrows it.
        let buf = core::mem::take(&mut self.buf);
        self.payload(buf.get_mut(..len));
        self.buf = buf;
    }

    /// Decodes, parses and checks one frame.
    fn payload(&mut self, frame: Option<&mut [u8]>) {
        let Some(frame) = frame else {
            return self.damaged();
        };
        let Ok(n) = decode_in_place(frame) else {
            return self.damaged();
        };
        let payload = frame.get(..n).unwrap_or_default();
        match parse(payload) {
            Ok(Payload::Record(r)) => {
                if self.keyed_ok(r.keyed()) {
                    self.record(&r);
                }
            }
            Ok(Payload::Sync(y)) => {
                if self.keyed_ok(y.keyed()) {
                    self.sync(&y);
                }
            }
            Err(_) => self.damaged(),
        }
    }

    /// Checks a frame's keyed bit against the verifier's key.
    fn keyed_ok(&mut self, keyed: bool) -> bool {
        match (keyed, self.key.is_some()) {
            (true, false) => self.fail(CompactFailureKind::KeyRequired),
            (false, true) => self.fail(CompactFailureKind::NotKeyed),
            _ => return true,
        }
        false
    }

    fn damaged(&mut self) {
        self.report.damaged_frames += 1;
        match &mut self.mode {
            Mode::Synced { next, .. } => {
                self.mode = Mode::Lost {
                    from: *next,
                    expect: *next,
                    seen: 0,
                    continuous: false,
                    bad: None,
                    max_seen: None,
                }
            }
            Mode::Lost { continuous, .. } => *continuous = false,
            Mode::Waiting => {}
        }
    }

    /// The key for `seq`, from the cursor or `k(0)`, within reach.
    fn key_for(&mut self, seq: u64) -> Result<Option<Key>, CompactFailureKind> {
        let Some((initial, cursor)) = &mut self.key else {
            return Ok(None);
        };
        let mut at = match cursor.take() {
            Some((s, key)) if s <= seq && seq - s <= MAX_SEGMENT_KEY_STEPS => (s, key),
            _ if seq <= MAX_SEGMENT_KEY_STEPS => (0, initial.initial().clone()),
            _ => return Err(CompactFailureKind::KeyOutOfReach { seq }),
        };
        while at.0 < seq {
            at = (at.0 + 1, at.1.evolve());
        }
        let key = at.1.clone();
        *cursor = Some(at);
        Ok(Some(key))
    }

    /// Does record `r`'s tag match after `state`? Returns the state after it.
    fn check_record(
        &mut self,
        state: &[u8; 32],
        r: &RecordView<'_>,
    ) -> Result<Option<[u8; 32]>, CompactFailureKind> {
        let digest = message_digest(r.head, r.bytes);
        let after = advance(state, &digest, r.seq, r.time_us, r.unlogged);
        let ok = match self.key_for(r.seq)? {
            Some(key) => {
                key.tag(&Hash::from_bytes(after))
                    .as_bytes()
                    .get(..KEYED_TAG)
                    == Some(r.tag)
            }
            None => after.get(..PLAIN_TAG) == Some(r.tag),
        };
        Ok(ok.then_some(after))
    }

    fn record(&mut self, r: &RecordView<'_>) {
        match self.mode {
            Mode::Synced { state, next } => {
                if r.seq < next {
                    return self.fail(CompactFailureKind::SeqOutOfOrder {
                        expected: next,
                        found: r.seq,
                    });
                }
                if r.seq > next {
                    self.mode = Mode::Lost {
                        from: next,
                        expect: r.seq.saturating_add(1),
                        seen: 1,
                        continuous: false,
                        bad: None,
                        max_seen: Some(r.seq),
                    };
                    return;
                }
                match self.check_record(&state, r) {
                    Err(kind) => self.fail(kind),
                    Ok(Some(after)) => self.verified(r, after),
                    Ok(None) => {
                        self.mode = Mode::Lost {
                            from: r.seq,
                            expect: r.seq.saturating_add(1),
                            seen: 1,
                            continuous: true,
                            bad: Some((self.frames, self.frame_start)),
                            max_seen: Some(r.seq),
                        }
                    }
                }
            }
            Mode::Lost {
                ref mut expect,
                ref mut seen,
                ref mut continuous,
                ref mut max_seen,
                ..
            } => {
                if r.seq != *expect {
                    *continuous = false;
                }
                *expect = r.seq.saturating_add(1);
                *seen += 1;
                *max_seen = Some(max_seen.map_or(r.seq, |m| m.max(r.seq)));
            }
            Mode::Waiting => {
                // A segment that starts at genesis verifies from there.
                if r.seq == 0 {
                    if let Ok(Some(after)) = self.check_record(&GENESIS_STATE, r) {
                        self.report.start = Some(0);
                        return self.verified(r, after);
                    }
                }
                self.report.unverified += 1;
            }
        }
    }

    fn verified(&mut self, r: &RecordView<'_>, after: [u8; 32]) {
        self.report.records += 1;
        self.report.unlogged = self.report.unlogged.saturating_add(r.unlogged);
        self.report.truncated += u64::from(r.truncated());
        self.report.head = Some(CompactHead {
            seq: r.seq,
            state: Hash::from_bytes(after),
        });
        self.mode = Mode::Synced {
            state: after,
            next: r.seq.saturating_add(1),
        };
    }

    fn sync(&mut self, y: &SyncView<'_>) {
        if self.key.is_some() {
            match self.key_for(y.next) {
                Err(kind) => return self.fail(kind),
                Ok(Some(key)) => {
                    let tag = key.tag(&sync_digest(y.next, &y.state));
                    if tag.as_bytes().get(..KEYED_TAG) != Some(y.tag) {
                        return self.fail(CompactFailureKind::SyncTagMismatch { next: y.next });
                    }
                }
                Ok(None) => {}
            }
        }
        self.report.syncs += 1;
        let adopt = Mode::Synced {
            state: y.state,
            next: y.next,
        };
        match self.mode {
            Mode::Synced { state, next } => {
                if y.next < next {
                    self.fail(CompactFailureKind::SeqOutOfOrder {
                        expected: next,
                        found: y.next,
                    });
                } else if y.next == next {
                    if y.state != state {
                        self.fail(CompactFailureKind::SyncMismatch { next });
                    }
                } else {
                    // Whole frames lost just before the sync.
                    self.gap(next, y.next - 1, 0);
                    self.mode = adopt;
                }
            }
            Mode::Lost {
                from,
                expect,
                seen,
                continuous,
                bad,
                ..
            } => {
                if let (Some((frame, offset)), true) = (bad, continuous && y.next == expect) {
                    return self.fail_at(
                        frame,
                        offset,
                        CompactFailureKind::TagMismatch { seq: from },
                    );
                }
                if y.next <= from {
                    return self.fail(CompactFailureKind::SeqOutOfOrder {
                        expected: from,
                        found: y.next,
                    });
                }
                self.gap(from, y.next - 1, seen);
                self.mode = adopt;
            }
            Mode::Waiting => {
                self.report.start = Some(y.next);
                self.mode = adopt;
            }
        }
    }
}
