#!/usr/bin/env bash
# Firmware in QEMU: build the example for the Cortex-M4 (mps2-an386) and the
# Cortex-M0 (microbit), run each, and verify its UART capture on the host with
# `immutable-log verify`; a copy with one byte changed must fail. Then print
# the size report (text, rodata, data, bss; and the logging path's share).
#
# Called by .ci/run; runs on its own too: `bash .ci/firmware.sh`.
# Installs what it needs: qemu-system-arm (apt), the two rustup targets and
# llvm-tools (for llvm-size).
set -euo pipefail
shopt -s inherit_errexit # also inside $(...)
cd "$(dirname "$0")/.."
ROOT=$PWD
FW=$ROOT/examples/firmware
OUT=$ROOT/target/firmware-qemu
CLI=$ROOT/target/release/immutable-log
mkdir -p "$OUT"

say() { printf '\n--- %s\n' "$*"; }
die() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

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

say "qemu-system-arm"
if ! command -v qemu-system-arm >/dev/null 2>&1; then
  apt_install qemu-system-arm >/dev/null || die "could not install qemu-system-arm"
fi
qemu-system-arm --version | head -n 1

say "host verifier (immutable-log CLI)"
cargo build --release --features cli --bin immutable-log
[ -x "$CLI" ] || die "no $CLI after the build"

# Builds the example with these features for this target, and copies the ELF
# to $3 (the variants below share one target directory, and so their deps).
build() {
  (cd "$FW" && cargo build --release --features "$1" --target "$2")
  cp "$FW/target/$2/release/immutable-log-firmware" "$3"
}

# name feature target qemu-machine-args
BOARDS=(
  "m4 m4 thumbv7em-none-eabihf -machine mps2-an386 -cpu cortex-m4"
  "m0 m0 thumbv6m-none-eabi -machine microbit"
)
BUILT=()

for board in "${BOARDS[@]}"; do
  read -r name feature target machine <<<"$board"
  say "firmware $name: $target, qemu $machine"
  if ! rustup target add "$target" >/dev/null 2>&1 \
      && ! rustup target list --installed | grep -qx "$target"; then
    echo "SKIPPED: could not install the $target target; firmware $name not built, not run in QEMU"
    continue
  fi
  dir=$OUT/$name
  mkdir -p "$dir"
  elf=$dir/firmware.elf
  build "$feature" "$target" "$elf"
  BUILT+=("$name $feature $target $machine")

  capture=$dir/capture.log
  # The UART goes to a file (a pipe into `head` would hang QEMU); stdin from
  # /dev/null so QEMU never waits on a terminal. Semihosting ends the run.
  status=0
  # shellcheck disable=SC2086 # $machine is several arguments
  timeout 60 qemu-system-arm $machine -nographic \
    -semihosting-config enable=on,target=native -kernel "$elf" \
    >"$capture" 2>"$dir/qemu.stderr" </dev/null || status=$?
  if [ "$status" -ne 0 ]; then
    cat "$dir/qemu.stderr" >&2
    [ "$status" -eq 124 ] && die "firmware $name: QEMU timed out after 60 s"
    die "firmware $name: QEMU exited with status $status (the firmware's semihosting exit)"
  fi
  records=$(grep -c '^BLOCK_DATA:' "$capture" || true)
  echo "QEMU exit 0; captured $(wc -c <"$capture") bytes, $records records in $capture"
  [ "$records" -ge 20 ] || die "firmware $name: only $records records (at least 20 expected)"
  # The SysTick record lost while main held the chain is reported, under a hash.
  grep -q '"unlogged":[1-9]' "$capture" \
    || die "firmware $name: no record reports the interrupt-time record lost to a busy chain"

  status=0
  "$CLI" verify "$capture" || status=$?
  [ "$status" -eq 0 ] || die "firmware $name: verify exited $status on the capture as it is (0 expected)"
  echo "verify: capture intact (exit 0)"

  # One byte changed in the middle of a copy: verify must report an integrity failure (exit 1).
  tampered=$dir/tampered.log
  cp "$capture" "$tampered"
  size=$(wc -c <"$tampered")
  offset=$((size / 2))
  old=$(od -An -c -j "$offset" -N 1 "$tampered" | tr -d ' ')
  new=x
  [ "$old" = x ] && new=y
  printf '%s' "$new" | dd of="$tampered" bs=1 seek="$offset" conv=notrunc status=none
  cmp -s "$capture" "$tampered" && die "firmware $name: the tampered copy did not change"
  status=0
  "$CLI" verify "$tampered" >"$dir/tampered.verify" 2>&1 || status=$?
  cat "$dir/tampered.verify"
  [ "$status" -eq 1 ] \
    || die "firmware $name: verify exited $status on a copy with byte $offset changed ('$old' -> '$new'); 1 expected"
  echo "verify: byte $offset changed ('$old' -> '$new') detected (exit 1)"
done

say "size report"
if [ "${#BUILT[@]}" -eq 0 ]; then
  echo "SKIPPED: no firmware image built; no size report"
  exit 0
fi
SIZE=
if rustup component add llvm-tools >/dev/null 2>&1; then
  SIZE=$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-size
fi
if [ -z "$SIZE" ] || [ ! -x "$SIZE" ]; then
  SIZE=$(command -v llvm-size || command -v arm-none-eabi-size || true)
fi
if [ -z "$SIZE" ]; then
  echo "SKIPPED: no llvm-size (rustup llvm-tools) nor arm-none-eabi-size; no size report"
  exit 0
fi

# `size -A` per section: text = vector table + code, rodata, data (in flash
# and RAM), bss (RAM). Prints: text rodata data bss flash ram.
sections() {
  "$SIZE" -A "$1" | awk '
    $1 == ".vector_table" || $1 == ".text" { text += $2 }
    $1 == ".rodata" { rodata += $2 }
    $1 == ".data" { data += $2 }
    $1 == ".bss" || $1 == ".uninit" { bss += $2 }
    END { printf "%d %d %d %d %d %d\n", text, rodata, data, bss, text + rodata + data, data + bss }'
}

# Stack: the `stack-report` build paints the free RAM at reset and prints the
# stack's peak use through semihosting, which QEMU sends to stderr.
stack_peak() { # name feature target machine...
  local name=$1 feature=$2 target=$3 elf=$OUT/$1/stack-report.elf err
  shift 3
  build "$feature,stack-report" "$target" "$elf" >&2
  err=$(timeout 60 qemu-system-arm "$@" -nographic -semihosting-config enable=on,target=native \
    -kernel "$elf" 2>&1 >/dev/null </dev/null) || die "the stack-report build of $feature failed in QEMU"
  sed -n 's/^stack: \([0-9]*\) bytes used at peak.*/\1/p' <<<"$err"
}

echo "Measured with: (cd examples/firmware && cargo build --release --features <m4|m0>[,nolog] --target <target>)"
echo "then: llvm-size -A target/<target>/release/immutable-log-firmware"
echo "text = .vector_table + .text; flash = text + rodata + data; RAM = data + bss, and the stack"
echo "(nolog: the same program with every record dropped; the difference is the logging path)"
echo
echo "| target | build | text | rodata | data | bss | flash | RAM (static) | stack peak |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for built in "${BUILT[@]}"; do
  read -r name feature target machine <<<"$built"
  build "$feature,nolog" "$target" "$OUT/$name/nolog.elf"
  read -r t r d b flash ram < <(sections "$OUT/$name/firmware.elf")
  read -r t0 r0 d0 b0 flash0 ram0 < <(sections "$OUT/$name/nolog.elf")
  # shellcheck disable=SC2086 # $machine is several arguments
  stack=$(stack_peak "$name" "$feature" "$target" $machine)
  [ -n "$stack" ] || die "firmware $name: the stack-report build printed no stack use"
  echo "| $target | example ($name) | $t | $r | $d | $b | $flash | $ram | $stack |"
  echo "| $target | without logging | $t0 | $r0 | $d0 | $b0 | $flash0 | $ram0 | |"
  echo "| $target | logging path | $((t - t0)) | $((r - r0)) | $((d - d0)) | $((b - b0)) | $((flash - flash0)) | $((ram - ram0)) | |"
  [ "$flash" -lt $((24 * 1024)) ] || die "firmware $name: $flash bytes of flash, over the 24 KiB budget"
done
echo
echo "Budget: under 24 KiB (24576 bytes) of flash for the whole example: met."
