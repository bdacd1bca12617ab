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

# flash_ring: operation sequences (see the target's docs): appends, resets,
# power cuts mid-append and mid-repair, enough records to wrap the ring.
mkdir -p corpus/flash_ring
python3 - corpus/flash_ring <<'PY'
import os, sys
d = sys.argv[1]
def put(name, data):
    open(os.path.join(d, "seed-" + name), "wb").write(bytes(data))
msg = lambda n: [0, n] + [0x41 + (i % 26) for i in range(n)]
# Words of 4, erase 1 KiB: appends, a reset, appends.
put("appends", [1] + msg(40) + msg(200) + [1] + msg(90) + msg(0))
# A cut 150 operations on (mid-append), then more appends; and in a repair.
put("cut-append", [2] + msg(30) + [2, 150, 0, 0x40] + msg(120) + msg(120) + msg(10))
put("cut-repair", [4] + msg(60) + [2, 40, 0, 0] + msg(200) + [2, 3, 0, 0x7f] + [1] + msg(20))
# Words of 8, erase 4 KiB: 12 x 20 short records wrap the ring, with a cut.
put("wrap", [5] + [3] * 6 + [2, 200, 1, 0x30] + [3] * 6 + msg(30))
PY
ls -l corpus/*/seed-* | awk '{ n++; s += $5 } END { printf "%d seed files, %d bytes\n", n, s }'
