# Sourced by the firmware CI scripts: the paths they share and their two
# messages. Sets ROOT (the repository), FW (the firmware example), OUT (where
# QEMU runs write), CLI (the release command-line tool); `say` prints a step,
# `die` a failure and exits 1.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FW=$ROOT/examples/firmware
OUT=$ROOT/target/firmware-qemu
CLI=$ROOT/target/release/immutable-log
mkdir -p "$OUT"
cd "$ROOT"

say() { printf '\n--- %s\n' "$*"; }
die() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }
