#!/usr/bin/env bash
# Where the logging path's flash goes: the symbols of an image less those of
# its `nolog` build, summed by who put them there. Usage:
#   bash flash.sh IMAGE.elf NOLOG.elf
# (numbers.sh builds both for each board; llvm-nm from rustup's llvm-tools.)
# Categories, by symbol name: the crate and its dependencies (immutable_log,
# sha2, heapless, log, critical_section), core::fmt (the messages' formatting),
# compiler-builtins (memcpy, memset, 64-bit division), the example's own code
# (handlers, scenario), and read-only data (strings, tables) without a name.
set -euo pipefail
NM=${NM:-$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-nm}
[ -x "$NM" ] || NM=$(command -v llvm-nm)

sum() {
  "$NM" --size-sort -S --radix=d --demangle "$1" | awk '
    $3 ~ /^[tTrRdD]$/ {
      size = $2 + 0; name = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", name)
      if (name ~ /(immutable_log::|sha2::|digest::|hybrid_array|heapless::|^log::|<log::|critical_section|embassy|static_cell)/ && name !~ /immutable_log_firmware/) cat = "crate"
      else if (name ~ /core::fmt|Formatter|as core::fmt/) cat = "core::fmt"
      else if (name ~ /compiler_builtins|^__aeabi|^__udiv|^__umod|^__mul|^memset|^memcpy|^memmove|^memcmp/) cat = "builtins"
      else if ($3 ~ /[rR]/ && name ~ /^\.L/) cat = "rodata"
      else cat = "example"
      s[cat] += size
    }
    END { for (c in s) print c, s[c] }'
}

declare -A A B
while read -r c n; do A[$c]=$n; done < <(sum "$1")
while read -r c n; do B[$c]=$n; done < <(sum "$2")
total=0
for c in crate core::fmt builtins example rodata; do
  d=$(( ${A[$c]:-0} - ${B[$c]:-0} ))
  total=$((total + d))
  printf '%s %d\n' "$c" "$d"
done
printf 'total %d\n' "$total"
