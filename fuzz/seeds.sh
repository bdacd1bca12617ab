#!/usr/bin/env bash
# Regenerates the seed corpus, fuzz/corpus/<target>/seed-*: logs written by the
# crate (examples/seeds.rs) and one written the way the Python seed handler
# writes them (below). Run it when the format changes; the seeds are tracked.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# As ImmutableFileHandler.emit writes: json.dumps(block, sort_keys=True), the
# hash over that text, genesis prev_hash 64 x "0", no seq, a float timestamp,
# non-ASCII escaped in the block and raw in the display line.
python3 - "$tmp/python.log" <<'PY'
import hashlib, json, sys
messages = [
    (20, "2025-11-26 07:39:01,541 - INFO - Application started"),
    (10, "2025-11-26 07:39:01,542 - DEBUG - Debug information"),
    (30, "2025-11-26 07:39:01,790 - WARNING - caf\u00e9 \u2615 \U0001f600 | pipe"),
    (40, "2025-11-26 07:39:02,003 - ERROR - quote \" backslash \\ tab\there"),
    (50, "2025-11-26 07:39:02,250 - CRITICAL - last words"),
]
prev = "0" * 64
with open(sys.argv[1], "w", encoding="utf-8", newline="\n") as f:
    for i, (levelno, message) in enumerate(messages):
        block = {"levelno": levelno, "message": message, "prev_hash": prev,
                 "timestamp": 1764146341.541715 + i * 0.2487}
        block_json = json.dumps(block, sort_keys=True)
        h = hashlib.sha256(block_json.encode()).hexdigest()
        f.write(f"{prev}|{message}|{h}\n")
        f.write(f"BLOCK_DATA:{block_json}\n")
        prev = h
PY

rm -f corpus/*/seed-*
cargo run --quiet --example seeds -- "$tmp/python.log" corpus
ls -l corpus/*/seed-* | awk '{ n++; s += $5 } END { printf "%d seed files, %d bytes\n", n, s }'
