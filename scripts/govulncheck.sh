#!/usr/bin/env bash
# govulncheck against an offline copy of the Go vulnerability database,
# built from the module golang.org/x/vulndb (served by the module proxy)
# with its indexdb command: govulncheck cannot reach its online database
# from these machines. See docs/security.md.
#
#   scripts/govulncheck.sh [GOVULNCHECK ARGS...]   (default: ./...)
#
# Environment:
#   SCAN_TOOLCHAIN  the toolchain to scan with and to build govulncheck with,
#                   when not go1.27.3, the approved one (SCAN_TOOLCHAIN=local
#                   scans with the machine's Go, go1.26.8). govulncheck is
#                   built with the toolchain whose builds it scans.
#   VULNDB_VERSION  the golang.org/x/vulndb version to build the database
#                   from (a pinned pseudo-version; "latest" for the newest
#                   the proxy serves)
#   VULN_CACHE      where the tools and the database are kept
#                   (${XDG_CACHE_HOME:-~/.cache}/atoguard-vuln); nothing is
#                   written to the repository
# Exits with govulncheck's status: 0 when nothing reachable was found, 3
# when something was.
set -euo pipefail
shopt -s inherit_errexit

cd "$(dirname "$0")/.."
# The approved toolchain (README, docs/security.md); fetched on first use.
export GOTOOLCHAIN=go1.27.3
[[ -z ${SCAN_TOOLCHAIN:-} ]] || GOTOOLCHAIN=$SCAN_TOOLCHAIN
GOVULNCHECK_VERSION=v1.9.0
VULNDB_VERSION=${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}
cache=${VULN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/atoguard-vuln}

command -v go >/dev/null || { echo "govulncheck.sh: go is missing" >&2; exit 1; }
goversion=$(go env GOVERSION)
if [[ $VULNDB_VERSION == latest ]]; then
	VULNDB_VERSION=$(go list -m -json golang.org/x/vulndb@latest | sed -n 's/.*"Version": "\(.*\)".*/\1/p')
fi

# The tools, built outside the module (go install pkg@version) so that
# neither go.mod nor go.sum changes; one bin directory per toolchain.
bin=$cache/bin/$goversion
if [[ ! -x $bin/govulncheck ]]; then
	echo "govulncheck.sh: building govulncheck $GOVULNCHECK_VERSION with $goversion" >&2
	(cd / && GOFLAGS= GOBIN=$bin go install "golang.org/x/vuln/cmd/govulncheck@$GOVULNCHECK_VERSION")
fi
if [[ ! -x $bin/indexdb-$VULNDB_VERSION ]]; then
	echo "govulncheck.sh: building indexdb from golang.org/x/vulndb@$VULNDB_VERSION" >&2
	(cd / && GOFLAGS= GOBIN=$bin go install "golang.org/x/vulndb/cmd/indexdb@$VULNDB_VERSION")
	mv "$bin/indexdb" "$bin/indexdb-$VULNDB_VERSION"
fi

# The database: the module's data/osv (one OSV JSON file per report)
# indexed into the layout govulncheck's -db file:// reads.
db=$cache/db/$VULNDB_VERSION
if [[ ! -e $db/index/db.json ]]; then
	src=$(cd / && GOFLAGS= go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
	[[ -d $src/data/osv ]] || { echo "govulncheck.sh: no data/osv in $src" >&2; exit 1; }
	rm -rf "$db.tmp"
	"$bin/indexdb-$VULNDB_VERSION" -vulns "$src/data/osv" -out "$db.tmp"
	mv "$db.tmp" "$db"
	echo "govulncheck.sh: database of $(find "$db/ID" -name "*.json" | wc -l) reports from golang.org/x/vulndb@$VULNDB_VERSION" >&2
fi

echo "govulncheck.sh: govulncheck $GOVULNCHECK_VERSION, $goversion, database golang.org/x/vulndb@$VULNDB_VERSION" >&2
(($#)) || set -- ./...
exec "$bin/govulncheck" -db "file://$db" "$@"
