# shellcheck shell=bash
# Sourced by tests/run.sh (or by hand: `source tests/postgres.sh`): makes a
# PostgreSQL server available for the store tests and exports
# COUNTERSIGN_TEST_POSTGRES_URL.
#
# - COUNTERSIGN_TEST_POSTGRES_URL already set: used as is, nothing started.
# - Otherwise a throwaway server is started from initdb/pg_ctl (on PATH or
#   under /usr/lib/postgresql/*/bin; installed with apt-get when missing and
#   running as root): a fresh data directory under mktemp -d, listening on
#   127.0.0.1 only, on a free port, its Unix socket in that directory, trust
#   authentication for a `countersign` superuser, fsync off (test data only).
#   initdb refuses to run as root, so as root the server runs as `postgres`
#   (created by the Debian package) or a system user `countersign-pg`.
#   An EXIT trap (chained with any existing one) stops the server and
#   removes the directory when the sourcing shell exits.
# - That server also speaks TLS, with certificates made here (a test CA, a
#   server certificate for IP 127.0.0.1 only, a client certificate for the
#   role `countersign_cert`, which must authenticate with it, and an
#   unrelated CA); COUNTERSIGN_TEST_POSTGRES_TLS_DIR names their directory
#   (ca.pem, client.pem, client.key, other-ca.pem).

countersign_pg_bindir() {
  local d
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return 0
  fi
  # Newest installed major version first.
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4,4 -rn); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

countersign_pg_free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
  else
    # No python: a random high port nobody answers on.
    local port
    while :; do
      port=$((20000 + RANDOM % 40000))
      if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "$port"
        return 0
      fi
    done
  fi
}

# Runs a command as the server's user (from the data directory's parent, so
# an unreadable working directory does not bother it).
countersign_pg_as_user() {
  if [ -n "$COUNTERSIGN_PG_USER" ]; then
    (cd "$COUNTERSIGN_PG_DIR" && runuser -u "$COUNTERSIGN_PG_USER" -- "$@")
  else
    (cd "$COUNTERSIGN_PG_DIR" && "$@")
  fi
}

countersign_pg_stop() {
  if [ -n "${COUNTERSIGN_PG_DIR:-}" ] && [ -d "$COUNTERSIGN_PG_DIR" ]; then
    countersign_pg_as_user "$COUNTERSIGN_PG_BIN/pg_ctl" -D "$COUNTERSIGN_PG_DIR/data" \
      -m fast -w -t 30 stop >/dev/null 2>&1 || true
    rm -rf "$COUNTERSIGN_PG_DIR"
  fi
}

# Writes the test PKI into $1 with Python's `cryptography` (the tests'
# virtual environment has it) or, failing that, the openssl command.
countersign_pg_make_pki() {
  local dir="$1" python="${COUNTERSIGN_PYTHON:-python3}"
  if "$python" -c 'import cryptography' 2>/dev/null; then
    "$python" - "$dir" <<'PY'
import datetime, ipaddress, sys
from pathlib import Path
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

out = Path(sys.argv[1])
now = datetime.datetime.now(datetime.timezone.utc)

def name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

def build(subject, key, issuer, issuer_key, extensions):
    b = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2)))
    for ext, critical in extensions:
        b = b.add_extension(ext, critical=critical)
    return b.sign(issuer_key, hashes.SHA256())

def write(stem, cert, key=None):
    (out / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        (out / f"{stem}.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

ca_ext = [(x509.BasicConstraints(ca=True, path_length=None), True)]
for stem, cn in (("ca", "countersign test PostgreSQL CA"), ("other-ca", "an unrelated CA")):
    key = ec.generate_private_key(ec.SECP256R1())
    write(stem, build(cn, key, cn, key, ca_ext), key if stem == "ca" else None)
    if stem == "ca":
        ca_key = key
ca = "countersign test PostgreSQL CA"
key = ec.generate_private_key(ec.SECP256R1())
write("server", build("127.0.0.1", key, ca, ca_key,
                      [(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)]), key)
key = ec.generate_private_key(ec.SECP256R1())
write("client", build("countersign_cert", key, ca, ca_key, []), key)
PY
  elif command -v openssl >/dev/null 2>&1; then
    (
      cd "$dir" &&
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
          -subj "/CN=countersign test PostgreSQL CA" -keyout ca.key -out ca.pem 2>/dev/null &&
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
          -subj "/CN=an unrelated CA" -keyout other-ca.key -out other-ca.pem 2>/dev/null &&
        rm -f other-ca.key &&
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=127.0.0.1" \
          -keyout server.key -out server.csr 2>/dev/null &&
        printf 'subjectAltName=IP:127.0.0.1\n' >server.ext &&
        openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
          -extfile server.ext -out server.pem 2>/dev/null &&
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=countersign_cert" \
          -keyout client.key -out client.csr 2>/dev/null &&
        openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
          -out client.pem 2>/dev/null &&
        rm -f ./*.csr server.ext ca.srl
    )
  else
    echo "error: neither Python's cryptography nor openssl to make the test certificates" >&2
    return 1
  fi
}

countersign_pg_start() {
  if [ -n "${COUNTERSIGN_TEST_POSTGRES_URL:-}" ]; then
    echo "== PostgreSQL: using COUNTERSIGN_TEST_POSTGRES_URL"
    return 0
  fi
  local started_at bindir
  started_at=$(date +%s%N)
  if ! bindir=$(countersign_pg_bindir); then
    if [ "$(id -u)" != 0 ]; then
      echo "error: PostgreSQL (initdb, pg_ctl) not found and not root to install it;" \
        "install PostgreSQL or set COUNTERSIGN_TEST_POSTGRES_URL" >&2
      return 1
    fi
    echo "== installing PostgreSQL (apt-get)"
    if ! { apt-get update -qq >/dev/null &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        postgresql >/dev/null; }; then
      echo "error: apt-get install postgresql failed" >&2
      return 1
    fi
    if ! bindir=$(countersign_pg_bindir); then
      echo "error: PostgreSQL installed but initdb/pg_ctl not found" >&2
      return 1
    fi
  fi
  COUNTERSIGN_PG_BIN="$bindir"

  COUNTERSIGN_PG_USER=""
  if [ "$(id -u)" = 0 ]; then
    if id -u postgres >/dev/null 2>&1; then
      COUNTERSIGN_PG_USER=postgres
    else
      if ! id -u countersign-pg >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir /nonexistent \
          --shell /usr/sbin/nologin countersign-pg || {
          echo "error: cannot create the countersign-pg user" >&2
          return 1
        }
      fi
      COUNTERSIGN_PG_USER=countersign-pg
    fi
  fi

  COUNTERSIGN_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/countersign-pg.XXXXXX") || return 1
  chmod 700 "$COUNTERSIGN_PG_DIR"
  if [ -n "$COUNTERSIGN_PG_USER" ]; then
    chown "$COUNTERSIGN_PG_USER" "$COUNTERSIGN_PG_DIR"
  fi

  # Stop the server and remove the directory when the sourcing shell exits,
  # after whatever EXIT trap was there before.
  local previous=()
  eval "previous=( $(trap -p EXIT) )"
  if [ "${#previous[@]}" -ge 3 ]; then
    COUNTERSIGN_PG_PREVIOUS_TRAP="${previous[2]}"
    trap 'countersign_pg_stop; eval "$COUNTERSIGN_PG_PREVIOUS_TRAP"' EXIT
  else
    trap countersign_pg_stop EXIT
  fi

  if ! countersign_pg_as_user "$bindir/initdb" -D "$COUNTERSIGN_PG_DIR/data" -U countersign \
    --auth=trust --encoding=UTF8 --no-locale >"$COUNTERSIGN_PG_DIR/initdb.log" 2>&1; then
    echo "error: initdb failed:" >&2
    cat "$COUNTERSIGN_PG_DIR/initdb.log" >&2
    return 1
  fi

  # TLS: the server's certificate and key where it reads them, client
  # certificates checked against the test CA, and one role that must
  # present a client certificate (first matching pg_hba line wins).
  local tls="$COUNTERSIGN_PG_DIR/tls"
  mkdir -p "$tls"
  if ! countersign_pg_make_pki "$tls"; then
    return 1
  fi
  rm -f "$tls/ca.key"
  mv "$tls/server.pem" "$tls/server.key" "$COUNTERSIGN_PG_DIR/data/"
  chmod 600 "$COUNTERSIGN_PG_DIR/data/server.key" "$tls/client.key"
  {
    echo "hostssl all countersign_cert 127.0.0.1/32 cert"
    echo "host all countersign_cert 127.0.0.1/32 reject"
    cat "$COUNTERSIGN_PG_DIR/data/pg_hba.conf"
  } >"$COUNTERSIGN_PG_DIR/pg_hba.conf.new"
  mv "$COUNTERSIGN_PG_DIR/pg_hba.conf.new" "$COUNTERSIGN_PG_DIR/data/pg_hba.conf"
  if [ -n "$COUNTERSIGN_PG_USER" ]; then
    chown -R "$COUNTERSIGN_PG_USER" "$COUNTERSIGN_PG_DIR/data" "$tls"
  fi
  local ssl_options="-c ssl=on -c ssl_cert_file=$COUNTERSIGN_PG_DIR/data/server.pem"
  ssl_options+=" -c ssl_key_file=$COUNTERSIGN_PG_DIR/data/server.key -c ssl_ca_file=$tls/ca.pem"

  local port attempt
  for attempt in 1 2 3 4 5; do
    port=$(countersign_pg_free_port)
    if countersign_pg_as_user "$bindir/pg_ctl" -D "$COUNTERSIGN_PG_DIR/data" \
      -l "$COUNTERSIGN_PG_DIR/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$COUNTERSIGN_PG_DIR -c fsync=off -c full_page_writes=off $ssl_options" \
      start >/dev/null 2>&1; then
      export COUNTERSIGN_TEST_POSTGRES_URL="postgres://countersign@127.0.0.1:$port/postgres"
      export COUNTERSIGN_TEST_POSTGRES_TLS_DIR="$tls"
      echo "== PostgreSQL $("$bindir/pg_ctl" --version | awk '{print $3}') on 127.0.0.1:$port" \
        "(started in $((($(date +%s%N) - started_at) / 1000000)) ms, data in $COUNTERSIGN_PG_DIR)"
      return 0
    fi
    echo "== PostgreSQL did not start on port $port (attempt $attempt)" >&2
  done
  echo "error: PostgreSQL did not start; server log:" >&2
  cat "$COUNTERSIGN_PG_DIR/server.log" >&2 2>/dev/null || true
  return 1
}

countersign_pg_start
