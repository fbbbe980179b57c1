#!/usr/bin/env bash
# Starts the SMTP server that the mail tests talk to (tests/tests/mail_smtp.rs): tests/smtp/server.py
# on aiosmtpd, on loopback, from a state directory:
#
#   smtp://127.0.0.1:2525                   plain, no AUTH
#   smtp://127.0.0.1:2587?tls=starttls      STARTTLS required, AUTH required
#   smtps://127.0.0.1:2465                  implicit TLS, AUTH required
#
# with a test CA and a server certificate for 127.0.0.1 and localhost made here, and every
# message saved to a Maildir. Needs Debian's python3-aiosmtpd (.ci/run installs it).
# Idempotent: a server already answering on the port is reused.
#
# Writes the variables the tests read to "$SMTP_DIR/env" (source it) and prints them:
# SMTP_URL, SMTP_STARTTLS_URL, SMTPS_URL, SMTP_CA_CERT, SMTP_MAILBOX.
# Stop the server with tests/smtp/stop-smtp.sh.
#
# SMTP_DIR            state directory (default: ${TMPDIR:-/tmp}/axum-login-smtp)
# SMTP_PORT           plain port (default 2525); SMTP_STARTTLS_PORT (2587); SMTPS_PORT (2465)
# SMTP_PYTHON         the Python that has aiosmtpd (default: /usr/bin/python3, Debian's)
set -euo pipefail

SMTP_DIR="${SMTP_DIR:-${TMPDIR:-/tmp}/axum-login-smtp}"
SMTP_PORT="${SMTP_PORT:-2525}"
SMTP_STARTTLS_PORT="${SMTP_STARTTLS_PORT:-2587}"
SMTPS_PORT="${SMTPS_PORT:-2465}"
SMTP_PYTHON="${SMTP_PYTHON:-/usr/bin/python3}"
HOST=127.0.0.1
SMTP_USER="mailer"
SMTP_PASSWORD="mail-secret"
HERE="$(cd "$(dirname "$0")" && pwd)"

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

write_env() {
  cat >"$SMTP_DIR/env" <<ENV
export SMTP_URL="smtp://$HOST:$SMTP_PORT"
export SMTP_STARTTLS_URL="smtp://$SMTP_USER:$SMTP_PASSWORD@$HOST:$SMTP_STARTTLS_PORT?tls=starttls"
export SMTPS_URL="smtps://$SMTP_USER:$SMTP_PASSWORD@$HOST:$SMTPS_PORT"
export SMTP_CA_CERT="$SMTP_DIR/ca.pem"
export SMTP_MAILBOX="$SMTP_DIR/Maildir"
ENV
  cat "$SMTP_DIR/env"
}

if port_open "$HOST" "$SMTP_PORT"; then
  if [ -f "$SMTP_DIR/env" ]; then
    echo "an SMTP server already answers on $HOST:$SMTP_PORT; reusing it"
    cat "$SMTP_DIR/env"
    exit 0
  fi
  echo "error: something else listens on $HOST:$SMTP_PORT (no $SMTP_DIR/env); stop it or set SMTP_PORT" >&2
  exit 1
fi

if ! "$SMTP_PYTHON" -c 'import aiosmtpd' 2>/dev/null; then
  echo "error: $SMTP_PYTHON cannot import aiosmtpd; install Debian's python3-aiosmtpd" \
    "(apt-get install python3-aiosmtpd) or set SMTP_PYTHON" >&2
  exit 1
fi

# A fresh state directory each start: the tests find their messages in an empty Maildir, which
# the server creates.
rm -rf "$SMTP_DIR"
mkdir -p "$SMTP_DIR"
chmod 700 "$SMTP_DIR"

# A CA and a server certificate for 127.0.0.1 and localhost, for STARTTLS and SMTPS.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
  -subj "/CN=axum-login mail test CA" -keyout "$SMTP_DIR/ca.key" -out "$SMTP_DIR/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -subj "/CN=localhost" -keyout "$SMTP_DIR/server.key" -out "$SMTP_DIR/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$SMTP_DIR/server.ext"
openssl x509 -req -in "$SMTP_DIR/server.csr" -CA "$SMTP_DIR/ca.pem" -CAkey "$SMTP_DIR/ca.key" \
  -CAcreateserial -days 30 -extfile "$SMTP_DIR/server.ext" -out "$SMTP_DIR/server.pem" 2>/dev/null

# In its own session, so that the shell that started it can end without taking it along;
# stop-smtp.sh kills the pid.
setsid "$SMTP_PYTHON" "$HERE/server.py" --host "$HOST" --port "$SMTP_PORT" \
  --starttls-port "$SMTP_STARTTLS_PORT" --smtps-port "$SMTPS_PORT" \
  --maildir "$SMTP_DIR/Maildir" --cert "$SMTP_DIR/server.pem" --key "$SMTP_DIR/server.key" \
  --user "$SMTP_USER" --password "$SMTP_PASSWORD" \
  >"$SMTP_DIR/server.log" 2>&1 </dev/null &
echo $! >"$SMTP_DIR/server.pid"

for _ in $(seq 1 100); do
  if port_open "$HOST" "$SMTP_PORT" && port_open "$HOST" "$SMTP_STARTTLS_PORT" \
    && port_open "$HOST" "$SMTPS_PORT"; then
    echo "SMTP server is up on $HOST:$SMTP_PORT, $SMTP_STARTTLS_PORT (STARTTLS), $SMTPS_PORT (SMTPS) (log: $SMTP_DIR/server.log)"
    write_env
    exit 0
  fi
  if ! kill -0 "$(cat "$SMTP_DIR/server.pid")" 2>/dev/null; then
    echo "error: the SMTP server exited; its log:" >&2
    tail -n 30 "$SMTP_DIR/server.log" >&2
    exit 1
  fi
  sleep 0.1
done
echo "error: the SMTP server did not open $HOST:$SMTP_PORT, $SMTP_STARTTLS_PORT and $SMTPS_PORT" >&2
tail -n 30 "$SMTP_DIR/server.log" >&2
exit 1
