#!/usr/bin/env bash
# Fails when the generated code is not what hack/update-codegen.sh makes from the types.
set -o errexit -o nounset -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"

generated() {
    { find pkg/generated -type f; find pkg/apis -name 'zz_generated.*.go'; echo hack/api-rules-violations.list; } | LC_ALL=C sort
}

before="$(mktemp -d)"
trap 'rm -rf "${before}"' EXIT
generated | while read -r f; do mkdir -p "${before}/$(dirname "$f")"; cp "$f" "${before}/$f"; done
generated >"${before}.list"

"${ROOT}/hack/update-codegen.sh" >/dev/null

status=0
if ! diff -u "${before}.list" <(generated); then
    status=1
fi
while read -r f; do
    if ! diff -u "${before}/$f" "$f" >/dev/null 2>&1; then
        echo "stale: $f"
        status=1
    fi
done < <(generated)
rm -f "${before}.list"
if [ "${status}" -ne 0 ]; then
    echo "Generated code is out of date: run hack/update-codegen.sh and commit the result." >&2
else
    echo "Generated code is up to date."
fi
exit "${status}"
