package qemu

import (
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// diskFile writes a small disk image; qcow2 ones start with qcow2's magic, which is all the
// format detection reads.
func diskFile(t *testing.T, dir, name string, qcow2 bool) string {
	t.Helper()
	data := make([]byte, 4096)
	if qcow2 {
		copy(data, qcow2Magic)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func commandLineOf(t *testing.T, cfg Config) []string {
	t.Helper()
	l, err := prepare(context.Background(), cfg)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	return l.commandLine()
}

func TestCommandLine(t *testing.T) {
	needTool(t, "genisoimage")
	dir := shortTempDir(t)
	root := diskFile(t, dir, "root.qcow2", true)
	data := diskFile(t, dir, "data.img", false)
	iso := diskFile(t, dir, "install.iso", false)
	vm := filepath.Join(dir, "vm")
	cfg := Config{
		Name:  "linux-vm",
		Dir:   vm,
		Accel: "tcg",
		CPU: CPU{Cores: 2, Model: "host-passthrough", Features: []CPUFeature{
			{Name: "avx2", Policy: "require"}, {Name: "svm", Policy: "disable"}, {Name: "pcid"}}},
		MemoryBytes: 256<<20 + 1,
		Disks: []Disk{
			{Name: "root", Path: root, BootOrder: 2, Serial: "root,1"},
			{Name: "data", Path: data, Format: "raw", ReadOnly: true},
			{Name: "install", Path: iso, CDROM: true, BootOrder: 1},
		},
		CloudInit: &CloudInit{UserData: "#cloud-config\nhostname: linux-vm\n"},
		Network: &Network{
			Address:      netip.MustParseAddr("10.66.10.2"),
			Prefix:       netip.MustParsePrefix("10.66.10.0/24"),
			HostForwards: []Forward{{HostPort: 2222, GuestPort: 22}},
		},
		Hostname: "linux-vm",
		UUID:     "6c1f7c1e-2b1a-4e62-9d43-3c6f1e0a9b10",
	}
	want := []string{
		"-name", "guest=linux-vm,debug-threads=on",
		"-machine", "pc,graphics=off",
		"-accel", "tcg",
		"-nodefaults", "-no-user-config",
		"-msg", "timestamp=on",
		"-action", "panic=exit-failure",
		"-display", "none",
		"-vga", "std",
		"-vnc", "unix:" + vm + "/vnc.sock",
		"-chardev", "socket,id=qmp,path=" + vm + "/qmp.sock,server=on,wait=off",
		"-mon", "chardev=qmp,mode=control",
		"-chardev", "socket,id=serial0,path=" + vm + "/serial.sock,server=on,wait=off,logfile=" + vm + "/serial.log,logappend=on",
		"-serial", "chardev:serial0",
		"-chardev", "socket,id=agent,path=" + vm + "/agent.sock,server=on,wait=off",
		"-device", "virtio-serial-pci,id=virtio-serial0",
		"-device", "virtserialport,bus=virtio-serial0.0,nr=1,chardev=agent,name=org.qemu.guest_agent.0",
		"-device", "pvpanic",
		"-smp", "cpus=2,sockets=1,cores=2,threads=1",
		// TCG cannot pass the host's CPU through: max is the nearest.
		"-cpu", "max,+avx2,-svm,+pcid",
		"-m", "257",
		"-uuid", "6c1f7c1e-2b1a-4e62-9d43-3c6f1e0a9b10",
		// Detected qcow2: opened without a backing file.
		"-blockdev", `{"backing":null,"discard":"unmap","driver":"qcow2","file":{"discard":"unmap","driver":"file","filename":"` + root + `","node-name":"drive-0-file","read-only":false},"node-name":"drive-0","read-only":false}`,
		"-device", "virtio-blk-pci,drive=drive-0,id=ua-root,bootindex=2,serial=root,,1",
		"-blockdev", `{"driver":"raw","file":{"driver":"file","filename":"` + data + `","node-name":"drive-1-file","read-only":true},"node-name":"drive-1","read-only":true}`,
		"-device", "virtio-blk-pci,drive=drive-1,id=ua-data",
		"-blockdev", `{"driver":"raw","file":{"driver":"file","filename":"` + iso + `","node-name":"drive-2-file","read-only":true},"node-name":"drive-2","read-only":true}`,
		"-device", "ide-cd,bus=ide.0,unit=0,drive=drive-2,id=ua-install,bootindex=1",
		"-blockdev", `{"driver":"raw","file":{"driver":"file","filename":"` + vm + `/cloudinit.iso","node-name":"drive-cidata-file","read-only":true},"node-name":"drive-cidata","read-only":true}`,
		"-device", "ide-cd,bus=ide.0,unit=1,drive=drive-cidata,id=cidata",
		// qemu's host and DNS addresses at the top of the prefix, the guest's from DHCP.
		"-netdev", "user,id=net0,net=10.66.10.0/24,host=10.66.10.254,dns=10.66.10.253,dhcpstart=10.66.10.2,ipv6=off,hostname=linux-vm,hostfwd=tcp:127.0.0.1:2222-10.66.10.2:22",
		"-device", "virtio-net-pci,netdev=net0,id=net0,mac=" + StableMAC("linux-vm") + ",romfile=",
	}
	got := commandLineOf(t, cfg)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("command line differs:\n got: %s\nwant: %s", strings.Join(got, " "), strings.Join(want, " "))
		for i := 0; i < min(len(got), len(want)); i++ {
			if got[i] != want[i] {
				t.Errorf("first difference at %d:\n got: %s\nwant: %s", i, got[i], want[i])
				break
			}
		}
	}
	if fi, err := os.Stat(vm); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("runtime dir: %v, %v; want a 0700 directory", fi.Mode(), err)
	}
}

func TestCommandLineMinimal(t *testing.T) {
	dir := shortTempDir(t)
	got := commandLineOf(t, Config{Name: "tiny", Dir: filepath.Join(dir, "vm"), Accel: "tcg", MemoryBytes: 64 << 20})
	joined := " " + strings.Join(got, " ") + " "
	for _, want := range []string{" -smp cpus=1,sockets=1,cores=1,threads=1 ", " -m 64 "} {
		if !strings.Contains(joined, want) {
			t.Errorf("command line lacks %q: %s", want, joined)
		}
	}
	// No model and no features: qemu's default CPU; no disks, network or migration.
	for _, absent := range []string{" -cpu ", " -blockdev ", " -netdev ", " -incoming ", " -uuid "} {
		if strings.Contains(joined, absent) {
			t.Errorf("command line has %q: %s", absent, joined)
		}
	}
}

func TestCPUArgs(t *testing.T) {
	tests := []struct {
		name  string
		cpu   CPU
		accel string
		want  []string
	}{
		{"default", CPU{}, "tcg", []string{"-smp", "cpus=1,sockets=1,cores=1,threads=1"}},
		{"topology", CPU{Sockets: 2, Cores: 2, Threads: 2}, "tcg", []string{"-smp", "cpus=8,sockets=2,cores=2,threads=2"}},
		{"host-model under tcg", CPU{Model: "host-model"}, "tcg", []string{"-smp", "cpus=1,sockets=1,cores=1,threads=1", "-cpu", "max"}},
		{"host-model under kvm", CPU{Model: "host-model"}, "kvm", []string{"-smp", "cpus=1,sockets=1,cores=1,threads=1", "-cpu", "host"}},
		{"host-passthrough under kvm", CPU{Model: "host-passthrough"}, "kvm", []string{"-smp", "cpus=1,sockets=1,cores=1,threads=1", "-cpu", "host"}},
		{"named model", CPU{Model: "Nehalem"}, "kvm", []string{"-smp", "cpus=1,sockets=1,cores=1,threads=1", "-cpu", "Nehalem"}},
		{"features without a model", CPU{Features: []CPUFeature{{"vmx", "optional"}, {"x2apic", "forbid"}, {"sse4.2", "force"}}}, "tcg",
			[]string{"-smp", "cpus=1,sockets=1,cores=1,threads=1", "-cpu", "qemu64,+vmx,-x2apic,+sse4.2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cpuArgs(tt.cpu, tt.accel); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("cpuArgs = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSlirpAddrsAvoidTheGuest(t *testing.T) {
	tests := []struct {
		addr, prefix, host, dns string
	}{
		{"10.66.10.2", "10.66.10.0/24", "10.66.10.254", "10.66.10.253"},
		{"10.66.10.254", "10.66.10.0/24", "10.66.10.253", "10.66.10.252"},
		{"10.66.10.253", "10.66.10.0/24", "10.66.10.254", "10.66.10.252"},
		{"10.66.0.9", "10.66.0.0/16", "10.66.255.254", "10.66.255.253"},
		{"192.168.1.10", "192.168.1.8/29", "192.168.1.14", "192.168.1.13"},
		// The prefix need not be masked.
		{"172.16.5.5", "172.16.5.5/28", "172.16.5.14", "172.16.5.13"},
	}
	for _, tt := range tests {
		n := &Network{Address: netip.MustParseAddr(tt.addr), Prefix: netip.MustParsePrefix(tt.prefix)}
		if errs := n.validate(); len(errs) > 0 {
			t.Fatalf("%s in %s: %v", tt.addr, tt.prefix, errs)
		}
		host, dns := slirpAddrs(n)
		if host.String() != tt.host || dns.String() != tt.dns {
			t.Errorf("%s in %s: host %s, dns %s; want %s, %s", tt.addr, tt.prefix, host, dns, tt.host, tt.dns)
		}
	}
}

func TestNetworkMAC(t *testing.T) {
	dir := shortTempDir(t)
	cfg := Config{Name: "vm-a", Dir: filepath.Join(dir, "vm"), Accel: "tcg", MemoryBytes: 64 << 20,
		Network: &Network{Address: netip.MustParseAddr("10.0.0.5"), Prefix: netip.MustParsePrefix("10.0.0.0/24"), MAC: "52-54-00-AB-CD-EF"}}
	if got := strings.Join(commandLineOf(t, cfg), " "); !strings.Contains(got, ",mac=52:54:00:ab:cd:ef,") {
		t.Errorf("the given MAC is not on the NIC: %s", got)
	}
	if a, b := StableMAC("vm-a"), StableMAC("vm-b"); a == b || a != StableMAC("vm-a") || !strings.HasPrefix(a, "52:54:00:") {
		t.Errorf("StableMAC: vm-a %s, vm-b %s; want stable, distinct, 52:54:00:...", a, b)
	}
}

func TestDeclaredQcow2KeepsItsBackingChain(t *testing.T) {
	dir := shortTempDir(t)
	root := diskFile(t, dir, "root.qcow2", true)
	got := strings.Join(commandLineOf(t, Config{Name: "vm", Dir: filepath.Join(dir, "vm"), Accel: "tcg", MemoryBytes: 64 << 20,
		Disks: []Disk{{Name: "root", Path: root, Format: "qcow2"}}}), " ")
	if !strings.Contains(got, `"driver":"qcow2"`) || strings.Contains(got, `"backing"`) {
		t.Errorf("a declared qcow2 should open as qcow2 with its backing file: %s", got)
	}
}

func TestCDROMsFillTheIDEBuses(t *testing.T) {
	dir := shortTempDir(t)
	var disks []Disk
	for _, name := range []string{"a", "b", "c"} {
		disks = append(disks, Disk{Name: name, Path: diskFile(t, dir, name+".iso", false), CDROM: true})
	}
	needTool(t, "genisoimage")
	got := strings.Join(commandLineOf(t, Config{Name: "vm", Dir: filepath.Join(dir, "vm"), Accel: "tcg", MemoryBytes: 64 << 20,
		Disks: disks, Sysprep: map[string][]byte{"unattend.xml": []byte("<unattend/>")}}), " ")
	for _, want := range []string{
		"ide-cd,bus=ide.0,unit=0,drive=drive-0,id=ua-a",
		"ide-cd,bus=ide.0,unit=1,drive=drive-1,id=ua-b",
		"ide-cd,bus=ide.1,unit=0,drive=drive-2,id=ua-c",
		"ide-cd,bus=ide.1,unit=1,drive=drive-sysprep,id=sysprep",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("command line lacks %q: %s", want, got)
		}
	}
}

func TestCloudInitDrive(t *testing.T) {
	needTool(t, "genisoimage")
	needTool(t, "isoinfo")
	dir := shortTempDir(t)
	cfg := Config{Name: "linux-vm", Dir: filepath.Join(dir, "vm"), Accel: "tcg", MemoryBytes: 64 << 20, Hostname: "linux-vm",
		CloudInit: &CloudInit{UserData: "#cloud-config\nhostname: linux-vm\n", NetworkData: "version: 2\n"}}
	commandLineOf(t, cfg)
	iso := filepath.Join(cfg.Dir, cloudInitISOName)
	out, err := exec.Command("isoinfo", "-d", "-i", iso).CombinedOutput()
	if err != nil {
		t.Fatalf("isoinfo: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "Volume id: cidata") {
		t.Errorf("the cloud-init ISO's volume id is not cidata:\n%s", out)
	}
	for file, want := range map[string]string{
		"/user-data":      cfg.CloudInit.UserData,
		"/meta-data":      "instance-id: linux-vm\nlocal-hostname: linux-vm\n",
		"/network-config": "version: 2\n",
	} {
		got, err := exec.Command("isoinfo", "-R", "-i", iso, "-x", file).Output()
		if err != nil || string(got) != want {
			t.Errorf("%s on the ISO = %q (%v), want %q", file, got, err, want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	dir := shortTempDir(t)
	disk := diskFile(t, dir, "disk.img", false)
	good := func() Config {
		return Config{Name: "vm", Dir: filepath.Join(dir, "vm"), Accel: "tcg", MemoryBytes: 64 << 20,
			Disks:   []Disk{{Name: "root", Path: disk, BootOrder: 1}},
			Network: &Network{Address: netip.MustParseAddr("10.66.10.2"), Prefix: netip.MustParsePrefix("10.66.10.0/24")}}
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"missing disk file", func(c *Config) { c.Disks[0].Path = filepath.Join(dir, "nope.img") }, "disk root: stat " + filepath.Join(dir, "nope.img") + ": no such file or directory"},
		{"address outside prefix", func(c *Config) { c.Network.Address = netip.MustParseAddr("10.66.11.2") }, "network address 10.66.11.2 is outside prefix 10.66.10.0/24"},
		{"broadcast address", func(c *Config) { c.Network.Address = netip.MustParseAddr("10.66.10.255") }, "network or broadcast address"},
		{"prefix too small", func(c *Config) { c.Network.Prefix = netip.MustParsePrefix("10.66.10.0/30") }, "too small"},
		{"IPv6", func(c *Config) { c.Network.Address = netip.MustParseAddr("fd00::2") }, "not an IPv4 address"},
		{"no memory", func(c *Config) { c.MemoryBytes = 0 }, "the guest needs memory"},
		{"no name", func(c *Config) { c.Name = "" }, "name is empty"},
		{"relative dir", func(c *Config) { c.Dir = "vm" }, "not an absolute path"},
		{"dir too long for sockets", func(c *Config) { c.Dir = "/" + strings.Repeat("d", 100) }, "too long for unix sockets"},
		{"unknown accel", func(c *Config) { c.Accel = "hvf" }, `accel "hvf"`},
		{"same boot order twice", func(c *Config) {
			c.Disks = append(c.Disks, Disk{Name: "data", Path: disk, BootOrder: 1})
		}, "boot order 1 is taken by disk root"},
		{"same disk name twice", func(c *Config) { c.Disks = append(c.Disks, Disk{Name: "root", Path: disk}) }, "name is used twice"},
		{"unknown format", func(c *Config) { c.Disks[0].Format = "vmdk" }, `format "vmdk"`},
		{"long serial", func(c *Config) { c.Disks[0].Serial = strings.Repeat("s", 21) }, "longer than 20"},
		{"bad feature policy", func(c *Config) { c.CPU.Features = []CPUFeature{{"vmx", "maybe"}} }, `policy "maybe"`},
		{"bad model", func(c *Config) { c.CPU.Model = "max,+vmx" }, "not a qemu model name"},
		{"too many vCPUs", func(c *Config) { c.CPU = CPU{Sockets: 16, Cores: 16, Threads: 2} }, "512 vCPUs"},
		{"bad MAC", func(c *Config) { c.Network.MAC = "01:00:5e:00:00:01" }, "multicast"},
		{"bad UUID", func(c *Config) { c.UUID = "not-a-uuid" }, "not a UUID"},
		{"sysprep path", func(c *Config) { c.Sysprep = map[string][]byte{"../x": nil} }, "not a plain file name"},
		{"too many CD-ROMs", func(c *Config) {
			for _, n := range []string{"a", "b", "c", "d"} {
				c.Disks = append(c.Disks, Disk{Name: n, Path: disk, CDROM: true})
			}
			c.CloudInit = &CloudInit{}
		}, "5 CD-ROMs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good()
			tt.change(&cfg)
			_, err := Start(context.Background(), cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Start error = %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestHasVirtualization(t *testing.T) {
	tests := []struct {
		cpuinfo string
		want    bool
	}{
		{"processor\t: 0\nflags\t\t: fpu vme de pse vmx ept\nbugs\t\t: spectre_v1\n", true},
		{"processor\t: 0\nflags\t\t: fpu sse2 svm npt\n", true},
		// A sandbox's /dev/kvm on a processor without either (this project's CI machines).
		{"processor\t: 0\nflags\t\t: fpu sse2 hypervisor vmmcall\n", false},
		{"processor\t: 0\nvmx flags\t: ept vpid\n", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := hasVirtualization(tt.cpuinfo); got != tt.want {
			t.Errorf("hasVirtualization(%q) = %v, want %v", tt.cpuinfo, got, tt.want)
		}
	}
}
