package localnode

import (
	"bufio"
	"bytes"
	"os"
	"strings"
	"sync"

	kvv1 "kubevirt.io/api/core/v1"
)

// CPU labels as KubeVirt's node-labeller publishes them, read from /proc/cpuinfo instead of
// libvirt's domain capabilities. VirtualMachineClasses of type Model, Features and
// Discovery place VMs by these labels, and `kubectl get nodes` shows which CPU models a node
// can run (the admin guide's jq example lists the cpu-model labels).

// linuxToLibvirtFeature renames the Linux flags whose libvirt (and so KubeVirt label) name
// differs. Flags absent here and from sameNameFeatures are not published: Linux also lists
// synthetic flags (constant_tsc, rep_good, ...) and host-only ones (est, monitor, ...) that no
// guest can be given.
var linuxToLibvirtFeature = map[string]string{
	"pclmulqdq":          "pclmuldq",
	"sse4_1":             "sse4.1",
	"sse4_2":             "sse4.2",
	"tsc_deadline_timer": "tsc-deadline",
	"cr8_legacy":         "cr8legacy",
	"sha_ni":             "sha-ni",
	"avx512_vnni":        "avx512vnni",
	"avx512_vbmi2":       "avx512vbmi2",
	"avx512_bitalg":      "avx512bitalg",
	"avx512_vpopcntdq":   "avx512-vpopcntdq",
	"avx512_bf16":        "avx512-bf16",
	"avx512_fp16":        "avx512-fp16",
	"avx512_4vnniw":      "avx512-4vnniw",
	"avx512_4fmaps":      "avx512-4fmaps",
	"avx_vnni":           "avx-vnni",
	"amx_bf16":           "amx-bf16",
	"amx_tile":           "amx-tile",
	"amx_int8":           "amx-int8",
	"md_clear":           "md-clear",
	"arch_capabilities":  "arch-capabilities",
}

// sameNameFeatures are guest-visible CPUID features that Linux and libvirt spell alike.
var sameNameFeatures = strings.Fields(`
	fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr
	sse sse2 ss pni ssse3 fma cx16 pdcm pcid x2apic movbe popcnt aes xsave avx f16c rdrand vmx
	syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm lahf_lm cmp_legacy svm abm sse4a misalignsse
	3dnowprefetch osvw xop fma4 tbm topoext perfctr_core fsgsbase tsc_adjust bmi1 hle avx2
	smep bmi2 erms invpcid rtm mpx avx512f avx512dq rdseed adx smap avx512ifma clflushopt clwb
	avx512cd avx512bw avx512vl avx512vbmi umip pku gfni vaes vpclmulqdq la57 rdpid movdiri
	movdir64b serialize waitpkg cldemote fsrm xsaveopt xsavec xgetbv1 xsaves clzero wbnoinvd
	arat`)

// cpuModel is a QEMU CPU model and the host features (libvirt names) it needs.
type cpuModel struct {
	name     string
	features []string
}

// cpuModels lists QEMU models oldest first, each needing the features of the one before plus
// its own. The features come from QEMU 7.2's `query-cpu-model-expansion` (type static) of
// each model, less what KVM emulates whatever the host has (x2apic, tsc-deadline, arat,
// hypervisor). Two more are left out on purpose: qemu64's svm (AMD only; QEMU drops it on
// other hosts) and Cascadelake-Server's spec-ctrl and ssbd, speculation controls that
// /proc/cpuinfo does not name one to one. KubeVirt hides qemu64 and kvm64 as obsolete by
// default; they are published here because kvm64 is the base of Features and Discovery
// classes.
var cpuModels = func() []cpuModel {
	steps := []cpuModel{
		{"kvm64", strings.Fields("fpu de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 pni cx16 syscall nx lm")},
		{"qemu64", []string{"lahf_lm"}},
		{"Penryn", []string{"ssse3", "sse4.1"}},
		{"Nehalem", []string{"sse4.2", "popcnt"}},
		{"Westmere", []string{"aes", "pclmuldq"}},
		{"SandyBridge", []string{"avx", "rdtscp", "xsave", "xsaveopt"}},
		{"IvyBridge", []string{"erms", "f16c", "fsgsbase", "rdrand", "smep"}},
		{"Haswell-noTSX", []string{"abm", "avx2", "bmi1", "bmi2", "fma", "invpcid", "movbe", "pcid"}},
		{"Broadwell-noTSX", []string{"3dnowprefetch", "adx", "rdseed", "smap"}},
		{"Skylake-Client", []string{"hle", "rtm", "xgetbv1", "xsavec"}},
		{"Cascadelake-Server", strings.Fields("avx512f avx512dq avx512cd avx512bw avx512vl avx512vnni clflushopt clwb pdpe1gb pku")},
	}
	var acc []string
	models := make([]cpuModel, 0, len(steps))
	for _, s := range steps {
		acc = append(acc, s.features...)
		models = append(models, cpuModel{name: s.name, features: append([]string(nil), acc...)})
	}
	return models
}()

// hostCPU is what /proc/cpuinfo says about the first processor.
type hostCPU struct {
	vendor   string
	features map[string]bool // libvirt names
}

// parseCPUInfo reads the vendor and the flags of the first processor in a cpuinfo file.
func parseCPUInfo(cpuinfo []byte) hostCPU {
	known := make(map[string]bool, len(sameNameFeatures))
	for _, f := range sameNameFeatures {
		known[f] = true
	}
	cpu := hostCPU{features: map[string]bool{}}
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "vendor_id":
			if cpu.vendor == "" {
				cpu.vendor = strings.TrimSpace(value)
			}
		case "flags":
			for _, f := range strings.Fields(value) {
				if name, ok := linuxToLibvirtFeature[f]; ok {
					cpu.features[name] = true
				} else if known[f] {
					cpu.features[f] = true
				}
			}
			// Processors of one machine share their flags: the first is enough.
			return cpu
		}
	}
	return cpu
}

// usableModels lists the models of cpuModels whose features the host has, oldest first.
func (h hostCPU) usableModels() []string {
	var out []string
	for _, m := range cpuModels {
		ok := true
		for _, f := range m.features {
			if !h.features[f] {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, m.name)
		}
	}
	return out
}

// vendorLabelValue is KubeVirt's cpu-vendor label name for a cpuinfo vendor_id.
func vendorLabelValue(vendorID string) string {
	switch vendorID {
	case "GenuineIntel":
		return "Intel"
	case "AuthenticAMD":
		return "AMD"
	case "HygonGenuine":
		return "Hygon"
	}
	return ""
}

// cpuLabels are the node labels for a cpuinfo file. host-model-cpu names the newest model
// of the table the host can run; libvirt would name the closest model it knows, which may
// be one this table lacks.
func cpuLabels(cpuinfo []byte) map[string]string {
	cpu := parseCPUInfo(cpuinfo)
	l := map[string]string{kvv1.NodeSchedulable: "true"}
	for f := range cpu.features {
		l[kvv1.CPUFeatureLabel+f] = "true"
	}
	models := cpu.usableModels()
	for _, m := range models {
		l[kvv1.CPUModelLabel+m] = "true"
	}
	if len(models) > 0 {
		l[kvv1.HostModelCPULabel+models[len(models)-1]] = "true"
	}
	if v := vendorLabelValue(cpu.vendor); v != "" {
		l[kvv1.CPUModelVendorLabel+v] = "true"
	}
	return l
}

var (
	hostCPULabelsOnce sync.Once
	hostCPULabelsMap  map[string]string
)

// hostCPULabels are the CPU labels of this machine (read once: the CPU does not change while
// the node runs). Without a readable /proc/cpuinfo the node still says it runs VMs.
func hostCPULabels() map[string]string {
	hostCPULabelsOnce.Do(func() {
		b, _ := os.ReadFile("/proc/cpuinfo")
		hostCPULabelsMap = cpuLabels(b)
	})
	return hostCPULabelsMap
}
