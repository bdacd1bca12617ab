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
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
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

# expect_out FILE CODE CMD...: expect, with CMD's stdout (alone) kept in FILE.
expect_out() {
  local file=$1 want=$2 status=0
  shift 2
  "$@" >"$file" 2>"$file.err" || status=$?
  cat "$file" "$file.err"
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

# tree: the `tree` build (M4, text) writes two checkpoint bodies of its
#   capture, cp1.txt (after main's first records) and cp2.txt (at the end),
#   through semihosting. The host's root of the capture must equal each
#   (cp2: `checkpoint` prints the same text; cp1: `verify --checkpoint`, and
#   the same text from the capture cut to cp1's size); the host then signs
#   both (`checkpoint --sign`, a key made here). verify --checkpoint, prove
#   --record, prove --consistency and check-proof must all exit 0, a changed
#   record must fail check-proof (exit 1), and tools/interop (signed_note,
#   tlog_tiles, ct-merkle; not this crate) must accept the signed
#   checkpoints and both proofs, and refuse the changed record.
# host_tree: tools/interop accepts the same for a log written on the host.
tree() {
  say "tree checkpoints, m4: thumbv7em-none-eabihf"
  local dir=$OUT/m4-tree
  rm -rf "$dir"
  run_fw "$dir" m4,tree thumbv7em-none-eabihf qemu-system-arm -machine mps2-an386 -cpu cortex-m4
  cd "$dir"
  mv uart capture
  [ -s cp1.txt ] && [ -s cp2.txt ] || die "firmware tree: no cp1.txt or cp2.txt written"
  cat cp1.txt cp2.txt
  expect 0 "$CLI" verify capture

  # The host's roots equal the device's.
  "$CLI" checkpoint capture >host-cp2.txt
  cmp -s cp2.txt host-cp2.txt || die "firmware tree: the host's checkpoint of the capture is not cp2.txt"
  echo "cp2.txt = the host's checkpoint of the capture"
  expect 0 "$CLI" verify --checkpoint cp1.txt capture
  local size1
  size1=$(sed -n 2p cp1.txt)
  head -n "$((2 * size1))" capture >capture-cp1
  "$CLI" checkpoint capture-cp1 >host-cp1.txt
  cmp -s cp1.txt host-cp1.txt || die "firmware tree: the host's checkpoint of the first $size1 records is not cp1.txt"
  echo "cp1.txt = the host's checkpoint of the capture's first $size1 records"

  # Signed on the host (the device has no key).
  "$CLI" note-keygen example.com/firmware log.sk log.vk
  "$CLI" checkpoint --sign log.sk capture-cp1 >cp1.signed
  "$CLI" checkpoint --sign log.sk capture >cp2.signed
  expect 0 "$CLI" verify --checkpoint cp2.signed --note-verifier log.vk capture

  local n=5
  expect_out rec.proof 0 "$CLI" prove --record "$n" --checkpoint cp2.signed capture
  expect_out rec.json 0 "$CLI" prove --record "$n" --checkpoint cp2.signed --json capture
  sed -n "$((2 * n + 1)),$((2 * n + 2))p" capture >rec.txt
  expect 0 "$CLI" check-proof --record rec.txt --proof rec.proof --note-verifier log.vk
  sed 's/"levelno":/"levelno" :/' rec.txt >rec-changed.txt
  expect 1 "$CLI" check-proof --record rec-changed.txt --proof rec.proof --note-verifier log.vk

  expect_out req.txt 0 "$CLI" prove --consistency cp1.signed --checkpoint cp2.signed capture
  expect_out cons.json 0 "$CLI" prove --consistency cp1.signed --checkpoint cp2.signed --json capture
  expect 0 "$CLI" check-proof --consistency cp1.signed --proof req.txt --checkpoint cp2.signed \
    --note-verifier log.vk

  say "the same, checked by others' code (tools/interop: signed_note, tlog_tiles, ct-merkle)"
  (cd "$ROOT/tools/interop" && cargo build --release --locked)
  local interop=$ROOT/tools/interop/target/release/immutable-log-interop
  expect 0 "$interop" log.vk cp1.signed cp2.signed rec.txt rec.json cons.json
  # ...and refuses the changed record.
  expect 1 "$interop" log.vk cp1.signed cp2.signed rec-changed.txt rec.json cons.json
  cd "$ROOT"
}

# host_tree: the same independent check of a log written on the host.
host_tree() {
  say "tree checkpoints of a host log, checked by tools/interop"
  local dir=$OUT/host-tree
  rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
  seq 1 40 | "$CLI" write app.log
  "$CLI" note-keygen example.com/app log.sk log.vk
  "$CLI" checkpoint --sign log.sk app.log >cp1.signed
  seq 41 100 | "$CLI" write app.log
  "$CLI" checkpoint --sign log.sk app.log >cp2.signed
  expect_out rec.json 0 "$CLI" prove --record 17 --checkpoint cp2.signed --json app.log
  expect_out cons.json 0 "$CLI" prove --consistency cp1.signed --checkpoint cp2.signed --json app.log
  sed -n 35,36p app.log >rec.txt
  expect 0 "$ROOT/tools/interop/target/release/immutable-log-interop" \
    log.vk cp1.signed cp2.signed rec.txt rec.json cons.json
  cd "$ROOT"
}

tree
host_tree
