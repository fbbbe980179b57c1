#!/usr/bin/env bash
# Starts the OpenID Connect provider that the OIDC tests sign in at: tests/oidc/server.js on
# oidc-provider (npm, pinned by tests/oidc/package-lock.json), on loopback:
#
#   http://127.0.0.1:4011      issuer; discovery at /.well-known/openid-configuration
#
# with the confidential clients app-a and app-b and the users alice, bob and carol (server.js
# lists them). Needs Node.js and npm. Idempotent: a provider already answering on the port is
# reused.
#
# The npm packages go into the state directory, not into tests/oidc: the work tree stays as
# checked out, and a later start on the same machine reuses them while the lock file is
# unchanged.
#
# Writes the variables the tests read to "$OIDC_DIR/env" (source it) and prints them:
# OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_CLIENT_B_ID, OIDC_CLIENT_B_SECRET.
# Stop the provider with tests/oidc/stop-oidc.sh.
#
# OIDC_DIR    state directory (default: ${TMPDIR:-/tmp}/axum-login-oidc)
# OIDC_PORT   port (default 4011)
set -euo pipefail

OIDC_DIR="${OIDC_DIR:-${TMPDIR:-/tmp}/axum-login-oidc}"
OIDC_PORT="${OIDC_PORT:-4011}"
HOST=127.0.0.1
ISSUER="http://$HOST:$OIDC_PORT"
HERE="$(cd "$(dirname "$0")" && pwd)"
APP="$OIDC_DIR/app"

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

write_env() {
  cat >"$OIDC_DIR/env" <<ENV
export OIDC_ISSUER="$ISSUER"
export OIDC_CLIENT_ID="app-a"
export OIDC_CLIENT_SECRET="app-a-secret"
export OIDC_CLIENT_B_ID="app-b"
export OIDC_CLIENT_B_SECRET="app-b-secret"
ENV
  cat "$OIDC_DIR/env"
}

if port_open "$HOST" "$OIDC_PORT"; then
  if [ -f "$OIDC_DIR/env" ]; then
    echo "an OpenID Connect provider already answers on $HOST:$OIDC_PORT; reusing it"
    cat "$OIDC_DIR/env"
    exit 0
  fi
  echo "error: something else listens on $HOST:$OIDC_PORT (no $OIDC_DIR/env); stop it or set OIDC_PORT" >&2
  exit 1
fi

for tool in node npm curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "error: $tool is missing; the provider runs on Node.js with npm packages" >&2
    exit 1
  fi
done

mkdir -p "$APP"
chmod 700 "$OIDC_DIR"
rm -f "$OIDC_DIR/env" "$OIDC_DIR/server.pid"

# npm ci empties node_modules first, so it runs only when the lock file changed or the
# packages are not there.
if [ ! -d "$APP/node_modules/oidc-provider" ] || ! cmp -s "$HERE/package-lock.json" "$APP/package-lock.json"; then
  echo "installing the provider's npm packages into $APP"
  cp "$HERE/package.json" "$HERE/package-lock.json" "$APP/"
  (cd "$APP" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
fi
# Beside its node_modules, where Node resolves the server's imports from.
cp "$HERE/server.js" "$APP/server.js"

# In its own session, so that the shell that started it can end without taking it along;
# stop-oidc.sh kills the pid.
(cd "$APP" && OIDC_PORT="$OIDC_PORT" exec setsid node server.js) \
  >"$OIDC_DIR/server.log" 2>&1 </dev/null &
echo $! >"$OIDC_DIR/server.pid"

for _ in $(seq 1 100); do
  if curl -sf -o /dev/null "$ISSUER/.well-known/openid-configuration"; then
    echo "OpenID Connect provider is up at $ISSUER (log: $OIDC_DIR/server.log)"
    write_env
    exit 0
  fi
  if ! kill -0 "$(cat "$OIDC_DIR/server.pid")" 2>/dev/null; then
    echo "error: the OpenID Connect provider exited; its log:" >&2
    tail -n 30 "$OIDC_DIR/server.log" >&2
    exit 1
  fi
  sleep 0.1
done
echo "error: the OpenID Connect provider did not answer at $ISSUER/.well-known/openid-configuration" >&2
tail -n 30 "$OIDC_DIR/server.log" >&2
exit 1
