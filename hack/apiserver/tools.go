//go:build tools

// Package tools pins the two test servers that hack/build-apiserver.sh builds:
// kube-apiserver from k8s.io/kubernetes and etcd from go.etcd.io/etcd/server/v3.
// Nothing here is part of logplane; Go is only the build tool for these test
// servers (see tests/apiserver/README.md).
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
