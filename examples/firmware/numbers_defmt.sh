#!/usr/bin/env bash
# The defmt variant's numbers for one board, measured now: bytes on the wire per
# record for the three messages of numbers.sh (records 0-2 of the defmt
# firmware's capture: frame, COBS and chain tag included), records/s at 115200
# baud (8N1: 11520 bytes/s), and the flash and static RAM of the defmt path
# (the defmt build less the `nolog` build, llvm-size).
#
# Usage: bash examples/firmware/numbers_defmt.sh BOARD TARGET FIRMWARE.ELF
# CAPTURE (m4 thumbv7em-none-eabihf, m0 thumbv6m-none-eabi or rv
# riscv32imc-unknown-none-elf; the defmt build and its QEMU capture, which
# .ci/firmware_defmt.sh makes).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")"
FW=$PWD
BOARD=$1
TARGET=$2
ELF=$3
CAPTURE=$4
OUT=${OUT:-$FW/../../target/firmware-numbers}/$BOARD
mkdir -p "$OUT"

die() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

# llvm-size and `sizes ELF` (flash and RAM of an image).
# shellcheck source=sizes.sh
. "$FW/sizes.sh"

(cd "$FW" && cargo build --release --quiet --features "$BOARD,nolog" --target "$TARGET") >&2
cp "$FW/target/$TARGET/release/immutable-log-firmware" "$OUT/nolog.elf"
read -r flash0 ram0 < <(sizes "$OUT/nolog.elf")
read -r flash ram < <(sizes "$ELF")

# Frame lengths (zero included) of the capture's first three frames.
read -r b0 b1 b2 < <(od -An -tu1 -v "$CAPTURE" | tr -s ' ' '\n' | awk '
  NF { n++; if ($1 == 0) { len[++f] = n - last; last = n; if (f == 3) exit } }
  END { print len[1], len[2], len[3] }')
[ -n "$b2" ] || die "fewer than three frames in $CAPTURE"
max=$b0
for b in "$b1" "$b2"; do [ "$b" -gt "$max" ] && max=$b; done

# One markdown table row: board | bytes/record | records/s | flash | RAM.
echo "| $BOARD | defmt | $b0 / $b1 / $b2 | $((11520 / max)) | $((flash - flash0)) | $((ram - ram0)) |"
