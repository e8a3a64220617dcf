#!/usr/bin/env bash
# Installs the Debian packages the tests and the local stack use, when they are missing:
# qemu-img (qemu-utils) converts disk images, genisoimage makes ISO images for tests, xz and
# curl are what users of the seeds run. Needs root (or sudo) and Debian's apt.
set -o errexit -o nounset -o pipefail

need=()
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v genisoimage >/dev/null || need+=(genisoimage)
command -v xz >/dev/null || need+=(xz-utils)
command -v curl >/dev/null || need+=(curl)
if [ "${#need[@]}" -eq 0 ]; then
    exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
echo "installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
${sudo} apt-get update -qq
${sudo} apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
