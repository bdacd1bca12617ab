# Sourced by numbers.sh and numbers_defmt.sh: finds llvm-size (rustup's
# llvm-tools, or one on PATH) and defines `sizes ELF`, which prints the image's
# flash and RAM in bytes: flash = .vector_table/.init/.trap + .text + .rodata +
# .data; RAM = .data + .bss. Needs `die` defined by the caller.
SIZE=
if rustup component add llvm-tools >/dev/null 2>&1; then
  SIZE=$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-size
fi
[ -n "$SIZE" ] && [ -x "$SIZE" ] || SIZE=$(command -v llvm-size || true)
[ -n "$SIZE" ] || die "no llvm-size (rustup component add llvm-tools)"

sizes() {
  "$SIZE" -A "$1" | awk '
    $1 == ".vector_table" || $1 == ".text" || $1 == ".init" || $1 == ".trap" { text += $2 }
    $1 == ".rodata" || $1 == ".srodata" { rodata += $2 }
    $1 == ".data" || $1 == ".sdata" { data += $2 }
    $1 == ".bss" || $1 == ".sbss" || $1 == ".uninit" { bss += $2 }
    END { printf "%d %d\n", text + rodata + data, data + bss }'
}
