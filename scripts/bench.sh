#!/usr/bin/env bash
# Reproduces the figures in bench/REPORT.md: durable audit throughput on
# SQLite and PostgreSQL (fsync on), the time of `trustward demo`, and the
# chart-read path under load from a second process on loopback.
# Usage: scripts/bench.sh [seconds of load, default 20]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT

echo "== machine"
echo "cores: $(nproc)  memory: $(free -h | awk '/Mem:/{print $2}')  cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "go: $(go version | cut -d' ' -f3)  load before: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== audit recording with group commit (256 concurrent callers, durable commits)"
# An own PostgreSQL with fsync on: the shared test server runs with fsync off.
env -u TRUSTWARD_TEST_PG TRUSTWARD_TEST_PG_DURABLE=1 \
  go test -run XXX -bench BenchmarkAuditRecord -benchtime 100000x -count 3 ./bench/ | grep -E 'Benchmark|ok'

echo "== trustward demo (default hospital)"
go build -o "$work/trustward" ./cmd/trustward
/usr/bin/time -f "demo wall %es  user %Us  sys %Ss  max RSS %MKB" "$work/trustward" demo --data "$work/data" --log-level warn 2>&1 >/dev/null | grep -v 'Loading demo' | tr '\r' '\n' | grep -E 'demo wall|error' || true

echo "== chart reads through the API under load (64 clients, SQLite)"
"$work/trustward" serve --data "$work/data" --addr 127.0.0.1:18088 --log-level warn >"$work/serve.out" 2>"$work/serve.err" &
server=$!
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:18088/healthz >/dev/null && break; sleep 0.1; done
go build -o "$work/loadgen" ./bench/loadgen
"$work/loadgen" -url http://127.0.0.1:18088 -c 64 -d "${secs}s" -warmup 3s
echo "-- the same, open loop: 2,000 reads/s offered by 64 clients"
"$work/loadgen" -url http://127.0.0.1:18088 -c 64 -d "${secs}s" -warmup 3s -rate 2000
if command -v wrk >/dev/null; then
  echo "-- wrk (lighter client than Go's), closed loop, 64 connections"
  TOKEN=$(curl -s -H 'Content-Type: application/json' -d '{"username":"clinician","password":"trustward-demo-2026"}' http://127.0.0.1:18088/api/v1/sessions | sed -E 's/.*"token":"([^"]+)".*/\1/')
  IDS=$(curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:18088/api/v1/me/patients | sed -E 's/.*\[(.*)\].*/\1/; s/"//g')
  export TOKEN IDS
  wrk -t2 -c64 -d3s -s bench/chart.lua http://127.0.0.1:18088 >/dev/null
  wrk -t2 -c64 -d"${secs}s" --latency -s bench/chart.lua http://127.0.0.1:18088 | grep -E '50%|90%|99%|Requests/sec|non-200'
fi
kill "$server"; wait "$server" 2>/dev/null || true
server=

echo "== proofs: bundle verification and full-log verification rate"
go test -run XXX -bench BenchmarkVerifyBundle ./internal/proof/ | grep -E 'Benchmark|ok'
go test -run XXX -bench BenchmarkVerifyLog -benchtime 3x ./internal/proof/ | grep -E 'Benchmark|ok'
if [ "${LEDGER_BENCH_10M:-}" = 1 ]; then
  echo "== inclusion proof generation at LEDGER_BENCH_LEAVES (default 10 million) leaves; builds the log first (minutes)"
  go test -run XXX -bench BenchmarkInclusionProof10M -benchtime 2000x -timeout 60m ./bench/ | grep -E 'Benchmark|ok|built'
else
  echo "== inclusion proofs at 10 million leaves skipped (takes minutes): set LEDGER_BENCH_10M=1"
fi
