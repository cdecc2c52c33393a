# Shared by gen.sh and check.sh; sourced, not run. Expects $here (this
# directory) and $root (the repository) to be set.

# install_solc installs exactly the packages in package-lock.json (solc-js,
# which ships the compiler as JavaScript: nothing else is downloaded).
install_solc() {
	local tool
	for tool in node npm go; do
		if ! command -v "$tool" >/dev/null; then
			echo "contracts: $tool is not installed (Node.js and npm come from Debian's nodejs and npm packages)" >&2
			return 1
		fi
	done
	(cd "$here" && npm ci --loglevel=error --no-audit --no-fund >/dev/null)
}

# build_artifacts DIR compiles the contract into DIR.
build_artifacts() {
	node "$here/build.js" "$1"
}

# bind_go BUILD_DIR OUT writes the Go bindings of the artifacts in BUILD_DIR
# to OUT with abigen, a tool of the module (go.mod's `tool` line): it is the
# abigen of the go-ethereum version go.mod requires, so the bindings and the
# bind package they call into always match, and it shares the build cache
# with the module's own go-ethereum packages.
bind_go() {
	(cd "$root" && go tool abigen \
		--abi "$1/ServiceRegistry.abi.json" --bin "$1/ServiceRegistry.bin" \
		--pkg contract --type ServiceRegistry --out "$2")
	chmod 644 "$2"
}
