# Shared by scripts/test, scripts/demo and scripts/bench-queue. Source it; it changes nothing by itself.
# shellcheck shell=bash

CLUBOS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CLUBOS_BUILD=${CLUBOS_BUILD:-$CLUBOS_ROOT/build}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The Debian packages the build, the tests and the private Postgres need.
CLUBOS_PACKAGES=(g++ cmake ninja-build pkg-config git ca-certificates
  libpqxx-dev libpq-dev libpistache-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libcurl4-openssl-dev libssl-dev libsodium-dev postgresql postgresql-client pgbouncer clang-format
  procps util-linux passwd tzdata
  nodejs chromium)  # the console's browser tests (tests/browser, ctest -L browser)
# Debian's nodejs needs its npm package; NodeSource's nodejs carries npm and conflicts with it.
command -v npm >/dev/null 2>&1 || CLUBOS_PACKAGES+=(npm)

# Installs what is missing (apt-get), as root directly or through sudo.
ensure_packages() {
  local missing=()
  for p in "${CLUBOS_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "missing packages (${missing[*]}) and no sudo to install them"
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

build() {
  say "building ($CLUBOS_BUILD)"
  cmake -S "$CLUBOS_ROOT" -B "$CLUBOS_BUILD" -G Ninja -DCMAKE_BUILD_TYPE="${CLUBOS_BUILD_TYPE:-RelWithDebInfo}" \
    ${CLUBOS_CMAKE_ARGS:-} >/dev/null
  cmake --build "$CLUBOS_BUILD" -- -j"$(nproc)"
  browser_deps
}

# playwright-core for the browser tests, from the lockfile, only when the lockfile changed (a stamp
# in the build folder). Never a browser download: the tests drive Debian's /usr/bin/chromium.
browser_deps() {
  local dir="$CLUBOS_ROOT/tests/browser" stamp="$CLUBOS_BUILD/browser-deps.stamp"
  [ -f "$dir/package-lock.json" ] || return 0
  command -v npm >/dev/null || die "npm is missing (apt-get install npm)"
  local sum
  sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  if [ -d "$dir/node_modules" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ]; then return 0; fi
  say "installing the browser tests' packages (npm ci in tests/browser)"
  # Node trusts only its own CA list unless told: a machine whose administrator added a CA to the
  # system's store (a company's TLS proxy) is trusted for npm's downloads too.
  local ca=${NODE_EXTRA_CA_CERTS:-}
  [ -z "$ca" ] && [ -f /etc/ssl/certs/ca-certificates.crt ] && ca=/etc/ssl/certs/ca-certificates.crt
  (cd "$dir" && NODE_EXTRA_CA_CERTS=$ca PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
    npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  mkdir -p "$CLUBOS_BUILD"
  echo "$sum" > "$stamp"
}

# The newest installed server (looked up when needed: it may be installed by ensure_packages).
pg_bin() {
  [ -n "${PG_BIN:-}" ] || PG_BIN=$( (ls -d /usr/lib/postgresql/*/bin 2>/dev/null || true) | sort -V | tail -1)
  export PG_BIN
}

_as_pg() {  # initdb refuses root: run the server as the postgres user then
  if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

_free_port() {
  local p
  for p in $(seq "${1:-55432}" 65000); do
    (echo >/dev/tcp/127.0.0.1/"$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  return 1
}

# pg_up DIR [durable]: a private cluster in DIR (created if needed, reused if it holds one).
# Exports PG_DIR PG_PORT CLUBOS_PG_ADMIN_URL. "durable" keeps fsync and synchronous_commit on (for
# benchmarks); otherwise they are off, which is safe for a throwaway test cluster.
pg_up() {
  PG_DIR=$1
  local mode=${2:-fast}
  pg_bin
  [ -x "$PG_BIN/initdb" ] || die "PostgreSQL server binaries not found (apt-get install postgresql)"
  mkdir -p "$PG_DIR"
  if [ "$(id -u)" -eq 0 ]; then
    id -u postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    # A root folder of mode 700 (seen in chroots made from mktemp -d) locks every other user out
    # of the whole system; a normal Debian root is 755.
    if ! runuser -u postgres -- true 2>/dev/null; then
      say "the postgres user cannot reach / (mode $(stat -c %a /)); adding o+x to /"
      chmod o+x /
    fi
    chown postgres "$PG_DIR"; chmod 700 "$PG_DIR"
    # The server runs as postgres and must reach its folder; a checkout under /root (mode 700)
    # is out of its reach, so the cluster then lives in /var/tmp, named after the folder.
    if ! runuser -u postgres -- test -x "$PG_DIR"; then
      local alt
      alt=/var/tmp/clubos-pg-$(printf %s "$PG_DIR" | cksum | cut -d' ' -f1)
      mkdir -p "$alt"; chown postgres "$alt"; chmod 700 "$alt"
      PG_DIR=$alt
    fi
  fi
  if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
    _as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 -N \
      >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
  fi
  PG_PORT=$(_free_port "${PG_PORT:-55432}") || die "no free port"
  mkdir -p "$PG_DIR/sock"; [ "$(id -u)" -eq 0 ] && chown postgres "$PG_DIR/sock"
  local opts="-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR/sock -c max_connections=300 -c shared_buffers=256MB"
  if [ "$mode" != durable ]; then opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"; fi
  _as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start -o "$opts" >/dev/null \
    || { tail -20 "$PG_DIR/server.log" >&2; die "postgres did not start"; }
  export PG_DIR PG_PORT
  export CLUBOS_PG_ADMIN_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
}

pg_createdb() {  # pg_createdb NAME -> prints the database URL
  "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "SELECT 1 FROM pg_database WHERE datname = '$1'" -t | grep -q 1 \
    || "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$1"
  echo "postgresql://postgres@127.0.0.1:$PG_PORT/$1"
}

pg_down() {
  [ -n "${PG_DIR:-}" ] && [ -f "$PG_DIR/data/postmaster.pid" ] || return 0
  _as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 \
    || _as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
}
