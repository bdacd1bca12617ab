#!/usr/bin/env bash
# The firmware's flash ring and tree checkpoints in QEMU (issues 12 and 14),
# called by .ci/firmware.sh after its UART runs (QEMU, the targets and the
# release CLI are there by then); runs on its own too:
# `bash .ci/firmware-ring-tree.sh` (after a `cargo build --release --features cli`).
#
# ring: the `flash` build (M4 and RISC-V) keeps its log in a RAM-backed NOR
#   flash ring across two resets and a power cut until the ring wraps, and
#   dumps the region to ring.bin through semihosting: `verify --ring` must
#   pass (exit 0) and say it wrapped; a copy with one byte changed must fail
#   (exit 1). The verdict counts
#   the torn record boot 2's power cut left, kept in a recovery record.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
ROOT=$PWD
FW=$ROOT/examples/firmware
OUT=$ROOT/target/firmware-qemu
CLI=$ROOT/target/release/immutable-log
mkdir -p "$OUT"

say() { printf '\n--- %s\n' "$*"; }
die() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }
[ -x "$CLI" ] || die "no $CLI: build it first (cargo build --release --features cli)"

# run_fw DIR FEATURES TARGET QEMU...: builds the example, runs it in QEMU in
# DIR (semihosting writes its files there), the UART to DIR/uart.
run_fw() {
  local dir=$1 features=$2 target=$3
  shift 3
  mkdir -p "$dir"
  (cd "$FW" && cargo build --release --features "$features" --target "$target")
  cp "$FW/target/$target/release/immutable-log-firmware" "$dir/firmware.elf"
  local status=0
  (cd "$dir" && timeout 60 "$@" -nographic -semihosting-config enable=on,target=native \
    -kernel firmware.elf >uart 2>qemu.stderr </dev/null) || status=$?
  cat "$dir/qemu.stderr"
  [ "$status" -eq 0 ] || die "firmware $features: QEMU exited with status $status"
}

# expect CODE CMD...: runs CMD, prints its output, checks its exit code.
expect() {
  local want=$1 status=0
  shift
  "$@" >"$OUT/last.out" 2>&1 || status=$?
  cat "$OUT/last.out"
  [ "$status" -eq "$want" ] || die "exit $status ($want expected): $*"
}

ring() {
  local name=$1 feature=$2 target=$3
  shift 3
  say "flash ring, $name: $target"
  local dir=$OUT/$name-flash
  rm -f "$dir/ring.bin"
  run_fw "$dir" "$feature,flash" "$target" "$@"
  [ -s "$dir/ring.bin" ] || die "firmware $name flash: no ring.bin dumped"
  expect 0 "$CLI" verify --ring "$dir/ring.bin"
  grep -q 'wrapped: records before seq [0-9]* were erased' "$OUT/last.out" \
    || die "firmware $name flash: the verdict does not say the ring wrapped"
  # Boot 2's power cut left a torn record; boot 3 kept its bytes, once.
  grep -q '; 1 torn records kept in recovery records' "$OUT/last.out" \
    || die "firmware $name flash: the verdict does not count the power cut's torn record"
  # One byte of a record's message changed: an integrity failure.
  local at
  at=$(grep -a -b -o -F 'boot 3: record 5 of' "$dir/ring.bin" | tail -n 1 | cut -d: -f1)
  [ -n "$at" ] || die "firmware $name flash: record 20 of boot 3 not in the dump"
  cp "$dir/ring.bin" "$dir/tampered.bin"
  printf 'B' | dd of="$dir/tampered.bin" bs=1 seek="$at" conv=notrunc status=none
  expect 1 "$CLI" verify --ring "$dir/tampered.bin"
  echo "verify --ring: byte $at changed ('b' -> 'B') detected (exit 1)"
}

ring m4 m4 thumbv7em-none-eabihf qemu-system-arm -machine mps2-an386 -cpu cortex-m4
ring rv rv riscv32imc-unknown-none-elf qemu-system-riscv32 -machine virt -bios none
