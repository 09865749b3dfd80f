#!/usr/bin/env bash
# Builds the real API server used by the tests with LP_APISERVER=real:
# kube-apiserver (k8s.io/kubernetes) and etcd (go.etcd.io/etcd/server/v3) at the
# versions pinned in hack/apiserver/go.mod, into .deps/bin. Cached: the binaries
# carry a stamp of go.mod + go.sum + this script, and a second run with the same stamp builds
# nothing. Needs Go (the build tool only; nothing of logplane is written in Go).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
mod="$top/hack/apiserver"
bin_dir="$top/.deps/bin"
stamp_file="$bin_dir/.apiserver-stamp"
mkdir -p "$bin_dir"

stamp=$(cat "$mod/go.mod" "$mod/go.sum" "$0" | sha256sum | cut -c1-16)
# one build at a time (several clones may share .deps); the second waits, then finds it done
exec 9>"$bin_dir/.apiserver.lock"
command -v flock >/dev/null && flock 9
if [ -x "$bin_dir/kube-apiserver" ] && [ -x "$bin_dir/etcd" ] && [ -f "$stamp_file" ] &&
	[ "$(cat "$stamp_file")" = "$stamp" ]; then
	exit 0
fi
if ! command -v go >/dev/null; then
	echo "build-apiserver: go not found; install Go 1.23 or later to build kube-apiserver and etcd" >&2
	exit 1
fi
echo "build-apiserver: building kube-apiserver and etcd (hack/apiserver/go.mod; several minutes the first time)"
start=$(date +%s)
# the version a release build stamps in (else the server says v0.0.0-master and
# clients cannot tell its minor)
kver=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' "$mod/go.mod")
kminor=$(echo "$kver" | cut -d. -f2)
vflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	vflags="$vflags -X $pkg.gitVersion=$kver -X $pkg.gitMajor=1 -X $pkg.gitMinor=$kminor -X $pkg.gitTreeState=clean"
done
tmp=$(mktemp -d "$bin_dir/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$mod" && GOFLAGS=-mod=mod nice go build -trimpath -ldflags='-s -w' -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
(cd "$mod" && GOFLAGS=-mod=mod nice go build -trimpath -ldflags="-s -w$vflags" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)
mv "$tmp/etcd" "$bin_dir/etcd"
mv "$tmp/kube-apiserver" "$bin_dir/kube-apiserver"
echo "$stamp" >"$stamp_file"
echo "build-apiserver: built in $(($(date +%s) - start)) s: $(du -h "$bin_dir/kube-apiserver" | cut -f1) kube-apiserver, $(du -h "$bin_dir/etcd" | cut -f1) etcd"
