#!/usr/bin/env bash
# Regenerates deepcopy, conversion, defaulters, clientset, listers, informers, apply
# configurations and OpenAPI definitions with k8s.io/code-generator (kube_codegen.sh).
set -o errexit -o nounset -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${ROOT}"
MODULE="$(go list -m)"
# `go list -m -f {{.Dir}}` prints nothing for a module that is not in the module cache yet
# (a fresh machine): download it first, and refuse to go on without its directory.
go mod download k8s.io/code-generator
CODEGEN_PKG="$(go list -m -f '{{.Dir}}' k8s.io/code-generator)"
if [ ! -f "${CODEGEN_PKG}/kube_codegen.sh" ]; then
    echo "k8s.io/code-generator is not in the module cache (${CODEGEN_PKG:-no directory})" >&2
    exit 1
fi
export GOBIN="${ROOT}/bin/codegen"
mkdir -p "${GOBIN}"

# shellcheck source=/dev/null
source "${CODEGEN_PKG}/kube_codegen.sh"

BOILERPLATE="${ROOT}/hack/boilerplate.go.txt"

kube::codegen::gen_helpers \
    --boilerplate "${BOILERPLATE}" \
    "${ROOT}/pkg/apis"

kube::codegen::gen_openapi \
    --output-dir "${ROOT}/pkg/generated/openapi" \
    --output-pkg "${MODULE}/pkg/generated/openapi" \
    --extra-pkgs "k8s.io/api/core/v1" \
    --extra-pkgs "k8s.io/apimachinery/pkg/util/intstr" \
    --report-filename "${ROOT}/hack/api-rules-violations.list" \
    --output-model-name-file zz_generated.model_name.go \
    ${UPDATE_API_KNOWN_VIOLATIONS:+"--update-report"} \
    --boilerplate "${BOILERPLATE}" \
    "${ROOT}/pkg/apis"

kube::codegen::gen_client \
    --with-watch \
    --with-applyconfig \
    --output-dir "${ROOT}/pkg/generated" \
    --output-pkg "${MODULE}/pkg/generated" \
    --boilerplate "${BOILERPLATE}" \
    "${ROOT}/pkg/apis"
