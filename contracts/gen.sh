#!/usr/bin/env bash
# Regenerates the committed contract artifacts from ServiceRegistry.sol:
#   contracts/build/ServiceRegistry.abi.json, contracts/build/ServiceRegistry.bin
#   runtime/registry/chain/contract/contract.go (abigen bindings)
# with the solc pinned in package-lock.json and the abigen of the
# go-ethereum version in go.mod. check.sh proves the committed files match.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
# shellcheck source=contracts/lib.sh
source "$here/lib.sh"

install_solc
build_artifacts "$here/build"
bind_go "$here/build" "$root/runtime/registry/chain/contract/contract.go"
echo "regenerated contracts/build/ and runtime/registry/chain/contract/contract.go"
