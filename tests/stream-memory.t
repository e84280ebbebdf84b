#!/bin/bash
# Streaming keeps memory bounded: mmoe-cat's peak RSS does not grow with the
# number of records (one record plus the codec buffers at a time); and a record
# is read as soon as it arrives, not when a buffer has filled.
. "$(dirname "$0")/lib.sh"
export MMOE_ZSTD_LEVEL=3

# the producer writes one record (plain, then a whole zstd frame), then waits 3 s
printf '\x81\xa2id\xa1a' > "$T/one.mp"
mmoe-cat -o "$T/one.zst" "$T/one.mp"
for f in one.mp one.zst; do
	run bash -c "( cat '$T/$f'; sleep 3; cat '$T/$f' ) | timeout 2 mmoe-cat --json --head 1"
	is "$rc:$out" '0:{"id":"a"}' "a record ($f) is read while the producer still runs"
done
case $MMOE_BIN in */san/*)
	# AddressSanitizer holds freed memory in quarantine: RSS grows by design
	for i in 1 2 3 4 5; do skip "peak memory is not measured in a sanitizer build"; done
	done_testing; exit ;;
esac
if [ ! -x /usr/bin/time ]; then
	for i in 1 2 3 4 5; do skip "GNU time (Debian package time) is not installed"; done
	done_testing; exit
fi
# peak RSS in KB of a command
maxrss() {
	/usr/bin/time -f %M -o "$T/rss" bash -c "exec $1" && cat "$T/rss"
}
gen() { # n: n JSON lines of ~70 bytes
	awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++)
		printf "{\"id\":\"r%07d\",\"label\":%d,\"split\":\"train\",\"score\":%.6f}\n", i, i % 2, i / n }'
}
gen 200000 | mmoe-import -q -o "$T/long.zst"
mmoe-cat --head 50000 -o "$T/short.zst" "$T/long.zst"
# 50,000 records (2.9 MB) already fill the level-3 zstd window; 200,000 must need no more
for mode in "" "--json" "--check" "--level 0"; do
	a=$(maxrss "mmoe-cat $mode '$T/short.zst' > /dev/null")
	b=$(maxrss "mmoe-cat $mode '$T/long.zst' > /dev/null")
	ok "[ $b -le $((a + 1024)) ]" "mmoe-cat ${mode:-(pass-through)}: peak RSS ${a} KB for 50k records, ${b} KB for 200k"
done
gen 50000 > "$T/short.jsonl"
gen 200000 > "$T/long.jsonl"
a=$(maxrss "mmoe-import '$T/short.jsonl' > /dev/null")
b=$(maxrss "mmoe-import '$T/long.jsonl' > /dev/null")
ok "[ $b -le $((a + 1024)) ]" "mmoe-import: peak RSS ${a} KB for 50k lines, ${b} KB for 200k"
done_testing
