#!/usr/bin/env bash
# Fast pre-check without an API server: kubeconform -strict on every
# out/<env> (kustomize build) with the JSON schemas that `make e2e` generated
# from the real API server's /openapi/v2, CRDs included, and cached in
# ${MILVUSGEN_CACHE:-~/.cache/milvusgen}/schemas/<kubernetes version>.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/versions.env
cache=${MILVUSGEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/milvusgen}
schemas=$cache/schemas/$KUBERNETES_VERSION
if [[ ! -d $schemas ]]; then
	echo "precheck: no schemas in $schemas; run 'make e2e' once to generate them" >&2
	exit 1
fi
hack/tools.sh >/dev/null
bin=$(hack/tools.sh --dir)
status=0
for dir in out/*/; do
	env=$(basename "$dir")
	if "$bin/kustomize" build "$dir" | "$bin/kubeconform" -strict -summary \
		-schema-location "$schemas/{{ .Group }}/{{ .ResourceAPIVersion }}/{{ .ResourceKind }}.json" -; then
		echo "precheck: $env ok"
	else
		status=1
	fi
done
exit $status
