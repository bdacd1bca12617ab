#!/usr/bin/env bash
# The firmware's defmt variant in QEMU (Cortex-M4 mps2-an386, Cortex-M0
# microbit, RISC-V virt): build it, run it, and on the host: `immutable-log verify capture` exits 0 without the ELF;
# `immutable-log decode --elf firmware.elf capture` shows the expected lines,
# each `ok`; a copy with one byte changed fails (exit 1, and a FAILED line);
# then the defmt numbers (examples/firmware/numbers_defmt.sh).
#
# Called by .ci/firmware.sh (after it installed QEMU and built the CLI), or on
# its own: `bash .ci/firmware_defmt.sh` (needs qemu-system-arm,
# qemu-system-riscv32 and the three rustup targets).
set -euo pipefail
shopt -s inherit_errexit
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

[ -x "$CLI" ] || cargo build --release --features cli --bin immutable-log

# run_board NAME TARGET QEMU...: one board's defmt run.
run_board() {
  local NAME=$1 TARGET=$2
  shift 2
  local QEMU="$*"
  printf '\n--- firmware %s, defmt: %s, %s\n' "$NAME" "$TARGET" "$QEMU"
  OUT=$ROOT/target/firmware-qemu/$NAME-defmt
  mkdir -p "$OUT"
  (cd "$FW" && cargo build --release --features "$NAME,defmt" --target "$TARGET")
  elf=$OUT/firmware.elf
  cp "$FW/target/$TARGET/release/immutable-log-firmware" "$elf"
  capture=$OUT/capture
  status=0
  # shellcheck disable=SC2086 # $QEMU is several arguments
  timeout 60 $QEMU -nographic \
    -semihosting-config enable=on,target=native -kernel "$elf" \
    >"$capture" 2>"$OUT/qemu.stderr" </dev/null || status=$?
  if [ "$status" -ne 0 ]; then
    cat "$OUT/qemu.stderr" >&2
    die "firmware $NAME defmt: QEMU exited with status $status"
  fi
  echo "QEMU exit 0; captured $(wc -c <"$capture") bytes"

  # Integrity needs no ELF.
  status=0
  "$CLI" verify "$capture" || status=$?
  [ "$status" -eq 0 ] || die "verify exited $status on the defmt capture (0 expected)"

  # Decoded with the ELF: every record ok, the expected lines there.
  status=0
  "$CLI" decode --elf "$elf" "$capture" >"$OUT/decoded" || status=$?
  [ "$status" -eq 0 ] || die "decode --elf exited $status (0 expected)"
  head -n 8 "$OUT/decoded"
  echo "..."
  tail -n 3 "$OUT/decoded"
  for text in "INFO adc ch3 = 1234 mV" "WARN boot: reset cause 0x4, fw 1.2.3" \
      "ERROR nested: interrupted the timer mid-frame" \
      "timer: interrupted main mid-frame" "main: this frame was interrupted half written" \
      "frames lost whole (this record says so) [" "INFO done: 4 timer frames"; do
    grep -q -F -- "$text" "$OUT/decoded" || die "decode: no line says '$text'"
  done
  bad=$(grep -v '^#' "$OUT/decoded" | grep -c -v '^ok ' || true)
  [ "$bad" -eq 0 ] || die "decode: $bad record lines not 'ok'"
  echo "decode --elf: every record ok, the nested, timer and main frames whole, losses stated"

  # One byte changed in a record: record 0's argument 1234 (u16 LE d2 04,
  # after the u8 3) becomes 1235. verify exits 1, decode marks it FAILED.
  tampered=$OUT/tampered
  cp "$capture" "$tampered"
  at=$(LC_ALL=C grep -obUaP '\x03\xd2\x04' "$capture" | head -n 1 | cut -d: -f1)
  [ -n "$at" ] || die "record 0's arguments (03 d2 04) are not in the capture"
  at=$((at + 1))
  printf '\323' | dd of="$tampered" bs=1 seek="$at" conv=notrunc status=none
  status=0
  "$CLI" verify "$tampered" || status=$?
  [ "$status" -eq 1 ] || die "verify exited $status on the changed capture (1 expected)"
  status=0
  "$CLI" decode --elf "$elf" "$tampered" >"$OUT/tampered.decoded" || status=$?
  [ "$status" -eq 1 ] || die "decode --elf exited $status on the changed capture (1 expected)"
  grep -q '^FAILED ' "$OUT/tampered.decoded" || die "decode: no FAILED line for the changed capture"
  echo "byte $at changed: verify exit 1, decode marks $(grep '^FAILED ' "$OUT/tampered.decoded")"

  NUMBERS+=("$NAME $TARGET $elf $capture")
}

NUMBERS=()
for board in "m4 thumbv7em-none-eabihf qemu-system-arm -machine mps2-an386 -cpu cortex-m4" \
    "m0 thumbv6m-none-eabi qemu-system-arm -machine microbit" \
    "rv riscv32imc-unknown-none-elf qemu-system-riscv32 -machine virt -bios none"; do
  read -r name target qemu <<<"$board"
  if ! rustup target add "$target" >/dev/null 2>&1 \
      && ! rustup target list --installed | grep -qx "$target"; then
    echo "SKIPPED: could not install the $target target; the defmt firmware $name not run"
    continue
  fi
  # shellcheck disable=SC2086 # $qemu is several arguments
  run_board "$name" "$target" $qemu
done

printf '\n--- defmt numbers (examples/firmware/numbers_defmt.sh): the three messages of\n'
printf 'numbers.sh as defmt records; records/s at 115200 baud for the longest; flash and\n'
printf 'static RAM of the defmt build less its nolog build\n\n'
echo "| board | encoding | bytes/record | records/s | flash | RAM |"
echo "| --- | --- | --- | ---: | ---: | ---: |"
for n in "${NUMBERS[@]}"; do
  # shellcheck disable=SC2086 # four arguments
  bash "$FW/numbers_defmt.sh" $n
done
