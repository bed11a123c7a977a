#!/usr/bin/env bash
# Runs every check and test of Trustward; the README's test command, and what
# CI runs through .ci/run.
#
#   scripts/test.sh [packages...]     (default ./...)
#
# On a Debian 12 machine as root it first installs what the tests need
# (PostgreSQL 15, Chromium and its driver, oathtool, openssh-client, a C
# compiler for -race, staticcheck, and litewitness for the ledger's witness
# tests, and axe-core, the accessibility rules engine that the web tests
# run in Chromium, pinned and checked against its SHA-256, into
# ${XDG_CACHE_HOME:-~/.cache}/trustward and named by TRUSTWARD_AXE). It
# starts one throwaway PostgreSQL server for the whole run
# and shares it with every package through TRUSTWARD_TEST_PG, and sets
# TRUSTWARD_TEST_REQUIRE so that no test skips for want of a tool, unless
# the caller set it (an empty value allows skipping).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

started=$SECONDS
pkgs=("$@")
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)
# Packages with concurrency of their own, also run under the race detector;
# those not written yet are left out.
race_candidates=(internal/audit internal/ledger internal/monitor internal/monitor/detect internal/monitor/cases)
staticcheck_version=0.8.2
litewitness_version=v0.9.0
# axe-core from the npm registry (npm checks the tarball against the
# registry's integrity value); the one file the tests load is pinned by its
# SHA-256, checked on every run, cached copy included.
axe_version=4.14.1
axe_sha256=29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c

work=$(mktemp -d)
pg_pid=
pg_in=
policy_rc=
cleanup() {
	if [ -n "$pg_pid" ]; then
		# End of file on its standard input stops pgserver and the server.
		eval "exec ${pg_in}>&-"
		wait "$pg_pid" 2>/dev/null || true
	fi
	[ -z "$policy_rc" ] || rm -f "$policy_rc"
	rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }

# --- Tools ---------------------------------------------------------------

if ! command -v go >/dev/null 2>&1; then
	if [ -x /usr/local/go/bin/go ]; then
		PATH=/usr/local/go/bin:$PATH
	else
		echo "test.sh: go is not installed (see go.mod for the version)" >&2
		exit 1
	fi
fi

missing=()
[ -x /usr/lib/postgresql/15/bin/pg_ctl ] || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v oathtool >/dev/null 2>&1 || missing+=(oathtool)
command -v ssh-agent >/dev/null 2>&1 || missing+=(openssh-client) # holds litewitness's key
dpkg-query -W -f='${Status}' fonts-liberation 2>/dev/null | grep -q 'ok installed' || missing+=(fonts-liberation)
command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev) # cgo, for -race
axe_dir="${XDG_CACHE_HOME:-$HOME/.cache}/trustward/axe-core-$axe_version"
[ -s "$axe_dir/axe.min.js" ] || command -v npm >/dev/null 2>&1 || missing+=(npm) # fetches axe-core
if [ ${#missing[@]} -gt 0 ]; then
	say "installing ${missing[*]}"
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 || {
			echo "test.sh: missing ${missing[*]}; install them as root" >&2
			exit 1
		}
		sudo=(sudo)
	fi
	# The harness starts its own PostgreSQL: keep the package's cluster
	# service from starting (policy-rc.d exit 101 means "do not start").
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		policy_rc=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy_rc" >/dev/null
		"${sudo[@]}" chmod +x "$policy_rc"
	fi
	if ! { "${sudo[@]}" apt-get update &&
		"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; } >"$work/apt.log" 2>&1; then
		cat "$work/apt.log" >&2
		echo "test.sh: could not install ${missing[*]}" >&2
		exit 1
	fi
fi

PATH="$(go env GOPATH)/bin:$PATH"
if ! staticcheck -version 2>/dev/null | grep -qF "($staticcheck_version)"; then
	say "installing staticcheck $staticcheck_version"
	go install "honnef.co/go/tools/cmd/staticcheck@v$staticcheck_version"
fi
# A C2SP tlog-witness we did not write, for the ledger's witness tests.
# (v0.10.0 needs Go 1.27; v0.9.0 builds with ours.)
if ! go version -m "$(command -v litewitness 2>/dev/null || echo /nonexistent)" 2>/dev/null | grep -qE "filippo.io/torchwood[[:space:]]+$litewitness_version"; then
	say "installing litewitness $litewitness_version"
	go install "filippo.io/torchwood/cmd/litewitness@$litewitness_version"
fi

if [ -z "${TRUSTWARD_AXE:-}" ]; then
	if ! echo "$axe_sha256  $axe_dir/axe.min.js" | sha256sum -c --status - 2>/dev/null; then
		say "fetching axe-core $axe_version"
		(cd "$work" && npm pack --silent "axe-core@$axe_version" >/dev/null &&
			tar -xzf "axe-core-$axe_version.tgz" package/axe.min.js package/LICENSE) || {
			echo "test.sh: could not fetch axe-core $axe_version with npm" >&2
			exit 1
		}
		if ! echo "$axe_sha256  $work/package/axe.min.js" | sha256sum -c --status -; then
			echo "test.sh: axe-core $axe_version's axe.min.js does not have the pinned SHA-256" >&2
			exit 1
		fi
		mkdir -p "$axe_dir"
		cp "$work/package/LICENSE" "$axe_dir/LICENSE"
		cp "$work/package/axe.min.js" "$axe_dir/axe.min.js.tmp"
		mv "$axe_dir/axe.min.js.tmp" "$axe_dir/axe.min.js"
	fi
	export TRUSTWARD_AXE="$axe_dir/axe.min.js"
fi

# --- One PostgreSQL server for the whole run ------------------------------

export TRUSTWARD_TEST_REQUIRE="${TRUSTWARD_TEST_REQUIRE-postgres,chromium,oathtool,litewitness,axe}"
if [ -z "${TRUSTWARD_TEST_PG:-}" ]; then
	say "starting PostgreSQL"
	go build -o "$work/pgserver" ./internal/db/dbtest/cmd/pgserver
	coproc PGSERVER { exec "$work/pgserver"; }
	pg_pid=$PGSERVER_PID
	pg_in=${PGSERVER[1]}
	if read -r -t 120 url <&"${PGSERVER[0]}"; then
		export TRUSTWARD_TEST_PG=$url
		echo "$url"
	else
		wait "$pg_pid" 2>/dev/null || true
		pg_pid=
		if [[ ",$TRUSTWARD_TEST_REQUIRE," == *,postgres,* ]]; then
			echo "test.sh: PostgreSQL could not be started and TRUSTWARD_TEST_REQUIRE names it" >&2
			exit 1
		fi
		echo "test.sh: PostgreSQL could not be started; its tests will skip" >&2
	fi
fi

# --- Checks and tests -----------------------------------------------------

failed=()
step() {
	local name=$1
	shift
	say "$name"
	if ! "$@"; then
		failed+=("$name")
	fi
}

gofmt_check() {
	local files
	files=$(go list -e -f '{{.Dir}}' "${pkgs[@]}" | while read -r d; do
		find "$d" -maxdepth 1 -name '*.go'
	done | xargs -r gofmt -l | sed "s|^$PWD/||")
	if [ -n "$files" ]; then
		echo "not gofmt-formatted:"
		echo "$files"
		return 1
	fi
}

race_pkgs=()
module=$(go list -m)
selected=$(go list -e "${pkgs[@]}" 2>/dev/null || true)
for p in "${race_candidates[@]}"; do
	if [ -d "$p" ] && grep -qxF "$module/$p" <<<"$selected"; then
		race_pkgs+=("./$p")
	fi
done

step gofmt gofmt_check
step vet go vet "${pkgs[@]}"
step staticcheck staticcheck "${pkgs[@]}"
step test go test -count=1 "${pkgs[@]}"
if [ ${#race_pkgs[@]} -gt 0 ]; then
	step race go test -race -count=1 "${race_pkgs[@]}"
fi

elapsed=$((SECONDS - started))
if [ ${#failed[@]} -gt 0 ]; then
	printf '\ntest.sh: FAIL (%s) in %ds\n' "${failed[*]}" "$elapsed"
	exit 1
fi
printf '\ntest.sh: PASS (gofmt, vet, staticcheck, test%s) in %ds\n' "${race_pkgs:+, race}" "$elapsed"
