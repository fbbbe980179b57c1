#!/usr/bin/env bash
# Starts the OpenLDAP server that the LDAP tests and `examples/ldap` talk to: its own slapd on
# loopback (ldap://127.0.0.1:3890 and ldaps://127.0.0.1:6360), configured from a generated
# slapd.conf in a state directory, seeded with slapadd. Installs Debian's slapd and ldap-utils
# when they are missing. Idempotent: a server already answering on the port is reused.
#
# Writes the variables the tests read to "$LDAP_DIR/env" (source it) and prints them.
# Stop the server with tests/ldap/stop-slapd.sh.
#
# LDAP_DIR   state directory (default: ${TMPDIR:-/tmp}/axum-login-slapd)
# LDAP_PORT  plain LDAP and StartTLS port (default 3890); LDAPS_PORT ldaps:// port (default 6360)
set -euo pipefail

LDAP_DIR="${LDAP_DIR:-${TMPDIR:-/tmp}/axum-login-slapd}"
LDAP_PORT="${LDAP_PORT:-3890}"
LDAPS_PORT="${LDAPS_PORT:-6360}"
HOST=127.0.0.1
SUFFIX="dc=example,dc=test"
ADMIN_DN="cn=admin,$SUFFIX"
ADMIN_PASSWORD="admin-secret"
SERVICE_DN="cn=service,$SUFFIX"
SERVICE_PASSWORD="service-secret"

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

write_env() {
  cat >"$LDAP_DIR/env" <<EOF
export LDAP_URL="ldap://$HOST:$LDAP_PORT"
export LDAPS_URL="ldaps://$HOST:$LDAPS_PORT"
export LDAP_CA_CERT="$LDAP_DIR/ca.pem"
export LDAP_BASE_DN="$SUFFIX"
export LDAP_BIND_DN="$SERVICE_DN"
export LDAP_BIND_PASSWORD="$SERVICE_PASSWORD"
export LDAP_ADMIN_DN="$ADMIN_DN"
export LDAP_ADMIN_PASSWORD="$ADMIN_PASSWORD"
EOF
  cat "$LDAP_DIR/env"
}

if port_open "$HOST" "$LDAP_PORT"; then
  if [ -f "$LDAP_DIR/env" ]; then
    echo "slapd already answers on $HOST:$LDAP_PORT; reusing it"
    cat "$LDAP_DIR/env"
    exit 0
  fi
  echo "error: something else listens on $HOST:$LDAP_PORT (no $LDAP_DIR/env); stop it or set LDAP_PORT" >&2
  exit 1
fi

if ! command -v slapd >/dev/null && [ ! -x /usr/sbin/slapd ]; then
  echo "installing slapd and ldap-utils"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  # Without this, the package creates a configuration and database of its own and may start a
  # system slapd on port 389; ours needs neither.
  echo "slapd slapd/no_configuration boolean true" | $SUDO debconf-set-selections
  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slapd ldap-utils
fi
SLAPD="$(command -v slapd || echo /usr/sbin/slapd)"
SLAPADD="$(command -v slapadd || echo /usr/sbin/slapadd)"
SLAPPASSWD="$(command -v slappasswd || echo /usr/sbin/slappasswd)"

# A fresh state directory each start: the seed below is the whole directory.
rm -rf "$LDAP_DIR"
mkdir -p "$LDAP_DIR/data"
chmod 700 "$LDAP_DIR"

# A CA and a server certificate for 127.0.0.1 and localhost, for ldaps:// and StartTLS.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
  -subj "/CN=axum-login test CA" -keyout "$LDAP_DIR/ca.key" -out "$LDAP_DIR/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -subj "/CN=localhost" -keyout "$LDAP_DIR/server.key" -out "$LDAP_DIR/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$LDAP_DIR/server.ext"
openssl x509 -req -in "$LDAP_DIR/server.csr" -CA "$LDAP_DIR/ca.pem" -CAkey "$LDAP_DIR/ca.key" \
  -CAcreateserial -days 30 -extfile "$LDAP_DIR/server.ext" -out "$LDAP_DIR/server.pem" 2>/dev/null

hash() { "$SLAPPASSWD" -h '{SSHA}' -s "$1"; }

cat >"$LDAP_DIR/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema

pidfile $LDAP_DIR/slapd.pid
argsfile $LDAP_DIR/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof

TLSCACertificateFile $LDAP_DIR/ca.pem
TLSCertificateFile $LDAP_DIR/server.pem
TLSCertificateKeyFile $LDAP_DIR/server.key

database mdb
maxsize 104857600
suffix "$SUFFIX"
rootdn "$ADMIN_DN"
rootpw $(hash "$ADMIN_PASSWORD")
directory $LDAP_DIR/data
index objectClass eq
index uid eq
index member eq

# memberOf on each user, kept in step with the groups' member values on every change.
overlay memberof
memberof-refint true

# Passwords: a user may change their own; anyone may bind with one; nobody reads them.
access to attrs=userPassword
  by self write
  by anonymous auth
  by * none
# The service account reads the directory; a user reads their own entry; anonymous nothing.
access to *
  by dn.exact="$SERVICE_DN" read
  by self read
  by * none
EOF

# memberOf is written here as the overlay would have: slapadd runs no overlays.
cat >"$LDAP_DIR/seed.ldif" <<EOF
dn: $SUFFIX
objectClass: dcObject
objectClass: organization
dc: example
o: axum-login tests

dn: $SERVICE_DN
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: service
userPassword: $(hash "$SERVICE_PASSWORD")

dn: ou=people,$SUFFIX
objectClass: organizationalUnit
ou: people

dn: ou=groups,$SUFFIX
objectClass: organizationalUnit
ou: groups

dn: uid=ferris,ou=people,$SUFFIX
objectClass: inetOrgPerson
uid: ferris
cn: Ferris the Crab
sn: Crab
mail: ferris@example.test
userPassword: $(hash hunter42)
memberOf: cn=staff,ou=groups,$SUFFIX

dn: uid=admin,ou=people,$SUFFIX
objectClass: inetOrgPerson
uid: admin
cn: Ada Admin
sn: Admin
mail: admin@example.test
userPassword: $(hash correct-horse-battery)
memberOf: cn=staff,ou=groups,$SUFFIX
memberOf: cn=admins,ou=groups,$SUFFIX

dn: uid=carol,ou=people,$SUFFIX
objectClass: inetOrgPerson
uid: carol
cn: Carol in no group
sn: Carol
userPassword: $(hash carol-password)

dn: cn=staff,ou=groups,$SUFFIX
objectClass: groupOfNames
cn: staff
member: uid=ferris,ou=people,$SUFFIX
member: uid=admin,ou=people,$SUFFIX

dn: cn=admins,ou=groups,$SUFFIX
objectClass: groupOfNames
cn: admins
member: uid=admin,ou=people,$SUFFIX
EOF

"$SLAPADD" -q -f "$LDAP_DIR/slapd.conf" -l "$LDAP_DIR/seed.ldif"

# -d stats: stay in the foreground (stop-slapd.sh kills the pid) and log each connection and
# operation to slapd.log.
setsid "$SLAPD" -d stats -f "$LDAP_DIR/slapd.conf" \
  -h "ldap://$HOST:$LDAP_PORT/ ldaps://$HOST:$LDAPS_PORT/" \
  >"$LDAP_DIR/slapd.log" 2>&1 </dev/null &
echo $! >"$LDAP_DIR/slapd.run.pid"

for _ in $(seq 1 100); do
  if port_open "$HOST" "$LDAP_PORT" && port_open "$HOST" "$LDAPS_PORT"; then
    echo "slapd is up on ldap://$HOST:$LDAP_PORT and ldaps://$HOST:$LDAPS_PORT (log: $LDAP_DIR/slapd.log)"
    write_env
    exit 0
  fi
  if ! kill -0 "$(cat "$LDAP_DIR/slapd.run.pid")" 2>/dev/null; then
    echo "error: slapd exited; its log:" >&2
    tail -n 30 "$LDAP_DIR/slapd.log" >&2
    exit 1
  fi
  sleep 0.1
done
echo "error: slapd did not open $HOST:$LDAP_PORT and $HOST:$LDAPS_PORT" >&2
tail -n 30 "$LDAP_DIR/slapd.log" >&2
exit 1
