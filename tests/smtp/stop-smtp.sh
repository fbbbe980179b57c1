#!/usr/bin/env bash
# Stops the SMTP server that tests/smtp/start-smtp.sh started (same SMTP_DIR), if it runs.
set -euo pipefail

SMTP_DIR="${SMTP_DIR:-${TMPDIR:-/tmp}/axum-login-smtp}"
PIDFILE="$SMTP_DIR/server.pid"

if [ ! -f "$PIDFILE" ]; then
  echo "no SMTP server started from $SMTP_DIR"
  exit 0
fi
PID="$(cat "$PIDFILE")"
if kill -0 "$PID" 2>/dev/null; then
  kill "$PID"
  for _ in $(seq 1 50); do
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$PID" 2>/dev/null; then
    echo "the SMTP server ($PID) did not stop on SIGTERM; killing it" >&2
    kill -9 "$PID"
  fi
  echo "stopped the SMTP server ($PID)"
fi
rm -f "$PIDFILE" "$SMTP_DIR/env"
