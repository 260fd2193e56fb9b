#!/usr/bin/env bash
# Builds etcd $ETCD_VERSION from the Go module proxy into
# ${MILVUSGEN_CACHE:-~/.cache/milvusgen}/tools/etcd-<version>/etcd.
#
# Why not Debian's etcd: it is 3.4, too old for the watch progress
# requests that kube-apiserver v1.37 needs for streaming watch lists; with
# it, every informer of the controllers, the scheduler and kwok falls back
# and re-lists with back-off, and the simulated cluster reacts in tens of
# seconds instead of milliseconds.
#
# go.etcd.io/etcd/server/v3 is a main package, but its go.mod replaces the
# other etcd modules with ../ paths, so `go install` refuses it. A
# throw-away module requires it and builds it with the published modules of
# the same version.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.env"
cache=${MILVUSGEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/milvusgen}
mkdir -p "$cache" && cache=$(cd "$cache" && pwd)   # absolute: we cd below
out=$cache/tools/etcd-$ETCD_VERSION
bin=$cache/tools/bin

if [[ ! -x $out/etcd ]]; then
	echo "tools: building etcd $ETCD_VERSION from the Go module proxy (first run only, about 2 minutes)" >&2
	start=$SECONDS
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	cd "$work"
	export GOFLAGS=-mod=mod
	go mod init milvusgen.local/etcd-build >/dev/null 2>&1
	go mod edit -require="go.etcd.io/etcd/server/v3@$ETCD_VERSION"
	for m in api/v3 client/pkg/v3 client/v3 pkg/v3; do
		go mod edit -require="go.etcd.io/etcd/$m@$ETCD_VERSION"
	done
	cat >tools.go <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
	go mod tidy >/dev/null
	mkdir -p "$out.tmp"
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.tmp/etcd" go.etcd.io/etcd/server/v3
	rm -rf "$out" && mv "$out.tmp" "$out"
	echo "tools: etcd $ETCD_VERSION built in $((SECONDS - start)) s" >&2
fi
mkdir -p "$bin"
ln -sf "$out/etcd" "$bin/etcd"
