#!/usr/bin/env bash
# Side by side with OSV-Scanner (issue 6): installs OSV-Scanner v1.9.2
# through the Go module proxy, generates seeded SBOMs of 300, 3,000 and
# 16,000 components from the shared advisories, runs both tools offline on
# the same SBOMs and the same advisories under /usr/bin/time -v, and
# compares their findings (bench/osvscanner/compare). Figures go to
# $WORK/results.txt; bench/REPORT.md records them.
#
#   scripts/bench-osv.sh [SIZES...]        # default: 300 3000 16000
#
# Environment: OSV_DATA (default ../shared/data/osv), KEV_DATA, WORK
# (default /tmp/trustward-osvbench), SEED (default 6).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OSV_DATA=$(realpath "${OSV_DATA:-$ROOT/../shared/data/osv}")
WORK=${WORK:-/tmp/trustward-osvbench}
SEED=${SEED:-6}
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(300 3000 16000)
mkdir -p "$WORK/bin" "$WORK/out"

if [ ! -x "$WORK/bin/osv-scanner" ]; then
	echo "installing OSV-Scanner v1.9.2 into $WORK/bin"
	GOBIN=$WORK/bin GOFLAGS=-buildvcs=false go install github.com/google/osv-scanner/cmd/osv-scanner@v1.9.2
fi
go build -o "$WORK/bin/trustward" ./cmd/trustward
go build -o "$WORK/bin/gen" ./bench/osvscanner/gen
go build -o "$WORK/bin/compare" ./bench/osvscanner/compare

# OSV-Scanner reads <local-db-path>/osv-scanner/<Ecosystem>/all.zip.
DB=$WORK/db
for zip in "$OSV_DATA"/*/all.zip; do
	eco=$(basename "$(dirname "$zip")")
	mkdir -p "$DB/osv-scanner/$eco"
	ln -sfn "$zip" "$DB/osv-scanner/$eco/all.zip"
done

# timed NAME OUT -- CMD...: runs CMD with stdout to OUT, keeps time -v's
# report in OUT.time, accepts exit status 0 and 1 (1 = findings).
timed() {
	local out=$1
	shift
	set +e
	/usr/bin/time -v -o "$out.time" "$@" >"$out" 2>"$out.err"
	local rc=$?
	set -e
	if [ $rc -gt 1 ]; then
		echo "$* failed with status $rc:" >&2
		tail -5 "$out.err" >&2
		exit 1
	fi
}
field() { # field FILE.time "Label"
	grep -F "$2" "$1" | sed 's/.*: //'
}

RESULTS=$WORK/results.txt
{
	echo "# $(date -u +%FT%TZ) $(nproc) CPUs, $(go version | cut -d' ' -f3), seed $SEED, advisories $OSV_DATA"
	printf '%-10s %-12s %8s %8s %10s\n' components tool wall_s user_s max_rss_mb
} >"$RESULTS"
for n in "${SIZES[@]}"; do
	sbom=$WORK/out/sbom-$n.cdx.json
	"$WORK/bin/gen" -osv "$OSV_DATA" -n "$n" -seed "$SEED" -o "$sbom"
	timed "$WORK/out/osv-scanner-$n.json" "$WORK/bin/osv-scanner" --experimental-offline-vulnerabilities \
		--experimental-local-db-path "$DB" --format json --sbom "$sbom"
	timed "$WORK/out/trustward-$n.json" "$WORK/bin/trustward" sbom scan "$sbom" --osv "$OSV_DATA" --format json
	for tool in osv-scanner trustward; do
		t=$WORK/out/$tool-$n.json.time
		wall=$(field "$t" "Elapsed (wall clock)" | awk -F: '{ if (NF == 3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
		rss=$(field "$t" "Maximum resident set size")
		printf '%-10s %-12s %8s %8s %10.1f\n' "$n" "$tool" "$wall" "$(field "$t" "User time")" "$(echo "$rss / 1024" | bc -l)" >>"$RESULTS"
	done
	echo "== $n components: set difference" >>"$RESULTS"
	set +e
	"$WORK/bin/compare" -osv "$OSV_DATA" -sbom "$sbom" -osv-scanner "$WORK/out/osv-scanner-$n.json" \
		-trustward "$WORK/out/trustward-$n.json" >>"$RESULTS"
	rc=$?
	set -e
	[ $rc -le 1 ] || exit 1
	[ $rc -eq 0 ] || echo "== $n components: UNEXPLAINED disagreements above" >>"$RESULTS"
done
cat "$RESULTS"
