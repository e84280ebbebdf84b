#!/bin/bash
# sweep-unit.sh — one unit of work of pipelines/sweep.sh, on a machine that has
# none of the tree (sent there by GNU parallel with the unit).
#
#   bash DIR/pipelines/sweep-unit.sh DIR OUT.tar
#
# DIR holds bin/ (the mmoe tools) and pipelines/ (from the sweep's base archive),
# runs/ with the unit's input files, unit.args (make's arguments, one a line:
# variables, -o FILE for the inputs' own inputs, the target) and unit.out (what
# to return: files and directories relative to runs/).  The unit makes its
# target with pipelines/mmoe.mk in DIR, then packs unit.out into OUT.tar under a
# temporary name, renamed only when complete: a unit killed on the way returns
# nothing, and its half-written files stay in DIR (removed by its next run).
set -eu -o pipefail
[ $# = 2 ] || { echo "usage: sweep-unit.sh DIR OUT.tar" >&2; exit 2; }
d=$(cd "$1" && pwd) out=$2
mapfile -t args < "$d/unit.args"
mapfile -t outs < "$d/unit.out"
# RUNS last: it overrides the submitting machine's RUNS among the arguments
make --no-print-directory -s -C "$d" -f pipelines/mmoe.mk MMOE_BIN="$d/bin" "${args[@]}" RUNS=runs
# pax keeps sub-second times: a result stamped to the whole second could look
# older than an input made here in that same second, and Make would remake it
tar --format=posix -C "$d/runs" -cf "$out.part" "${outs[@]}"
mv "$out.part" "$out"
