#!/usr/bin/env bash
# Builds kube-apiserver, kubectl, kube-controller-manager and kube-scheduler
# at $KUBERNETES_VERSION from the Go module proxy (the last two run the
# simulated cluster of internal/simcluster), into ${MILVUSGEN_CACHE:-~/.cache/milvusgen}/tools/kube-<version>/.
#
# k8s.io/kubernetes is not meant to be required as a module: its go.mod
# points every k8s.io staging module at ./staging. A small throw-away module
# requires it and replaces each of those staging modules with the published
# module of the same minor (v1.37.2 -> v0.37.2). The version ldflags are set
# so that `kubectl version` can parse the server's and its own version.
#
# Cold: about 15 minutes on 2 cores; afterwards it returns at once.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.env"
cache=${MILVUSGEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/milvusgen}
mkdir -p "$cache" && cache=$(cd "$cache" && pwd)   # absolute: we cd below
out=$cache/tools/kube-$KUBERNETES_VERSION
bin=$cache/tools/bin

bins=(kube-apiserver kubectl kube-controller-manager kube-scheduler)
link() {
	mkdir -p "$bin"
	for b in "${bins[@]}"; do ln -sf "$out/$b" "$bin/$b"; done
}
have=1
for b in "${bins[@]}"; do [[ -x $out/$b ]] || have=0; done
if ((have)); then
	link
	exit 0
fi

staging=v0${KUBERNETES_VERSION#v1}   # v1.37.2 -> v0.37.2
minor=${KUBERNETES_VERSION#v}; minor=${minor%.*}; major=${minor%%.*}; minor=${minor#*.}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

echo "kube: building ${bins[*]} $KUBERNETES_VERSION (first run only, about 15 minutes)" >&2
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
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
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
for b in "${bins[@]}"; do
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp/$b" "k8s.io/kubernetes/cmd/$b"
done
rm -rf "$out" && mv "$out.tmp" "$out"
link
echo "kube: built in $((SECONDS - start)) s" >&2
