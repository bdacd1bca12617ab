//! Benchmarks of the no_std core: append, the critical section, verify, resume.
//!
//! `cargo bench --bench core` (the core alone, no features; criterion prints
//! the median in the middle of each `time:` line).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use immutable_log::merkle::*;
use immutable_log::*;
use std::hint::black_box;

/// A sink that discards: measures the chain, not the I/O.
struct Null;
impl embedded_io::ErrorType for Null {
    type Error = core::convert::Infallible;
}
impl embedded_io::Write for Null {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

fn log_of(records: usize, message: &str) -> Vec<u8> {
    let mut out = vec![0u8; records * (message.len() * 2 + 400)];
    let mut sink: &mut [u8] = &mut out;
    let chain: Chain<_, NoClock, 8192> = Chain::new(&mut sink, NoClock);
    for i in 0..records {
        chain
            .append(Level::Info, format_args!("{message} {i}"))
            .unwrap();
    }
    let left = sink.len();
    out.truncate(out.len() - left);
    out
}

fn append(c: &mut Criterion) {
    let message = "2026-11-26 10:15:42,123 - INFO - user 42 logged in from 10.0.0.7";
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(1));
    let chain: Chain<Null, NoClock, 1024> = Chain::new(Null, NoClock);
    g.bench_function("chain, 60-byte message, null sink", |b| {
        b.iter(|| {
            chain
                .append(Level::Info, format_args!("{}", black_box(message)))
                .unwrap()
        })
    });
    // The critical section alone: the draft is formatted and its message
    // hashed before; only the tail is hashed and the record written.
    // A realistic tail: a 7-digit seq and a wall-clock timestamp, so the
    // tail hashed under the lock is as long as a host's (3 SHA-256 blocks
    // with the body's last partial one, for either message length).
    let now = Timestamp::new(1_764_146_337, 541_715);
    for len in [50usize, 5000] {
        let text = "m".repeat(len);
        let mut draft = Draft::<8192>::new(Level::Info, format_args!("{text}"));
        let mut writer = Writer::resume(
            Null,
            Some(Head {
                seq: Some(1_000_000),
                hash: Hash::GENESIS,
            }),
        );
        g.bench_with_input(BenchmarkId::new("critical section", len), &len, |b, _| {
            b.iter(|| writer.append_draft(&mut draft, now, 0).unwrap())
        });
        g.bench_with_input(
            BenchmarkId::new("format + hash outside the lock", len),
            &len,
            |b, _| b.iter(|| draft.reformat(Level::Info, format_args!("{}", black_box(&text)))),
        );
    }
    g.finish();
}

fn verify(c: &mut Criterion) {
    let log = log_of(
        20_000,
        "2026-11-26 10:15:42,123 - INFO - user logged in from 10.0.0.7",
    );
    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Bytes(log.len() as u64));
    let mut buf = vec![0u8; 64 * 1024];
    g.bench_function("20k records, whole slice", |b| {
        b.iter(|| {
            let mut v = Verifier::new(&mut buf, Options::default());
            v.feed(&log).unwrap();
            assert!(matches!(v.finish(), Verdict::Intact(_)));
        })
    });
    g.bench_function("20k records, 64 KiB chunks", |b| {
        b.iter(|| {
            let mut v = Verifier::new(&mut buf, Options::default());
            for chunk in log.chunks(64 * 1024) {
                v.feed(chunk).unwrap();
            }
            assert!(matches!(v.finish(), Verdict::Intact(_)));
        })
    });
    g.finish();
}

fn resume_tail(c: &mut Criterion) {
    let log = log_of(1000, "a record of ordinary length for the tail");
    let tail = &log[log.len() - 4096..];
    c.bench_function("resume from a 4 KiB tail", |b| {
        b.iter(|| resume(black_box(tail), false).unwrap())
    });
}

fn merkle(c: &mut Criterion) {
    let mut g = c.benchmark_group("merkle");
    g.throughput(Throughput::Elements(1));
    let digest = BlockHasher::hash(b"a record's block_json");
    let leaf = leaf_hash(&digest);
    // The right edge as a writer keeps it: one push per record, growing.
    let mut range = CompactRange::new();
    g.bench_function("CompactRange::push (leaf hash given)", |b| {
        b.iter(|| range.push(black_box(leaf)).unwrap())
    });
    let mut range = CompactRange::new();
    g.bench_function("CompactRange::push_record (leaf hash too)", |b| {
        b.iter(|| range.push_record(black_box(&digest)).unwrap())
    });
    // A root of a 1M-leaf edge (20 set bits at most, here 7).
    let mut range = CompactRange::new();
    for _ in 0..1_000_000 {
        range.push(leaf).unwrap();
    }
    g.bench_function("CompactRange::root, 1M leaves", |b| {
        b.iter(|| black_box(&range).root())
    });
    // Checking a proof: 20 hashes for a leaf of a 1M-leaf tree.
    let leaves: Vec<Hash> = (0..1u64 << 20)
        .map(|i| leaf_hash(&BlockHasher::hash(&i.to_le_bytes())))
        .collect();
    let size = leaves.len() as u64;
    let root = subtree_root(0, size, &leaves[..]).unwrap();
    let mut path = [Hash::GENESIS; MAX_INCLUSION_PROOF_LEN];
    let n = inclusion_proof(777_777, size, &leaves[..], &mut path).unwrap();
    g.bench_function("verify_inclusion, 2^20 leaves", |b| {
        b.iter(|| {
            verify_inclusion(
                777_777,
                size,
                &leaves[777_777],
                &path[..n],
                black_box(&root),
            )
            .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, append, verify, resume_tail, merkle);
criterion_main!(benches);
