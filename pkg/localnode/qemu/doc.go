// Package qemu runs one virtual machine of the local node as a qemu-system-x86_64 process and
// talks to it over QMP and the QEMU guest agent. It is the local node's stand-in for what
// virt-launcher and libvirt do on a KubeVirt node; the caller (pkg/localnode/virt) turns a
// VirtualMachineInstance into a Config.
//
// # Machine
//
// Start builds the whole command line from the Config in one place (commandLine), starts qemu
// in its own process group with Pdeathsig SIGKILL, so no guest outlives the local node, and
// returns once QMP has answered the capabilities handshake. The accelerator is KVM when
// /dev/kvm opens read-write and the processor has VMX or SVM, TCG otherwise.
//
// The machine is an i440fx `pc`. Measured under TCG, the project's guest (hack/guest) reaches
// its login prompt on pc and on q35 in the same 7-11 s (the difference is within the noise of
// a shared machine); pc's built-in IDE controller carries the CD-ROMs, which the guest reads
// with ata_piix, where q35 would need AHCI in every guest. The DESIGN's boot figures are pc's.
// graphics=off makes SeaBIOS mirror its screen to the serial port, so the serial log shows the
// firmware and the boot loader as well as the kernel; VNC still shows the VGA.
//
// Everything the machine needs at runtime lives in Config.Dir: qmp.sock, serial.sock (one
// client at a time; serial.log keeps all output, connected or not), vnc.sock, agent.sock,
// qemu.log and the generated cloud-init and sysprep ISO images.
//
// # Exit
//
// The process's end is reported once through Exited and Exit, decided from the QMP events
// read up to the socket's end (qemu closes it when it ends) and the wait status:
//   - GuestShutdown: the guest powered off (SHUTDOWN with guest=true);
//   - Crashed: the guest panicked (GUEST_PANICKED through the pvpanic device; qemu also exits
//     with a failure on a panic), the accelerator stopped the guest on an internal error
//     (qemu is then killed), or qemu ended on its own without a shutdown: a non-zero status
//     or a signal nobody here sent;
//   - Killed: Kill, a Shutdown whose context ended first, or a stop from the host (QMP quit,
//     SIGTERM).
//
// A guest reboot resets the machine inside the same process.
//
// # Network
//
// The guest gets one virtio-net NIC on qemu's user-mode network (slirp): its DHCP server hands
// out Network.Address on Network.Prefix, and qemu's own host (gateway) and DNS addresses are
// taken from the top of the prefix, away from Address, because an IPAM allocates guest
// addresses from the bottom (qemu's default host address, .2, is a guest address here).
package qemu
