#!/usr/bin/env bash
# Prints the firmware numbers table (markdown) for the README, measured now:
# per board (M4, M0, RISC-V) and encoding (text, compact):
#  - bytes per record for three typical messages, and records/s at 115200 baud
#    (8N1: 11520 bytes/s) for the largest of them;
#  - instructions per append and inside the critical sections, counted by QEMU
#    with -icount (the `icount` build: SysTick under -icount shift=10 on the
#    Cortex-M, minstret under shift=0 on RISC-V);
#  - flash and static RAM of the logging path (the example less its `nolog`
#    build), and the stack peak over several runs (Cortex-M, `stack-report`).
#
# A benchmark script, not a test. Needs qemu-system-arm, qemu-system-riscv32,
# the three rustup targets and llvm-size (rustup's llvm-tools); .ci/firmware.sh
# installs them and runs this at its end. Usage: bash examples/firmware/numbers.sh
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")"
FW=$PWD
OUT=${OUT:-$FW/../../target/firmware-numbers}
RUNS=${STACK_RUNS:-5}
mkdir -p "$OUT"

die() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

# name feature target qemu... (the qemu command without -icount/-kernel)
BOARDS=(
  "M4 m4 thumbv7em-none-eabihf 10 qemu-system-arm -machine mps2-an386 -cpu cortex-m4"
  "M0 m0 thumbv6m-none-eabi 10 qemu-system-arm -machine microbit"
  "RISC-V rv riscv32imc-unknown-none-elf 0 qemu-system-riscv32 -machine virt -bios none"
)

build() { # features target dest
  (cd "$FW" && cargo build --release --quiet --features "$1" --target "$2") >&2
  cp "$FW/target/$2/release/immutable-log-firmware" "$3"
}

# llvm-size and `sizes ELF` (flash and RAM of an image).
# shellcheck source=sizes.sh
. "$FW/sizes.sh"

# "lo" or "lo-hi" of the numbers given.
range() {
  local lo hi
  lo=$(printf '%s\n' "$@" | sort -n | head -1)
  hi=$(printf '%s\n' "$@" | sort -n | tail -1)
  if [ "$lo" = "$hi" ]; then echo "$lo"; else echo "$lo-$hi"; fi
}

declare -A BYTES APPEND CS UNITS COMPRESSION CRATE FLASH RAM STACK
for board in "${BOARDS[@]}"; do
  read -r name feature target shift qemu <<<"$board"
  dir=$OUT/$feature
  mkdir -p "$dir"
  build "$feature,nolog" "$target" "$dir/nolog.elf"
  read -r flash0 ram0 < <(sizes "$dir/nolog.elf")
  for enc in text compact; do
    features=$feature
    [ "$enc" = compact ] && features=$feature,compact
    build "$features" "$target" "$dir/$enc.elf"
    read -r flash ram < <(sizes "$dir/$enc.elf")
    FLASH[$name,$enc]=$((flash - flash0))
    RAM[$name,$enc]=$((ram - ram0))

    build "$features,icount" "$target" "$dir/$enc-icount.elf"
    # shellcheck disable=SC2086 # $qemu is several arguments
    err=$(timeout 120 $qemu -nographic -icount shift="$shift" \
      -semihosting-config enable=on,target=native -kernel "$dir/$enc-icount.elf" \
      2>&1 >"$dir/$enc-icount.capture" </dev/null) || die "$name $enc: the icount run failed: $err"
    bytes=() appends=() csmax=() units=()
    unit=$(sed -n 's/^icount: compression \([0-9]*\)$/\1/p' <<<"$err")
    [ -n "$unit" ] || die "$name $enc: the icount run printed no compression figure: $err"
    while read -r _ _ i _ b _ a _ c _; do
      bytes+=("$b"); appends+=("$a"); csmax+=("$c")
      units+=("$(awk -v c="$c" -v u="$unit" 'BEGIN { printf "%.2f", c / u }')")
    done < <(grep '^icount: message' <<<"$err")
    [ "${#bytes[@]}" -eq 3 ] || die "$name $enc: the icount run printed no figures: $err"
    BYTES[$name,$enc]="${bytes[0]} / ${bytes[1]} / ${bytes[2]}"
    BYTES[$name,$enc,max]=${bytes[2]}
    APPEND[$name,$enc]=$(range "${appends[@]}")
    CS[$name,$enc]=$(range "${csmax[@]}")
    UNITS[$name,$enc]=$(range "${units[@]}")
    COMPRESSION[$name]=$unit
    CRATE[$name,$enc]=$(bash "$FW/flash.sh" "$dir/$enc.elf" "$dir/nolog.elf" | sed -n 's/^crate //p')
    if [ "$feature" != rv ]; then
      build "$features,stack-report" "$target" "$dir/$enc-stack.elf"
      peaks=()
      for _ in $(seq "$RUNS"); do
        # shellcheck disable=SC2086
        err=$(timeout 60 $qemu -nographic -semihosting-config enable=on,target=native \
          -kernel "$dir/$enc-stack.elf" 2>&1 >/dev/null </dev/null) || die "$name: the stack-report run failed"
        peaks+=("$(sed -n 's/^stack: \([0-9]*\) bytes used at peak.*/\1/p' <<<"$err")")
      done
      STACK[$name,$enc]=$(range "${peaks[@]}")
    else
      STACK[$name,$enc]="n/a"
    fi
  done
done

echo "Three messages: \`adc ch3 = 1234 mV\` (17 bytes), \`boot: reset cause 0x4, fw 1.2.3\`"
echo "(30), \`sensor 7: temp 235 dC, rh 41 %, batt 3712 mV\` (43). Records/s at 115200 baud"
echo "(11520 bytes/s) for the longest. Instructions counted by QEMU -icount, the range"
echo "over the three; \"critical section\" is the longest one in an append (the"
echo "probe's own ~10 instructions included), then the same in units of one SHA-256"
echo "compression measured alone on that board (M4 ${COMPRESSION[M4]:-?}, M0 ${COMPRESSION[M0]:-?},"
echo "RISC-V ${COMPRESSION[RISC-V]:-?} instructions). Flash and RAM: the example less its"
echo "\`nolog\` build (chain, queue, SHA-256, encoding, \`core::fmt\`, the log facade,"
echo "compiler-builtins, the example's messages); \"crate\": of that flash, the symbols"
echo "of immutable-log and its dependencies (\`flash.sh\`)."
echo "Stack: the peak over $RUNS runs of the \`stack-report\` build, Cortex-M only (the range where runs differ:"
echo "it depends on where the interrupts land)."
echo
echo "| board | encoding | bytes/record | records/s | instructions/append | in critical section | in compressions | flash | crate | RAM | stack peak |"
echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for board in "${BOARDS[@]}"; do
  read -r name _ <<<"$board"
  for enc in text compact; do
    rate=$((11520 / ${BYTES[$name,$enc,max]}))
    stack=${STACK[$name,$enc]}
    echo "| $name | $enc | ${BYTES[$name,$enc]} | $rate | ${APPEND[$name,$enc]} | ${CS[$name,$enc]} | ${UNITS[$name,$enc]} | ${FLASH[$name,$enc]} | ${CRATE[$name,$enc]} | ${RAM[$name,$enc]} | $stack |"
  done
done
