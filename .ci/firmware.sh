#!/usr/bin/env bash
# Firmware in QEMU: build the example for the Cortex-M4 (mps2-an386), the
# Cortex-M0 (microbit) and RISC-V (virt, rv32imc), each in the text format and
# in the compact encoding, and the M4 again with the async drain (an Embassy
# task, feature `async`); run each; verify its UART capture on the host with
# `immutable-log verify`. Each run logs from main, from a timer interrupt and
# from a nested one in the middle of appends, and overruns its queue: the
# capture must be intact, hold the nested records and report the lost ones. A
# copy with one byte changed must fail (exit 1); a compact capture with bytes
# cut out of the middle must verify as incomplete (exit 4) with the right seq
# range. Then the flash ring and the tree checkpoints
# (.ci/firmware-ring-tree.sh), and the numbers table (examples/firmware/numbers.sh).
#
# Called by .ci/run; runs on its own too: `bash .ci/firmware.sh`.
# Installs what it needs: qemu-system-arm and qemu-system-misc (apt), the
# rustup targets and llvm-tools (for llvm-size).
set -euo pipefail
shopt -s inherit_errexit # also inside $(...)
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

# Root needs no sudo; anyone else needs it for apt.
SUDO=()
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=(sudo); fi
APT_UPDATED=
apt_install() {
  if [ -z "$APT_UPDATED" ]; then
    ${SUDO[@]+"${SUDO[@]}"} apt-get update -qq
    APT_UPDATED=1
  fi
  ${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

say "QEMU"
if ! command -v qemu-system-arm >/dev/null 2>&1; then
  apt_install qemu-system-arm >/dev/null || die "could not install qemu-system-arm"
fi
if ! command -v qemu-system-riscv32 >/dev/null 2>&1; then
  apt_install qemu-system-misc >/dev/null || die "could not install qemu-system-misc (qemu-system-riscv32)"
fi
qemu-system-arm --version | head -n 1
qemu-system-riscv32 --version | head -n 1

say "host verifier (immutable-log CLI)"
cargo build --release --features cli --bin immutable-log
[ -x "$CLI" ] || die "no $CLI after the build"

# Builds the example with these features for this target, and copies the ELF to $3.
build() {
  (cd "$FW" && cargo build --release --features "$1" --target "$2")
  cp "$FW/target/$2/release/immutable-log-firmware" "$3"
}

# verify FILE EXPECTED-EXIT: runs the verifier, prints its verdict, checks the code.
verify() {
  local status=0
  "$CLI" verify "$1" >"$1.verify" 2>&1 || status=$?
  cat "$1.verify"
  [ "$status" -eq "$2" ] || die "verify exited $status on $1 ($2 expected)"
}

# The records of a capture as text lines, in either encoding.
lines() {
  if [ "$2" = compact ]; then "$CLI" decode "$1"; else grep -a '^BLOCK_DATA:' "$1"; fi
}

# Byte offset of the first occurrence of text $2 in file $1.
offset_of() {
  grep -a -b -o -F -- "$2" "$1" | head -n 1 | cut -d: -f1
}

# name feature target qemu-command...
BOARDS=(
  "m4 m4 thumbv7em-none-eabihf qemu-system-arm -machine mps2-an386 -cpu cortex-m4"
  "m0 m0 thumbv6m-none-eabi qemu-system-arm -machine microbit"
  "rv rv riscv32imc-unknown-none-elf qemu-system-riscv32 -machine virt -bios none"
  # The drain as an Embassy task (embedded_io_async::Write), the same scenario and checks.
  "m4-async m4,async thumbv7em-none-eabihf qemu-system-arm -machine mps2-an386 -cpu cortex-m4"
)
RAN=0

for board in "${BOARDS[@]}"; do
  read -r name feature target qemu <<<"$board"
  if ! rustup target add "$target" >/dev/null 2>&1 \
      && ! rustup target list --installed | grep -qx "$target"; then
    echo "SKIPPED: could not install the $target target; firmware $name not built, not run in QEMU"
    continue
  fi
  for enc in text compact; do
    features=$feature
    [ "$enc" = compact ] && features=$feature,compact
    say "firmware $name, $enc: $target, $qemu"
    dir=$OUT/$name-$enc
    mkdir -p "$dir"
    elf=$dir/firmware.elf
    build "$features" "$target" "$elf"

    capture=$dir/capture
    # The UART goes to a file (a pipe into `head` would hang QEMU); stdin from
    # /dev/null so QEMU never waits on a terminal. Semihosting ends the run.
    status=0
    # shellcheck disable=SC2086 # $qemu is several arguments
    timeout 60 $qemu -nographic -semihosting-config enable=on,target=native -kernel "$elf" \
      >"$capture" 2>"$dir/qemu.stderr" </dev/null || status=$?
    if [ "$status" -ne 0 ]; then
      cat "$dir/qemu.stderr" >&2
      [ "$status" -eq 124 ] && die "firmware $name $enc: QEMU timed out after 60 s (a deadlock?)"
      die "firmware $name $enc: QEMU exited with status $status (the firmware's semihosting exit)"
    fi
    lines "$capture" "$enc" >"$dir/records"
    records=$(grep -c -v '^#' "$dir/records" || true)
    echo "QEMU exit 0; captured $(wc -c <"$capture") bytes, $records records"
    [ "$records" -ge 30 ] || die "firmware $name $enc: only $records records (at least 30 expected)"
    verify "$capture" 0

    # The interrupts appended in the middle of appends, and the overrun's
    # losses are stated under a hash (text: "unlogged":N; compact: its count).
    for text in "timer: interrupted main mid-append" "nested: interrupted the timer mid-append" \
        "after the overrun"; do
      grep -q -F -- "$text" "$dir/records" \
        || die "firmware $name $enc: no record says '$text'"
    done
    if [ "$enc" = compact ]; then
      lost=$(sed -n 's/.*after the overrun.*\[\([0-9]*\) lost before\]$/\1/p' "$dir/records")
    else
      lost=$(grep -a 'after the overrun' "$capture" | sed -n 's/.*"unlogged":\([0-9]*\).*/\1/p')
    fi
    [ "${lost:-0}" -gt 0 ] || die "firmware $name $enc: the record after the overrun reports no loss"
    echo "nested interrupt records present; the overrun's $lost lost records reported"

    # One byte of a message changed: an integrity failure (exit 1).
    tampered=$dir/tampered
    cp "$capture" "$tampered"
    at=$(offset_of "$capture" "record 3 of 24, nothing drains")
    [ -n "$at" ] || die "firmware $name $enc: the overrun record 3 is not in the capture"
    printf 'R' | dd of="$tampered" bs=1 seek="$at" conv=notrunc status=none
    verify "$tampered" 1
    echo "verify: byte $at changed ('r' -> 'R') detected (exit 1)"

    if [ "$enc" = compact ]; then
      # Bytes cut from inside one record's frame to inside a later one's: an
      # incomplete log (exit 4), the gap from the first record cut to the
      # record before the next sync record.
      from=$(offset_of "$capture" "main: record 6 of 16")
      to=$(offset_of "$capture" "main: record 10 of 16")
      first=$(awk '/main: record 6 of 16/ { print $1; exit }' "$dir/records")
      cut_last=$(awk '/main: record 10 of 16/ { print $1; exit }' "$dir/records")
      next=$(awk -v s="$cut_last" '/^# sync: next seq/ { n = $5 + 0; if (n > s) { print n; exit } }' \
        "$dir/records")
      [ -n "$from" ] && [ -n "$to" ] && [ -n "$first" ] && [ -n "$next" ] \
        || die "firmware $name $enc: could not place the cut"
      cut=$dir/cut
      { head -c "$((from + 3))" "$capture"; tail -c "+$((to + 4))" "$capture"; } >"$cut"
      verify "$cut" 4
      grep -q -F "gap: seq $first..=$((next - 1)) not verified" "$cut.verify" \
        || die "firmware $name $enc: the gap is not seq $first..=$((next - 1))"
      echo "verify: bytes $((from + 3))..$((to + 3)) cut: incomplete (exit 4), gap seq $first..=$((next - 1))"
    fi
    RAN=$((RAN + 1))
  done
done

if [ "$RAN" -eq 0 ]; then
  echo "SKIPPED: no firmware built; no numbers"
  exit 0
fi

# The defmt variant: its own script (verify, decode --elf, a changed byte, its numbers).
bash "$ROOT/.ci/firmware_defmt.sh"
# The flash ring and the tree checkpoints (issues 12 and 14).
bash "$ROOT/.ci/firmware-ring-tree.sh"

say "numbers (examples/firmware/numbers.sh)"
OUT=$ROOT/target/firmware-numbers bash "$FW/numbers.sh"
