#!/usr/bin/env bash
# Installs the Debian packages the tests and the local stack use, when they are missing:
# qemu-img (qemu-utils) converts disk images, genisoimage makes ISO images (tests, cloud-init
# drives), xz and curl are what users of the seeds run, qemu-system-x86 runs the guests of
# the local node, and the guest image (hack/guest/build.sh) is assembled with sfdisk, mtools,
# dosfstools, syslinux and isolinux, its initramfs packed with cpio and lz4; `d8 v ssh|scp
# --local-ssh` run OpenSSH's client, `d8 v vnc --web` serves noVNC from Debian's novnc
# package, and its test drives chromium (headless). Needs root (or sudo) and Debian's apt.
set -o errexit -o nounset -o pipefail

need=()
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v genisoimage >/dev/null || need+=(genisoimage)
command -v xz >/dev/null || need+=(xz-utils)
command -v curl >/dev/null || need+=(curl)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v sfdisk >/dev/null || need+=(fdisk)
command -v mcopy >/dev/null || need+=(mtools)
command -v mkfs.fat >/dev/null || need+=(dosfstools)
command -v syslinux >/dev/null || need+=(syslinux syslinux-common)
command -v isohybrid >/dev/null || need+=(syslinux-utils)
command -v cpio >/dev/null || need+=(cpio)
command -v lz4 >/dev/null || need+=(lz4)
[ -e /usr/lib/ISOLINUX/isolinux.bin ] || need+=(isolinux)
command -v flock >/dev/null || need+=(util-linux)
command -v ssh >/dev/null || need+=(openssh-client)
[ -e /usr/share/novnc/core/rfb.js ] || need+=(novnc)
command -v chromium >/dev/null || need+=(chromium)
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
