package localnode

import (
	"sort"
	"strings"
	"testing"

	kvv1 "kubevirt.io/api/core/v1"
)

// cascadeLakeCPUInfo is the start of /proc/cpuinfo on an Intel Xeon Gold 6230 (TSX on).
const cascadeLakeCPUInfo = `processor	: 0
vendor_id	: GenuineIntel
cpu family	: 6
model		: 85
model name	: Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz
stepping	: 7
flags		: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc art arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc cpuid aperfmperf pni pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 sdbg fma cx16 xtpr pdcm pcid dca sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c rdrand lahf_lm abm 3dnowprefetch cpuid_fault epb cat_l3 cdp_l3 invpcid_single intel_ppin ssbd mba ibrs ibpb stibp ibrs_enhanced tpr_shadow vnmi flexpriority ept vpid ept_ad fsgsbase tsc_adjust bmi1 hle avx2 smep bmi2 erms invpcid rtm cqm mpx rdt_a avx512f avx512dq rdseed adx smap clflushopt clwb intel_pt avx512cd avx512bw avx512vl xsaveopt xsavec xgetbv1 xsaves cqm_llc cqm_occup_llc cqm_mbm_total cqm_mbm_local dtherm ida arat pln pts hwp hwp_act_window hwp_epp hwp_pkg_req pku ospke avx512_vnni md_clear flush_l1d arch_capabilities
bugs		: spectre_v1 spectre_v2 spec_store_bypass swapgs taa itlb_multihit

processor	: 1
vendor_id	: GenuineIntel
flags		: fpu
`

// westmereCPUInfo is a Xeon X5650 (Westmere-EP): no AVX.
const westmereCPUInfo = `processor	: 0
vendor_id	: GenuineIntel
model name	: Intel(R) Xeon(R) CPU           X5650  @ 2.67GHz
flags		: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc cpuid aperfmperf pni pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 cx16 xtpr pdcm pcid dca sse4_1 sse4_2 popcnt aes lahf_lm epb pti tpr_shadow vnmi flexpriority ept vpid dtherm ida arat
`

// labelled returns the names after prefix among the labels set to "true", sorted.
func labelled(l map[string]string, prefix string) []string {
	var out []string
	for k, v := range l {
		if name, ok := strings.CutPrefix(k, prefix); ok && v == "true" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func TestCPULabelsCascadeLake(t *testing.T) {
	l := cpuLabels([]byte(cascadeLakeCPUInfo))

	want := []string{"Broadwell-noTSX", "Cascadelake-Server", "Haswell-noTSX", "IvyBridge", "Nehalem", "Penryn",
		"SandyBridge", "Skylake-Client", "Westmere", "kvm64", "qemu64"}
	if got := labelled(l, kvv1.CPUModelLabel); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("cpu-model labels = %v, want %v", got, want)
	}
	if got := labelled(l, kvv1.HostModelCPULabel); len(got) != 1 || got[0] != "Cascadelake-Server" {
		t.Errorf("host-model-cpu labels = %v, want [Cascadelake-Server]", got)
	}
	if l[kvv1.NodeSchedulable] != "true" || l[kvv1.CPUModelVendorLabel+"Intel"] != "true" {
		t.Errorf("kubevirt.io/schedulable and cpu-vendor Intel missing: %v", l)
	}

	features := labelled(l, kvv1.CPUFeatureLabel)
	has := map[string]bool{}
	for _, f := range features {
		has[f] = true
	}
	// Linux names turned into libvirt's.
	for _, f := range []string{"pclmuldq", "sse4.1", "sse4.2", "tsc-deadline", "avx512vnni", "md-clear", "arch-capabilities", "vmx", "avx512f", "lahf_lm"} {
		if !has[f] {
			t.Errorf("feature %s not labelled; got %v", f, features)
		}
	}
	// Synthetic, host-only and Linux-spelled flags are not features a guest can get.
	for _, f := range []string{"pclmulqdq", "sse4_1", "constant_tsc", "monitor", "est", "dts", "ept", "ibrs", "avx512_vnni", "ospke"} {
		if has[f] {
			t.Errorf("feature %s must not be labelled", f)
		}
	}
}

func TestCPULabelsWestmere(t *testing.T) {
	l := cpuLabels([]byte(westmereCPUInfo))
	want := []string{"Nehalem", "Penryn", "Westmere", "kvm64", "qemu64"}
	if got := labelled(l, kvv1.CPUModelLabel); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("cpu-model labels = %v, want %v", got, want)
	}
	if got := labelled(l, kvv1.HostModelCPULabel); len(got) != 1 || got[0] != "Westmere" {
		t.Errorf("host-model-cpu labels = %v, want [Westmere]", got)
	}
	if l[kvv1.CPUFeatureLabel+"avx"] != "" {
		t.Error("a CPU without AVX is labelled with avx")
	}
}

func TestCPULabelsWithoutCPUInfo(t *testing.T) {
	l := cpuLabels(nil)
	if len(l) != 1 || l[kvv1.NodeSchedulable] != "true" {
		t.Errorf("labels without cpuinfo = %v, want only %s", l, kvv1.NodeSchedulable)
	}
}

// Every feature a model needs is one the labeller can publish, or no host could run it.
func TestCPUModelFeaturesArePublished(t *testing.T) {
	known := map[string]bool{}
	for _, f := range sameNameFeatures {
		known[f] = true
	}
	for _, f := range linuxToLibvirtFeature {
		known[f] = true
	}
	for _, m := range cpuModels {
		for _, f := range m.features {
			if !known[f] {
				t.Errorf("model %s needs %s, which no cpuinfo flag maps to", m.name, f)
			}
		}
	}
}
