#!/usr/bin/env bash
# Installs the real tools the tests run (helm, kustomize, kubeconform,
# promtool, ko, crane, kwok, through hack/etcd-build.sh etcd, and through
# hack/kube-build.sh kube-apiserver, kubectl, kube-controller-manager and
# kube-scheduler), built from the Go module proxy at the versions in
# hack/versions.env, into a cache outside the repository so that only the
# first run on a machine pays:
#   ${MILVUSGEN_CACHE:-~/.cache/milvusgen}/tools/<tool>-<version>/<tool>
# and links them into .../tools/bin. Prints nothing but progress on stderr.
#
#   hack/tools.sh          install what is missing
#   hack/tools.sh --dir    print the bin directory (for MILVUSGEN_TOOLS)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

cache=${MILVUSGEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/milvusgen}
mkdir -p "$cache" && cache=$(cd "$cache" && pwd)   # absolute: the build scripts cd
export MILVUSGEN_CACHE=$cache
bin=$cache/tools/bin

if [[ ${1:-} == --dir ]]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$bin"

# install NAME VERSION MODULE_PATH [BUILD_TAGS]
install() {
	local name=$1 version=$2 module=$3 tags=${4:-}
	local dir=$cache/tools/$name-$version
	if [[ ! -x $dir/$name ]]; then
		echo "tools: building $name $version from the Go module proxy (first run only, a few minutes)" >&2
		local start=$SECONDS
		# A separate module cache entry per tool; GOFLAGS from the caller
		# (e.g. -mod=vendor) must not leak in.
		(cd / && GOFLAGS= GOBIN=$dir.tmp go install ${tags:+-tags "$tags"} "$module@$version")
		mv "$dir.tmp/$name" "$dir.tmp/$name.bin" 2>/dev/null || true
		mkdir -p "$dir"
		mv "$dir.tmp/$name.bin" "$dir/$name"
		rm -rf "$dir.tmp"
		echo "tools: $name $version built in $((SECONDS - start)) s" >&2
	fi
	ln -sf "$dir/$name" "$bin/$name"
}

install helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm
install kustomize "$KUSTOMIZE_VERSION" sigs.k8s.io/kustomize/kustomize/v5
install kubeconform "$KUBECONFORM_VERSION" github.com/yannh/kubeconform/cmd/kubeconform
install promtool "$PROMETHEUS_VERSION" github.com/prometheus/prometheus/cmd/promtool remove_all_sd,enable_kubernetes_sd
install ko "$KO_VERSION" github.com/google/ko
install crane "$CRANE_VERSION" github.com/google/go-containerregistry/cmd/crane
# kwok: fake Nodes and pod status for the simulated cluster (internal/simcluster).
install kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok
# kwok's own Stage objects (what its fake kubelet does to nodes and pods)
# ship in its module, not in the binary: link them from the module cache.
kwok_dir=$(cd / && GOFLAGS= go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')
if [[ ! -d $kwok_dir/kustomize/stage ]]; then
	echo "tools: kwok $KWOK_VERSION: no kustomize/stage in its module (${kwok_dir:-not downloaded})" >&2
	exit 1
fi
ln -sfn "$kwok_dir/kustomize/stage" "$bin/kwok-stages"
"$here/etcd-build.sh"
"$here/kube-build.sh"
