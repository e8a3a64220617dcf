// Command nocloud applies a NoCloud seed (the cidata drive KubeVirt's cloudInitNoCloud
// attaches) to the test guest: the subset of cloud-init that the walkthroughs and the
// platform's tests use. The guest's /etc/init.d/rcS runs "nocloud find" (device and type of
// the drive), "nocloud apply <mounted seed>" early in boot, and "nocloud final" in the
// background once the network and SSH are up.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	root := flag.String("root", "/", "root directory of the guest to change")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: nocloud [-root DIR] find | apply SEEDDIR | final\n")
		flag.PrintDefaults()
	}
	flag.Parse()

	a := &Applier{
		Root:    *root,
		Log:     os.Stderr,
		Console: printOnConsoles,
		Uptime:  uptime,
	}
	if *root == "/" {
		a.SetHostname = func(name string) error { return syscall.Sethostname([]byte(name)) }
	}
	var err error
	switch {
	case flag.NArg() == 1 && flag.Arg(0) == "find":
		dev, fstype := FindSeed("/sys/class/block", "/dev")
		if dev == "" {
			os.Exit(1)
		}
		fmt.Println(dev, fstype)
	case flag.NArg() == 2 && flag.Arg(0) == "apply":
		err = a.Apply(flag.Arg(1))
	case flag.NArg() == 1 && flag.Arg(0) == "final":
		err = a.Final()
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "nocloud: %v\n", err)
		os.Exit(1)
	}
}

// printOnConsoles writes a line on the serial console (/dev/console) and on the screen
// (tty1), where cloud-init's messages show on a cloud image.
func printOnConsoles(line string) {
	for _, dev := range []string{"/dev/console", "/dev/tty1"} {
		f, err := os.OpenFile(dev, os.O_WRONLY|syscall.O_NOCTTY, 0)
		if err != nil {
			continue
		}
		fmt.Fprintf(f, "%s\r\n", line)
		f.Close()
	}
}

func uptime() (time.Duration, error) {
	data, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0, fmt.Errorf("empty /proc/uptime")
	}
	s, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, err
	}
	return time.Duration(s * float64(time.Second)), nil
}
