//! The host side: what `--features std` adds.
