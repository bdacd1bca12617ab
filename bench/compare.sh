#!/usr/bin/env bash
# immutable-log beside plain loggers and audit-trail, on this machine: builds
# bench/compare (its own Cargo project and workspace: its peers are never
# dependencies of the crate) in release, runs every workload for
# immutable-log, each peer and each machine limit in alternation (each run a
# process of its own, COMPARE_RUNS interleaved runs, medians), and prints the
# README's performance table in Markdown, with the date, the machine and the
# command.
#
#   bash bench/compare.sh
#
# Environment overrides (defaults in brackets):
#   COMPARE_RUNS [5]                    runs of each contender per workload
#   COMPARE_BUFFERED_RECORDS [500000]   records of each buffered workload
#   COMPARE_FLUSH_RECORDS [200000]      records of each flush workload
#   COMPARE_VERIFY_RECORDS [1000000]    records of the verified logs
#   COMPARE_SYNC_RECORDS [500]          records of the keyed and plain sync
#                                       workloads (500 threads)
#   COMPARE_ONLY                        some workloads only, comma-separated:
#     1-buffered,1-flush,8-flush,500-flush,500-buffered,8-buffered,verify,keyed,
#     1-events,8-events (`tracing` events with fields: TracingLayer vs
#     a fmt layer through tracing-appender)
# Files go to $TMPDIR (or /tmp) and are deleted at the end.
set -euo pipefail
shopt -s inherit_errexit # also inside $(...)
cd "$(dirname "$0")/compare"

cargo build --release --quiet
BIN=$PWD/target/release/immutable-log-compare
[ -x "$BIN" ] || { echo "FAILED: no $BIN after the build" >&2; exit 1; }

overrides=""
for var in COMPARE_RUNS COMPARE_BUFFERED_RECORDS COMPARE_FLUSH_RECORDS \
  COMPARE_VERIFY_RECORDS COMPARE_SYNC_RECORDS COMPARE_ONLY; do
  if [ -n "${!var:-}" ]; then overrides+="$var=${!var} "; fi
done
cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
sha=$(grep -qw sha_ni /proc/cpuinfo && echo ", SHA-NI" || echo ", no SHA-NI")
fs=$(df -T "${TMPDIR:-/tmp}" | awk 'NR==2 {print $2}')
load() { cut -d' ' -f1-3 /proc/loadavg; }

echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'). Machine: $(nproc) cores, ${cpu}${sha}, ${fs} under ${TMPDIR:-/tmp}; load average before: $(load)."
echo "Command: \`${overrides}bash bench/compare.sh\` (immutable-log at $(git rev-parse --short HEAD 2>/dev/null || echo '?'), rustc $(rustc --version | cut -d' ' -f2))."
echo
"$BIN" table
echo
echo "Load average after: $(load)."
