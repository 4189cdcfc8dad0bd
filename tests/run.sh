#!/usr/bin/env bash
# Runs every test of Countersign: formatting-independent unit and
# integration tests of the whole workspace, the Rust SDK end-to-end test,
# the store tests against a real PostgreSQL, and the Python end-to-end suite
# (boto3, AWS CLI) against moto_server.
# Installs what it needs: a Python virtual environment with pinned packages,
# and (see tests/postgres.sh) a throwaway PostgreSQL server unless
# COUNTERSIGN_TEST_POSTGRES_URL points at one.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

venv="$repo/tests/.venv"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
  echo "== creating $venv"
  "$python" -m venv "$venv"
fi
stamp="$venv/.requirements.sha256"
want="$(sha256sum tests/requirements.txt | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "== installing pinned test dependencies"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/requirements.txt
  echo "$want" > "$stamp"
fi

# One feature set for every cargo invocation below (always `--workspace` in
# test mode), so dependencies are compiled once: `cargo build -p countersign`
# or `cargo test -p countersign-identity` would resolve features differently
# and build a second copy of much of the tree.
echo "== building the workspace's tests and binaries"
cargo test --locked --workspace --no-run
export COUNTERSIGN_BIN="${CARGO_TARGET_DIR:-$repo/target}/debug/countersign"
export COUNTERSIGN_PYTHON="$venv/bin/python"

echo "== PostgreSQL for the store tests"
# shellcheck source=tests/postgres.sh
source "$repo/tests/postgres.sh"

echo "== cargo test (workspace: unit, conformance, differential, corpus replay, SDK end to end)"
cargo test --locked --workspace

echo "== cargo test (identity store against PostgreSQL: the ignored tests)"
cargo test --locked --workspace --lib -- --ignored store::postgres::

echo "== end to end: boto3 and the AWS CLI through the gateway to moto_server"
"$venv/bin/python" -m pytest tests/python -q -p no:cacheprovider
