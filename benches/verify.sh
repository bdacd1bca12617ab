#!/usr/bin/env bash
# Verify speed with the command, on big files (issue 13), each figure from one
# run of this script, the contenders interleaved, medians of RUNS:
#   1. our own format (`seq 1 N | immutable-log write`): `verify --threads 1`
#      and `verify` (two threads), and the limit (SHA-256 over the blocks
#      alone, in memory) through examples/verify_cost;
#   2. a seed-written log (the Python seed's record shape: spaces, \uXXXX
#      escapes, float timestamps, no seq): the seed's own verifier
#      (`verify_log_integrity`, tests/seed/seed_verify.py, which tests/seed_compat.rs runs too) against ours.
# Wall time, and CPU time (user+sys): on a shared machine a process may wait
# for a core, and its wall time says so.
#
#   bash benches/verify.sh            # RUNS=5 N=1000000 SEED_N=500000
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
N=${N:-1000000}
SEED_N=${SEED_N:-500000}
DIR=$(mktemp -d "${TMPDIR:-/tmp}/verify-bench.XXXXXX")
trap 'rm -rf "$DIR"' EXIT

cargo build --release --quiet --features cli --bin immutable-log --example verify_cost
BIN=$PWD/target/release/immutable-log
COST=$PWD/target/release/examples/verify_cost

cat > "$DIR/seed_write.py" <<'PY'
import hashlib, json, sys, time
n = int(sys.argv[1])
prev = "0" * 64
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for i in range(n):
        message = f"2026-11-26 10:15:42,123 - INFO - café naïve 中文 😀 message {i} with \"quotes\""
        block = {"prev_hash": prev, "message": message, "timestamp": time.time(), "levelno": 20}
        block_json = json.dumps(block, sort_keys=True)
        h = hashlib.sha256(block_json.encode("utf-8")).hexdigest()
        out.write(f"{prev}|{message}|{h}\n")
        out.write(f"BLOCK_DATA:{block_json}\n")
        prev = h
PY

seq 1 "$N" | "$BIN" write "$DIR/big.log" 2>/dev/null
python3 "$DIR/seed_write.py" "$SEED_N" "$DIR/seed.log"

# Runs "$@" once; appends "wall cpu" (seconds) to the file named by $OUT.
timed() {
  local t0 t1 c0 c1
  c0=$(awk '{print $14+$15+$16+$17}' /proc/$$/stat)
  t0=$(date +%s.%N)
  "$@" >/dev/null
  t1=$(date +%s.%N)
  c1=$(awk '{print $14+$15+$16+$17}' /proc/$$/stat)
  echo "$(echo "$t1 - $t0" | bc -l) $(echo "($c1 - $c0) / $(getconf CLK_TCK)" | bc -l)" >> "$OUT"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { awk -v c="$2" '{print $c}' "$DIR/$1" | median; }

echo "Load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$RUNS"); do
  OUT=$DIR/one timed "$BIN" verify --threads 1 "$DIR/big.log"
  OUT=$DIR/two timed "$BIN" verify "$DIR/big.log"
  OUT=$DIR/python timed python3 "$PWD/tests/seed/seed_verify.py" "$DIR/seed.log"
  OUT=$DIR/seed_two timed "$BIN" verify "$DIR/seed.log"
  OUT=$DIR/seed_one timed "$BIN" verify --threads 1 "$DIR/seed.log"
done
echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%s: %s records, %s bytes; %s: %s records, %s bytes; medians of %s interleaved runs (wall s / CPU s)\n' \
  big.log "$N" "$(stat -c %s "$DIR/big.log")" seed.log "$SEED_N" "$(stat -c %s "$DIR/seed.log")" "$RUNS"
for f in one two python seed_two seed_one; do
  printf '  %-9s %6.3f / %6.3f\n' "$f" "$(col $f 1)" "$(col $f 2)"
done
printf 'our format: 2 threads %.2fx the 1-thread rate (wall)\n' "$(echo "$(col one 1) / $(col two 1)" | bc -l)"
printf 'seed log: ours (2 threads) %.1fx the seed verifier (wall), %.1fx (CPU); 1 thread %.1fx (wall), %.1fx (CPU)\n' \
  "$(echo "$(col python 1) / $(col seed_two 1)" | bc -l)" "$(echo "$(col python 2) / $(col seed_two 2)" | bc -l)" \
  "$(echo "$(col python 1) / $(col seed_one 1)" | bc -l)" "$(echo "$(col python 2) / $(col seed_one 2)" | bc -l)"
echo "limit, through examples/verify_cost:"
"$COST" "$DIR/big.log" "$RUNS"
