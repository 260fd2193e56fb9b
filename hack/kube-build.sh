#!/usr/bin/env bash
# Builds kube-apiserver and kubectl at $KUBERNETES_VERSION from the Go module
# proxy, into ${MILVUSGEN_CACHE:-~/.cache/milvusgen}/tools/kube-<version>/.
#
# k8s.io/kubernetes is not meant to be required as a module: its go.mod
# points every k8s.io staging module at ./staging. A small throw-away module
# requires it and replaces each of those staging modules with the published
# module of the same minor (v1.37.2 -> v0.37.2). The version ldflags are set
# so that `kubectl version` can parse the server's and its own version.
#
# Cold: about 11 minutes on 2 cores; afterwards it returns at once.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.env"
cache=${MILVUSGEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/milvusgen}
out=$cache/tools/kube-$KUBERNETES_VERSION
bin=$cache/tools/bin

if [[ -x $out/kube-apiserver && -x $out/kubectl ]]; then
	mkdir -p "$bin"
	ln -sf "$out/kube-apiserver" "$bin/kube-apiserver"
	ln -sf "$out/kubectl" "$bin/kubectl"
	exit 0
fi

staging=v0${KUBERNETES_VERSION#v1}   # v1.37.2 -> v0.37.2
minor=${KUBERNETES_VERSION#v}; minor=${minor%.*}; major=${minor%%.*}; minor=${minor#*.}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

echo "kube: building kube-apiserver and kubectl $KUBERNETES_VERSION (first run only, about 11 minutes)" >&2
start=$SECONDS
export GOFLAGS=-mod=mod
go mod init milvusgen.local/kube-build >/dev/null 2>&1
# The upstream go.mod names the staging modules.
go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" >download.json
upstream=$(sed -n 's/.*"GoMod": "\(.*\)",*/\1/p' download.json)
go mod edit -require="k8s.io/kubernetes@$KUBERNETES_VERSION"
grep -E '^\s*k8s\.io/[^ ]+ => \./staging/' "$upstream" | awk '{print $1}' | sort -u | while read -r mod; do
	go mod edit -replace="$mod=$mod@$staging"
done
cat >tools.go <<GO
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubectl/pkg/cmd"
)
GO
go mod tidy >/dev/null
ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
	ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
mkdir -p "$out.tmp"
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp/kubectl" k8s.io/kubernetes/cmd/kubectl
rm -rf "$out" && mv "$out.tmp" "$out"
mkdir -p "$bin"
ln -sf "$out/kube-apiserver" "$bin/kube-apiserver"
ln -sf "$out/kubectl" "$bin/kubectl"
echo "kube: built in $((SECONDS - start)) s" >&2
