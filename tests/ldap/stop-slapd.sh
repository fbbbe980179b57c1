#!/usr/bin/env bash
# Stops the slapd that tests/ldap/start-slapd.sh started (same LDAP_DIR), if it runs.
set -euo pipefail

LDAP_DIR="${LDAP_DIR:-${TMPDIR:-/tmp}/axum-login-slapd}"
PIDFILE="$LDAP_DIR/slapd.run.pid"

if [ ! -f "$PIDFILE" ]; then
  echo "no slapd started from $LDAP_DIR"
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
    echo "slapd ($PID) did not stop on SIGTERM; killing it" >&2
    kill -9 "$PID"
  fi
  echo "stopped slapd ($PID)"
fi
rm -f "$PIDFILE" "$LDAP_DIR/env"
