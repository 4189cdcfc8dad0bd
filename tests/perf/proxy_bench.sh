#!/usr/bin/env bash
# HTTPS_PROXY interception, measured: Countersign beside mitmproxy (plain
# interception, mitmdump) in the same run, with the same load generator
# (crates/gateway/examples/proxy_load.rs), the same stand-in upstream and the
# same CPU pinning: the proxy under test on core 0, load generator and
# upstream on core 1. Only 127.0.0.1 is used; mitmproxy runs with
# connection_strategy=lazy and upstream_cert=false and an addon that sends
# every intercepted request to the local upstream, so nothing leaves.
#
#   tests/perf/proxy_bench.sh            # 10 s per run
#   SECS=5 tests/perf/proxy_bench.sh
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
secs="${SECS:-10}"
target="${CARGO_TARGET_DIR:-$repo/target}"
mitm_venv="${MITM_VENV:-$repo/target/mitm-venv}"

cargo build --release --locked -p countersign
cargo build --release --locked -p countersign-gateway --example proxy_load
bin="$target/release/countersign"
load="$target/release/examples/proxy_load"
if [ ! -x "$mitm_venv/bin/mitmdump" ]; then
  python3 -m venv "$mitm_venv"
  "$mitm_venv/bin/pip" install --quiet --disable-pip-version-check mitmproxy==11.0.2
fi

work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM
# `taskset -c N` on two cores or more (it execs the command, so $! is its pid).
pin() { if [ "$(nproc)" -ge 2 ]; then echo taskset -c "$1"; fi; }
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 not up" >&2; return 1; }

up=$(port); cs=$(port); mp=$(port)
$(pin 1) "$load" backend --port "$up" & pids+=($!)
"$bin" ca init --dir "$work/ca" >/dev/null 2>&1
cat > "$work/countersign.toml" <<TOML
[server]
listen = "127.0.0.1:$cs"
[upstream]
endpoint_override = "http://127.0.0.1:$up"
access_key_id = "AKIDBENCHUPSTREAM"
secret_access_key = "bench-upstream-secret"
[[principal]]
name = "bench"
access_keys = [{ id = "AKCSBENCHPROXY000001", secret = "bench-proxy-secret-0123456789abcdefghij" }]
policies = ["all"]
[policy.all]
document = '''{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'''
[audit]
sink = "none"
[proxy]
ca_cert = "$work/ca/ca.pem"
ca_key = "$work/ca/ca-key.pem"
TOML
RUST_LOG=warn $(pin 0) "$bin" serve --config "$work/countersign.toml" 2>"$work/countersign.log" & pids+=($!)
cat > "$work/redirect.py" <<PY
def request(flow):
    flow.request.scheme = "http"
    flow.request.host = "127.0.0.1"
    flow.request.port = $up
PY
$(pin 0) "$mitm_venv/bin/mitmdump" -q --listen-host 127.0.0.1 --listen-port "$mp" --set confdir="$work/mitm" \
  --set connection_strategy=lazy --set upstream_cert=false --set flow_detail=0 -s "$work/redirect.py" \
  >"$work/mitm.log" 2>&1 & pids+=($!)
wait_port "$up"; wait_port "$cs"; wait_port "$mp"
for _ in $(seq 100); do [ -s "$work/mitm/mitmproxy-ca-cert.pem" ] && break; sleep 0.1; done

run() { $(pin 1) "$load" load --proxy "127.0.0.1:$1" --ca "$2" --mode "$3" --connections "$4" --secs "$secs"; }
rate() { sed -E 's/.*"per_second":([0-9.]+).*/\1/'; }
echo "== warm-up"; run "$cs" "$work/ca/ca.pem" keepalive 4 1 >/dev/null; run "$mp" "$work/mitm/mitmproxy-ca-cert.pem" keepalive 4 1 >/dev/null
echo "== runs (${secs}s each)"
cs_ka=$(run "$cs" "$work/ca/ca.pem" keepalive 16); echo "countersign keepalive: $cs_ka"
mp_ka=$(run "$mp" "$work/mitm/mitmproxy-ca-cert.pem" keepalive 16); echo "mitmproxy   keepalive: $mp_ka"
cs_hs=$(run "$cs" "$work/ca/ca.pem" handshake 8); echo "countersign handshake: $cs_hs"
mp_hs=$(run "$mp" "$work/mitm/mitmproxy-ca-cert.pem" handshake 8); echo "mitmproxy   handshake: $mp_hs"
python3 - "$(echo "$cs_ka" | rate)" "$(echo "$mp_ka" | rate)" "$(echo "$cs_hs" | rate)" "$(echo "$mp_hs" | rate)" <<'PY'
import sys
cs_ka, mp_ka, cs_hs, mp_hs = map(float, sys.argv[1:])
print()
print("| scenario (proxy pinned to 1 core) | Countersign | mitmproxy 11.0.2 | ratio |")
print("|---|---:|---:|---:|")
print(f"| signed STS calls/s, keep-alive, 16 tunnels | {cs_ka:,.0f} | {mp_ka:,.0f} | {cs_ka / max(mp_ka, 1e-9):.1f}x |")
print(f"| new tunnel + full TLS handshake + 1 call /s, 8 clients | {cs_hs:,.0f} | {mp_hs:,.0f} | {cs_hs / max(mp_hs, 1e-9):.1f}x |")
PY
