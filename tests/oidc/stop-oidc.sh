#!/usr/bin/env bash
# Stops the OpenID Connect provider that tests/oidc/start-oidc.sh started (same OIDC_DIR), if it
# runs. The npm packages stay in the state directory for the next start.
set -euo pipefail

OIDC_DIR="${OIDC_DIR:-${TMPDIR:-/tmp}/axum-login-oidc}"
PIDFILE="$OIDC_DIR/server.pid"

if [ ! -f "$PIDFILE" ]; then
  echo "no OpenID Connect provider started from $OIDC_DIR"
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
    echo "the OpenID Connect provider ($PID) did not stop on SIGTERM; killing it" >&2
    kill -9 "$PID"
  fi
  echo "stopped the OpenID Connect provider ($PID)"
fi
rm -f "$PIDFILE" "$OIDC_DIR/env"
