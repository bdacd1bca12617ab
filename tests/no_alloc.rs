//! The core allocates nothing: appending, verifying and resuming run with a
//! counting global allocator that must see zero allocations.
//!
//! A custom harness (`harness = false`), so no test-runner thread allocates
//! while we count.

use immutable_log::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

fn main() {
    // The counter itself works: a box is one allocation.
    assert_eq!(
        allocations_during(|| drop(std::hint::black_box(Box::new(7u64)))),
        1
    );
    let mut storage = vec![0u8; 1 << 20];
    let mut log_len = 0;
    let mut failed = 0;
    let mut check = |name: &str, n: usize| {
        if n == 0 {
            println!("no_alloc: {name}: 0 allocations");
        } else {
            println!("no_alloc: {name}: {n} allocations: FAILED");
            failed += 1;
        }
    };

    let n = allocations_during(|| {
        let mut sink: &mut [u8] = &mut storage;
        let chain: Chain<_, NoClock, 1024> = Chain::new(&mut sink, NoClock);
        for i in 0..1000 {
            chain
                .append(
                    Level::Info,
                    format_args!("message {i} with \"quotes\" and é\n"),
                )
                .unwrap();
        }
        chain.with_writer(|_| {
            let _ = chain.try_append(Level::Error, format_args!("busy"));
        });
        chain.append(Level::Info, format_args!("after")).unwrap();
        log_len = (1 << 20) - sink.len();
    });
    check("1000 appends through a Chain", n);

    let log = &storage[..log_len];
    let mut line = [0u8; 4096];
    let mut verdict = None;
    let n = allocations_during(|| {
        let mut v = Verifier::new(&mut line, Options::default());
        for chunk in log.chunks(777) {
            v.feed(chunk).unwrap();
        }
        verdict = Some(v.finish());
    });
    check("verifying 1001 records", n);

    let n = allocations_during(|| {
        let r = resume(&log[log.len() - 4096..], false).unwrap();
        assert_eq!(r.head.unwrap().seq, Some(1000));
    });
    check("resuming from the tail", n);

    assert!(matches!(verdict, Some(Verdict::Intact(r)) if r.records == 1001 && r.unlogged == 1));
    println!("{} passed, {failed} failed", 3 - failed);
    if failed > 0 {
        std::process::exit(1);
    }
}
