#!/usr/bin/env bash
# Proves the committed contract artifacts are what ServiceRegistry.sol
# compiles to with the pinned solc and settings, and that the Go bindings
# are what abigen makes of them: rebuilds all three into a temporary
# directory and compares them byte for byte with the committed files.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
# shellcheck source=contracts/lib.sh
source "$here/lib.sh"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

install_solc
build_artifacts "$tmp/build"
bind_go "$tmp/build" "$tmp/contract.go"

stale=0
compare() { # compare FRESH COMMITTED (COMMITTED relative to the repository)
	if ! diff -u "$root/$2" "$1" >"$tmp/diff" 2>&1; then
		echo "contracts/check.sh: $2 differs from what contracts/ServiceRegistry.sol builds to:" >&2
		head -n 40 "$tmp/diff" | cut -c1-300 >&2
		stale=1
	fi
}
compare "$tmp/build/ServiceRegistry.abi.json" contracts/build/ServiceRegistry.abi.json
compare "$tmp/build/ServiceRegistry.bin" contracts/build/ServiceRegistry.bin
compare "$tmp/contract.go" runtime/registry/chain/contract/contract.go
if [ "$stale" -ne 0 ]; then
	echo "contracts/check.sh: regenerate with: bash contracts/gen.sh (and commit the result)" >&2
	exit 1
fi
echo "contracts/check.sh: committed contract artifacts and bindings are up to date"
