//! A queued chain keeps the tree's right edge as it appends (feature
//! `tree`): its tree head matches an independent RFC 6962 tree (ct-merkle)
//! over the drained records' digests, leaves in log order, a keyed chain's
//! chain-start record included by its digest, records lost to a full queue
//! not included, and a resumed chain gives no tree head.
#![cfg(feature = "tree")]

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use immutable_log::{
    BlockHasher, ChainTree, Hash, Key, Level, NoClock, Queue, QueuedChain, SealKey, TreeCheckpoint,
    TreeOrigin,
};
use sha2::Sha256;

/// Each record's `block_json` digest and the hash it states (the last field
/// of its display line; a plain record's is its digest).
fn leaves(log: &[u8]) -> Vec<(Hash, Hash)> {
    let lines: Vec<&[u8]> = log.split(|&b| b == b'\n').collect();
    lines
        .windows(2)
        .filter_map(|w| Some((w[0], w[1].strip_prefix(b"BLOCK_DATA:")?)))
        .map(|(display, block)| {
            let stated = Hash::from_hex(&display[display.len() - 64..]).unwrap();
            (BlockHasher::hash(block), stated)
        })
        .collect()
}

fn their_root(digests: impl Iterator<Item = Hash>) -> (Vec<u8>, u64) {
    let mut t = MemoryBackedTree::<Sha256, [u8; 32]>::new();
    for d in digests {
        t.push(*d.as_bytes());
    }
    (t.root().as_bytes().to_vec(), t.len())
}

fn drained<const Q: usize>(queue: &Queue<Q>) -> Vec<u8> {
    let mut out = Vec::<u8>::new();
    queue.drain(&mut out).unwrap();
    out
}

#[test]
fn the_tree_head_is_the_root_of_the_records_queued() {
    let queue = Queue::<4096>::new();
    let tree = ChainTree::new();
    let chain: QueuedChain<NoClock, 512, 4096> = QueuedChain::new(&queue, NoClock).with_tree(&tree);
    assert_eq!(chain.tree_head(), None);
    let mut log = Vec::new();
    for i in 0..37u32 {
        chain
            .append(Level::Info, format_args!("record {i}"))
            .unwrap();
        log.extend(drained(&queue));
        let head = chain.tree_head().unwrap();
        let records = leaves(&log);
        let (root, size) = their_root(records.iter().map(|(d, _)| *d));
        assert_eq!(
            (head.root.as_bytes().to_vec(), head.size),
            (root, size),
            "after {i}"
        );
        assert_eq!(head.origin, TreeOrigin::of(&records[0].1));
    }
    // The checkpoint text parses back as what the head says.
    let head = chain.tree_head().unwrap();
    let text = head.checkpoint().to_string();
    let cp = TreeCheckpoint::parse(text.as_bytes()).unwrap();
    assert_eq!(
        (cp.size, cp.root, cp.log_origin()),
        (37, head.root, Some(leaves(&log)[0].1))
    );
}

#[test]
fn records_lost_to_a_full_queue_are_not_leaves() {
    let queue = Queue::<1024>::new();
    let tree = ChainTree::new();
    let chain: QueuedChain<NoClock, 512, 1024> = QueuedChain::new(&queue, NoClock).with_tree(&tree);
    let mut lost = 0;
    for i in 0..10u32 {
        if chain
            .append(Level::Info, format_args!("no drain {i}"))
            .is_err()
        {
            lost += 1;
        }
    }
    assert!(lost > 0);
    let log = drained(&queue);
    let records = leaves(&log);
    let (root, size) = their_root(records.iter().map(|(d, _)| *d));
    let head = chain.tree_head().unwrap();
    assert_eq!((head.root.as_bytes().to_vec(), head.size), (root, size));
    assert_eq!(size, 10 - lost);
}

#[test]
fn a_keyed_chain_s_leaves_are_digests_and_its_start_record_is_leaf_0() {
    let queue = Queue::<4096>::new();
    let tree = ChainTree::new();
    let chain: QueuedChain<NoClock, 512, 4096, SealKey> = QueuedChain::sealed(
        &queue,
        NoClock,
        None,
        SealKey::new(Key::from_bytes([9; 32])),
    )
    .with_tree(&tree);
    let mut log = Vec::new();
    for i in 0..5u32 {
        chain
            .append(Level::Info, format_args!("keyed {i}"))
            .unwrap();
        log.extend(drained(&queue));
    }
    let records = leaves(&log);
    assert_eq!(records.len(), 6); // the chain-start record and 5
    assert_ne!(records[0].0, records[0].1); // a tag, not the digest
    let (root, size) = their_root(records.iter().map(|(d, _)| *d));
    let head = chain.tree_head().unwrap();
    assert_eq!((head.root.as_bytes().to_vec(), head.size), (root, size));
    // The origin names the log by what record 0 states (its tag).
    assert_eq!(head.origin, TreeOrigin::of(&records[0].1));
}

#[test]
fn a_chain_without_a_tree_or_resumed_after_records_has_no_tree_head() {
    let queue = Queue::<4096>::new();
    let plain: QueuedChain<NoClock, 512, 4096> = QueuedChain::new(&queue, NoClock);
    let head = plain.append(Level::Info, format_args!("first")).unwrap();
    assert_eq!(plain.tree_head(), None);
    // Resumed after record 0, with a new tree: its first leaf would be
    // record 1, so it gives no head, then or later.
    let tree = ChainTree::new();
    let resumed: QueuedChain<NoClock, 512, 4096> =
        QueuedChain::resume(&queue, NoClock, Some(head)).with_tree(&tree);
    resumed.append(Level::Info, format_args!("second")).unwrap();
    resumed.append(Level::Info, format_args!("third")).unwrap();
    assert_eq!(resumed.tree_head(), None);
}

#[test]
fn a_static_chain_with_its_tree_gives_checkpoints() {
    static QUEUE: Queue<2048> = Queue::new();
    static TREE: ChainTree = ChainTree::new();
    static LOG: QueuedChain<NoClock, 512, 2048> =
        QueuedChain::new(&QUEUE, NoClock).with_tree(&TREE);
    LOG.append(Level::Info, format_args!("one")).unwrap();
    LOG.append(Level::Info, format_args!("two")).unwrap();
    let log = drained(&QUEUE);
    let (root, size) = their_root(leaves(&log).iter().map(|(d, _)| *d));
    let head = LOG.tree_head().unwrap();
    assert_eq!((head.root.as_bytes().to_vec(), head.size), (root, size));
}
