#!/usr/bin/env bash
# Fuzzing (issue 6): a short, bounded run of each cargo-fuzz target in fuzz/
# (see fuzz/README.md), from the seed corpus (fuzz/corpus/<target>/seed-*) and
# the format's tokens (fuzz/fuzz.dict). Fails if any target finds a panic, a
# timeout (an input that takes over FUZZ_TIMEOUT seconds) or an out-of-memory
# (RSS over 256 MB). Run from anywhere; installs cargo-fuzz and the nightly
# toolchain if missing.
#
#   .ci/fuzz.sh                              # every target, FUZZ_SECS (25) seconds each
#   FUZZ_SECS=300 FUZZ_TARGETS=resume .ci/fuzz.sh
#
# A crash leaves its input in fuzz/artifacts/<target>/; reproduce it with
#   cargo +nightly fuzz run -a -s none <target> fuzz/artifacts/<target>/<file>
# Grown corpus files land in fuzz/corpus/<target>/ and are ignored by git.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${FUZZ_SECS:-20}
TIMEOUT=${FUZZ_TIMEOUT:-10}
TARGETS=${FUZZ_TARGETS:-"verify verify_keyed resume roundtrip checkpoint json_differential verify_small_stack flash_ring note proof"}
# Debug assertions on (overflow checks: an overflow is a panic, as in a debug
# build of the crate). No sanitizer: the core has no unsafe code, and without
# ASan the run is several times faster.
FLAGS=(--debug-assertions --sanitizer none)
start=$(date +%s)

step() { printf '\n=== %s\n' "$*"; }

step "toolchain and cargo-fuzz"
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  if ! rustup toolchain install nightly --profile minimal; then
    echo "SKIPPED: no nightly toolchain here and none could be installed; fuzzing not run"
    exit 0
  fi
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
cargo +nightly fuzz --version

step "build the fuzz targets"
cargo +nightly fuzz build "${FLAGS[@]}"

failed=()
for target in $TARGETS; do
  step "fuzz $target for ${SECS}s"
  # libFuzzer's progress lines for each new input are left out.
  set +e
  cargo +nightly fuzz run "${FLAGS[@]}" "$target" -- \
    -max_total_time="$SECS" -timeout="$TIMEOUT" -rss_limit_mb=256 -max_len=65536 \
    -dict="$PWD/fuzz/fuzz.dict" -print_final_stats=1 2>&1 | grep -vE '^#[0-9]+.*(NEW|REDUCE) '
  status=${PIPESTATUS[0]}
  set -e
  if [ "$status" -ne 0 ]; then
    failed+=("$target")
    echo "FAILED: $target; the input is in fuzz/artifacts/$target/:"
    ls -t "fuzz/artifacts/$target/" 2>/dev/null | head -3 | sed 's/^/  /'
  fi
done

step "fuzzing took $(($(date +%s) - start))s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz targets that failed: ${failed[*]}"
  exit 1
fi
echo "no crash, timeout or out-of-memory in: $TARGETS"
