#!/usr/bin/env bash
# What `make test` needs beyond Go: database servers and their clients (the
# tests start throwaway servers from the binaries, and apply repair plans
# with each database's own client), Node.js for the DuckDB checks, Chromium
# for the page checks. Installs what is missing when it can (root with
# apt-get); otherwise names exactly what to install and fails.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
if [[ -z "${RECON_TEST_POSTGRES_DSN:-}" ]]; then
	compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need+=(postgresql)
fi
if [[ -z "${RECON_TEST_MYSQL_DSN:-}" ]]; then
	[[ -x /usr/sbin/mariadbd || -x /usr/sbin/mysqld ]] || need+=(mariadb-server)
fi
have psql || need+=(postgresql-client)
have mariadb || have mysql || need+=(mariadb-client)
have sqlite3 || need+=(sqlite3)
have node || need+=(nodejs)
have npm || need+=(npm)
have chromium || have chromium-browser || need+=(chromium)
((${#need[@]})) || exit 0
if [[ $(id -u) -eq 0 ]] && have apt-get; then
	echo "installing what the tests need: ${need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${need[@]}" </dev/null
	exit 0
fi
cat >&2 <<MSG
make test needs: ${need[*]}
Install them (Debian/Ubuntu: sudo apt-get install ${need[*]}), or set RECON_TEST_POSTGRES_DSN and
RECON_TEST_MYSQL_DSN to servers of your own. make test-short runs the tests that need none of it.
MSG
exit 1
