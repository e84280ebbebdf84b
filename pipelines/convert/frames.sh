#!/bin/bash
# frames.sh — take one frame per record with ffmpeg.
#
#   pipelines/convert/frames.sh VIDEODIR OUTDIR < records.jsonl
#
# For each JSON line with "id", "image" (a relative path such as frames/<id>.jpg)
# and optionally "frame_time" (seconds), writes OUTDIR/<image> from
# VIDEODIR/<id>.mp4.  Frames already there are kept.  A video that is missing or
# from which no frame comes out is counted; the script lists the first and exits 1
# when any failed, so no record is left pointing at a missing image.
set -eu -o pipefail
[ $# = 2 ] || { echo "usage: $0 VIDEODIR OUTDIR < records.jsonl" >&2; exit 2; }
command -v "${FFMPEG:-ffmpeg}" >/dev/null || { echo "frames: ffmpeg is not installed (apt-get install ffmpeg)" >&2; exit 2; }
vd=$1 od=$2 n=0 bad=0 first=
while IFS=$'\t' read -r id img t; do
	n=$((n + 1))
	out=$od/$img
	[ -s "$out" ] && continue
	mkdir -p "$(dirname "$out")"
	if ! "${FFMPEG:-ffmpeg}" -nostdin -loglevel error -y -ss "$t" -i "$vd/$id.mp4" -frames:v 1 "$out" || [ ! -s "$out" ]; then
		bad=$((bad + 1)); [ -n "$first" ] || first=$id
	fi
done < <(jq -r '[.id, .image, (.frame_time // 1 | tostring)] | @tsv')
echo "frames: $n records, $bad without a frame${first:+ (first: id \"$first\")}" >&2
[ "$bad" = 0 ]
