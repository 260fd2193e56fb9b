#!/usr/bin/env bash
# Builds the verifier image with ko from .ko.yaml, for real, on a machine
# that cannot reach a public registry: crane serves a registry on loopback,
# a minimal non-root base (passwd with UID 65532, CA certificates) stands in
# for distroless, and ko pushes the image there. Then the image's config and
# contents are checked, and its binary is run.
#
#   hack/image-test.sh DIR
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?work directory}
mkdir -p "$dir"
bin=$(hack/tools.sh --dir)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
reg=127.0.0.1:$port
"$bin/crane" registry serve --address "$reg" >"$dir/registry.log" 2>&1 &
regpid=$!
trap 'kill $regpid 2>/dev/null || true; wait $regpid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
	curl -fsS "http://$reg/v2/" >/dev/null 2>&1 && break
	sleep 0.1
done

# The stand-in base: what distroless static:nonroot provides to a Go binary.
root=$dir/base
mkdir -p "$root/etc/ssl/certs" "$root/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
tar -C "$root" --owner=0 --group=0 -cf "$dir/base.tar" .
"$bin/crane" append --oci-empty-base -f "$dir/base.tar" -t "$reg/base:nonroot" >/dev/null
"$bin/crane" mutate --user 65532:65532 -t "$reg/base:nonroot" "$reg/base:nonroot" >/dev/null

ref=$(KO_DOCKER_REPO=$reg/milvusgen-verifier KO_DEFAULTBASEIMAGE=$reg/base:nonroot \
	"$bin/ko" build --bare --platform=linux/amd64 ./cmd/verifier 2>"$dir/ko.log")
echo "image: $ref"

config=$("$bin/crane" config "$ref")
echo "$config" >"$dir/config.json"
python3 - "$dir/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["config"]
assert c.get("User") == "65532:65532", c.get("User")
assert c.get("Entrypoint") == ["/ko-app/verifier"], c.get("Entrypoint")
print("config: user", c["User"], "entrypoint", c["Entrypoint"])
PY
"$bin/crane" export "$ref" "$dir/image.tar"
mkdir -p "$dir/fs"
tar -C "$dir/fs" -xf "$dir/image.tar" 2>/dev/null
test -x "$dir/fs/ko-app/verifier"
test -f "$dir/fs/etc/ssl/certs/ca-certificates.crt"
# Static: an ELF without an interpreter (PT_INTERP) runs on distroless.
python3 - "$dir/fs/ko-app/verifier" <<'PY2'
import struct, sys
b = open(sys.argv[1], "rb").read()
assert b[:4] == b"\x7fELF" and b[4] == 2, "not a 64-bit ELF"
phoff, = struct.unpack_from("<Q", b, 0x20)
phentsize, phnum = struct.unpack_from("<HH", b, 0x36)
types = [struct.unpack_from("<I", b, phoff + i * phentsize)[0] for i in range(phnum)]
assert 3 not in types, "dynamically linked (PT_INTERP)"
PY2
"$dir/fs/ko-app/verifier" --help >/dev/null 2>&1
echo "image test: ok ($(du -h "$dir/image.tar" | cut -f1))"
