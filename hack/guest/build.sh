#!/usr/bin/env bash
# Builds the small guest the tests and the walkthroughs boot: Debian's cloud kernel and an
# initramfs of busybox, bash, dropbear, qemu-ga and the NoCloud applier (hack/guest/nocloud),
# written as a bootable qcow2 disk (syslinux on a FAT partition) and an isohybrid ISO.
#
#   hack/guest/build.sh [OUTDIR]    (default: bin/guest in the repository)
#
# Every input is a Debian package fetched with apt-get download and unpacked with dpkg-deb;
# nothing is installed on the host except the tools hack/install-deps.sh lists, and nothing
# needs a loop mount. The build is skipped when the outputs exist and the stamp of its inputs
# (this directory, the package versions, the Go programs and the boot loader) still matches.
set -o errexit -o nounset -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "${here}/../.." && pwd)
out=$(realpath -m "${1:-${repo}/bin/guest}")
cache="${out}/cache"
work="${out}/work"

# The packages whose files go into the guest. The kernel is resolved from
# linux-image-cloud-amd64 (a metapackage); the libraries are those the programs link.
programs=(busybox-static bash dropbear-bin qemu-guest-agent openssh-sftp-server)
libraries=(libc6 libtinfo6 zlib1g libcrypt1 libtomcrypt1 libtommath1 libglib2.0-0
    libpcre2-8-0 libudev1 libnuma1 liburing2)
kernel_cmdline="console=tty0 console=ttyS0,115200 quiet"

step() { echo "guest: $*"; }
die() { echo "guest: $*" >&2; exit 1; }

mkdir -p "${out}" "${cache}"
# Tests of several packages may build at once; one builder at a time, the others then
# find the outputs up to date.
exec 9>"${out}/.lock"
flock 9

step "host tools (hack/install-deps.sh)"
"${repo}/hack/install-deps.sh"

apt_updated=false
apt_update() {
    if [ "${apt_updated}" = false ]; then
        step "apt-get update"
        apt-get update -qq
        apt_updated=true
    fi
}

# resolve_packages sets pkg_names and pkg_versions to the candidate versions apt knows.
resolve_packages() {
    local kernel
    kernel=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    [ -n "${kernel}" ] || return 1
    pkg_names=("${kernel}" "${programs[@]}" "${libraries[@]}")
    mapfile -t pkg_versions < <(apt-cache policy "${pkg_names[@]}" |
        awk '/^[^ ]/ {name=$1} /^  Candidate:/ {print $2}')
    [ "${#pkg_versions[@]}" -eq "${#pkg_names[@]}" ] || return 1
    local v
    for v in "${pkg_versions[@]}"; do
        [ "${v}" != "(none)" ] || return 1
    done
    kernel_pkg="${kernel}"
}

step "resolve package versions"
if ! resolve_packages; then
    apt_update
    resolve_packages || die "apt knows no candidate for one of: linux-image-cloud-amd64 ${programs[*]} ${libraries[*]}"
fi

step "build the Go programs (nocloud, sudo)"
command -v go >/dev/null || die "needs Go on PATH to build hack/guest/nocloud and hack/guest/sudo"
mkdir -p "${work}/go"
(cd "${repo}" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -buildvcs=false \
    -ldflags='-s -w' -o "${work}/go/" ./hack/guest/nocloud ./hack/guest/sudo)

# compute_stamp hashes everything the outputs are made from.
compute_stamp() {
    (
        cd "${here}"
        for i in "${!pkg_names[@]}"; do echo "${pkg_names[$i]}=${pkg_versions[$i]}"; done
        dpkg-query -W syslinux syslinux-common isolinux 2>/dev/null || true
        echo "cmdline=${kernel_cmdline}"
        find . -type f ! -name '*_test.go' ! -name '*.md' -print0 | sort -z | xargs -0 sha256sum
        find . -type f -perm -u+x ! -name '*_test.go' | sort
        (cd "${work}/go" && sha256sum nocloud sudo)
    ) | sha256sum | cut -d' ' -f1
}
stamp=$(compute_stamp)
if [ -f "${out}/guest.qcow2" ] && [ -f "${out}/guest.iso" ] &&
    [ "$(cat "${out}/guest.stamp" 2>/dev/null)" = "${stamp}" ]; then
    step "up to date: ${out}/guest.qcow2 ${out}/guest.iso"
    exit 0
fi

# download_packages fetches the .debs missing from the cache; a failure usually means the
# package lists are stale (a security update replaced a version), so update them once.
download_packages() {
    local missing=() i
    for i in "${!pkg_names[@]}"; do
        if ! deb_file "${pkg_names[$i]}" "${pkg_versions[$i]}" >/dev/null; then
            missing+=("${pkg_names[$i]}=${pkg_versions[$i]}")
        fi
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    (cd "${cache}" && apt-get download -qq -o APT::Sandbox::User=root "${missing[@]}" >/dev/null)
}
# deb_file prints the cached .deb of a package version (apt escapes ':' in file names).
deb_file() {
    local f="${cache}/${1}_${2//:/%3a}_amd64.deb"
    [ -f "${f}" ] || f="${cache}/${1}_${2//:/%3a}_all.deb"
    [ -f "${f}" ] && echo "${f}"
}

step "download ${#pkg_names[@]} packages into ${cache}"
if ! download_packages; then
    apt_update
    resolve_packages || die "package lists changed and cannot be resolved"
    download_packages || die "apt-get download failed"
    stamp=$(compute_stamp)
fi

step "unpack packages"
rm -rf "${work}/pkgs" "${work}/root"
mkdir -p "${work}/pkgs"
for i in "${!pkg_names[@]}"; do
    dpkg-deb -x "$(deb_file "${pkg_names[$i]}" "${pkg_versions[$i]}")" "${work}/pkgs"
done
pkgs="${work}/pkgs"
root="${work}/root"
kver="${kernel_pkg#linux-image-}"

step "assemble the root file system"
mkdir -p "${root}"
cp -a "${here}/rootfs/." "${root}/"
mkdir -p "${root}"/{bin,sbin,usr/bin,usr/sbin,usr/lib,lib/x86_64-linux-gnu,lib64,proc,sys,dev,run,root,home,mnt}
mkdir -p "${root}"/{etc/dropbear,var/log,var/lib/cloud,var/empty}
chmod 0700 "${root}/root"
mkdir -m 1777 -p "${root}/tmp" "${root}/var/tmp"
ln -sfn ../run "${root}/var/run"
chmod 0600 "${root}/etc/shadow"

install -m 0755 "${pkgs}/bin/busybox" "${root}/bin/busybox"
# busybox's applets as symlinks, except those that would make the guest look like a Debian
# or RPM system to scripts that probe for package managers. Those busybox puts in sbin are
# linked from /bin too: dropbear gives commands run over SSH PATH=/usr/bin:/bin, and users
# expect "ip a" to work there, as it does on Debian.
"${root}/bin/busybox" --list-full | while read -r applet; do
    case "${applet##*/}" in dpkg | dpkg-deb | rpm | rpm2cpio | linuxrc | busybox) continue ;; esac
    for link in "${applet}" "bin/${applet##*/}"; do
        # -L too: the link points into the guest, where the host may have no busybox.
        [ -e "${root}/${link}" ] || [ -L "${root}/${link}" ] || ln -s /bin/busybox "${root}/${link}"
    done
done
ln -sfn bin/busybox "${root}/init"

# copy_elf copies a dynamically linked program and the libraries the packages' own loader
# resolves for it (the host's libraries play no part).
loader="${pkgs}/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
libpath="${pkgs}/lib/x86_64-linux-gnu:${pkgs}/usr/lib/x86_64-linux-gnu"
copy_elf() {
    local src="${pkgs}/$1" dst="${root}/$2" line lib path
    install -D -m 0755 "${src}" "${dst}"
    "${loader}" --library-path "${libpath}" --list "${src}" | while read -r line; do
        case "${line}" in
        *"not found"*) die "$1 needs a library no package provides: ${line}" ;;
        *" => "*)
            lib=${line%% =>*}
            lib=${lib##*/} # the loader is listed by its path
            path=${line#*=> }
            path=${path% (*}
            [ -e "${root}/lib/x86_64-linux-gnu/${lib}" ] ||
                install -m 0755 "$(realpath "${path}")" "${root}/lib/x86_64-linux-gnu/${lib}"
            ;;
        esac
    done
}
install -m 0755 "${loader}" "${root}/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
ln -sfn /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "${root}/lib64/ld-linux-x86-64.so.2"
copy_elf bin/bash bin/bash
copy_elf usr/sbin/dropbear usr/sbin/dropbear
copy_elf usr/bin/dropbearkey usr/bin/dropbearkey
copy_elf usr/sbin/qemu-ga usr/sbin/qemu-ga
copy_elf usr/lib/openssh/sftp-server usr/lib/sftp-server
install -m 0755 "${work}/go/nocloud" "${root}/usr/sbin/nocloud"
install -m 4755 "${work}/go/sudo" "${root}/usr/bin/sudo"

step "kernel ${kver} and its modules"
modsrc="${pkgs}/lib/modules/${kver}"
moddst="${root}/lib/modules/${kver}"
[ -f "${pkgs}/boot/vmlinuz-${kver}" ] || die "${kernel_pkg} has no /boot/vmlinuz-${kver}"
# Kernel packages ship no modules.dep: make one for the whole tree, take the modules the
# guest loads (rootfs/etc/modules) with what they depend on, then index the subset.
"${root}/bin/busybox" depmod -b "${pkgs}" "${kver}"
wanted=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "${here}/rootfs/etc/modules")
for mod in ${wanted}; do
    line=$(awk -v m="${mod//-/_}" '{f=$1; sub(/:$/, "", f); n=f; sub(/.*\//, "", n); sub(/\.ko$/, "", n);
        gsub(/-/, "_", n); if (n == m) {print; exit}}' "${modsrc}/modules.dep")
    [ -n "${line}" ] || die "kernel ${kver} has no module ${mod}"
    for f in ${line/:/}; do
        install -D -m 0644 "${modsrc}/${f}" "${moddst}/${f}"
    done
done
cp "${modsrc}/modules.builtin" "${modsrc}/modules.order" "${moddst}/"
"${root}/bin/busybox" depmod -b "${root}" "${kver}"

step "initramfs"
(cd "${root}" && find . -print0 | LC_ALL=C sort -z |
    cpio --null --create --format=newc --owner=0:0 --quiet) | lz4 -l -9 -q >"${work}/initrd"
cp "${pkgs}/boot/vmlinuz-${kver}" "${work}/vmlinuz"

boot_files=("${work}/vmlinuz" "${work}/initrd")
syslinux_cfg() {
    cat <<EOF
DEFAULT guest
PROMPT 0
TIMEOUT 0
LABEL guest
  LINUX /vmlinuz
  INITRD /initrd
  APPEND ${kernel_cmdline}
EOF
}

step "disk: MBR, one FAT partition, syslinux"
disk="${work}/guest.raw"
rm -f "${disk}"
disk_mib=64
truncate -s "${disk_mib}M" "${disk}"
echo 'start=2048, type=c, bootable' | sfdisk --quiet --label dos "${disk}"
dd if=/usr/lib/syslinux/mbr/mbr.bin of="${disk}" bs=440 count=1 conv=notrunc status=none
part_kib=$(((disk_mib - 1) * 1024))
mkfs.fat --offset 2048 -n GUEST "${disk}" "${part_kib}" >/dev/null
syslinux --offset $((2048 * 512)) --install "${disk}"
syslinux_cfg >"${work}/syslinux.cfg"
mcopy -o -i "${disk}@@1M" "${work}/syslinux.cfg" "${boot_files[@]}" ::/
qemu-img convert -q -f raw -O qcow2 "${disk}" "${out}/guest.qcow2.tmp"
mv -f "${out}/guest.qcow2.tmp" "${out}/guest.qcow2"
rm -f "${disk}"

step "ISO: isolinux, isohybrid"
iso="${work}/iso"
rm -rf "${iso}"
mkdir -p "${iso}/isolinux"
cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "${iso}/isolinux/"
syslinux_cfg >"${iso}/isolinux/isolinux.cfg"
cp "${boot_files[@]}" "${iso}/"
genisoimage -quiet -o "${out}/guest.iso.tmp" -V GUEST -J -r \
    -b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
    "${iso}"
isohybrid "${out}/guest.iso.tmp"
mv -f "${out}/guest.iso.tmp" "${out}/guest.iso"
rm -rf "${iso}"

echo "${stamp}" >"${out}/guest.stamp"
step "done: ${out}/guest.qcow2 ($(du -h "${out}/guest.qcow2" | cut -f1)) ${out}/guest.iso ($(du -h "${out}/guest.iso" | cut -f1))"
