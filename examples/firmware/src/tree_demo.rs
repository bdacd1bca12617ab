//! Feature `tree`: the device makes tree checkpoints. The core keeps the
//! Merkle tree's right edge as records are queued (`immutable-log/tree`:
//! `QueuedChain::with_tree`, `tree_head`), and the run writes two C2SP `tlog-checkpoint`
//! note bodies to host files through semihosting: `cp1.txt` after `main`'s
//! first records, `cp2.txt` at the end (every record of the UART capture).
//! They are not signed on the device: the host checks that its own root of
//! the capture equals each, then signs with `immutable-log checkpoint
//! --sign` (`.ci/firmware-ring-tree.sh`). Text format only.

#[cfg(feature = "compact")]
compile_error!("feature `tree` needs the text format: the tree's leaves are text records");

use core::fmt::{self, Write};

use immutable_log::ChainTree;

use crate::{board, host_file, LOG};

/// The tree of `LOG`'s records (zeros: in `.bss`).
pub static TREE: ChainTree = ChainTree::new();

/// A checkpoint body: origin (83 bytes), size, root (44), three LFs.
struct Text {
    buf: [u8; 160],
    len: usize,
}

impl Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        let dest = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
        dest.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Writes the checkpoint of every record queued so far to the host file
/// `name` (NUL-terminated); fails the run if there is none.
pub fn checkpoint(name: &str) {
    let Some(head) = LOG.tree_head() else {
        board::exit(false)
    };
    let mut text = Text {
        buf: [0; 160],
        len: 0,
    };
    if write!(text, "{}", head.checkpoint()).is_err()
        || host_file::write(name, &[&text.buf[..text.len]]).is_err()
    {
        board::exit(false);
    }
}
