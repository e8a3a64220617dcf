package d8

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// sshOptions are the flags `d8 v ssh` and `d8 v scp` share, named as in the upstream d8.
type sshOptions struct {
	vmStreamOptions
	username      string
	port          int
	identityFiles []string
	knownHosts    string
	localSSH      bool
	localSSHOpts  []string
}

func (o *sshOptions) addFlags(cmd *cobra.Command) {
	o.vmStreamOptions.addFlags(cmd)
	f := cmd.Flags()
	f.StringVarP(&o.username, "username", "l", "", "User to log in as (default: USER@ of the target, else the local user name).")
	f.IntVarP(&o.port, "port", "p", 22, "SSH port of the virtual machine.")
	f.StringArrayVarP(&o.identityFiles, "identity-file", "i", nil, "Private key file to log in with (repeatable; default: the ssh-agent and ~/.ssh/id_ed25519, id_ecdsa, id_rsa).")
	f.StringVar(&o.knownHosts, "known-hosts", "", "known_hosts file holding the VMs' host keys, as vm/NAME.NAMESPACE (default: ~/.ssh/known_hosts).")
	f.BoolVar(&o.localSSH, "local-ssh", false, "Run the local OpenSSH client with d8 as its ProxyCommand instead of the built-in client.")
	f.StringArrayVarP(&o.localSSHOpts, "local-ssh-opts", "t", nil, `Options for the local OpenSSH client, e.g. "-o StrictHostKeyChecking=no" (repeatable; split like a shell does).`)
}

// vmHost is a VM as SSH sees it.
type vmHost struct {
	user      string // "" when neither USER@ nor --username gave one
	name      string
	namespace string
}

// alias names the VM's host key in known_hosts (HostKeyAlias of OpenSSH): VMs have no stable
// address, and NAME.NAMESPACE alone could clash with a real host name.
func (h vmHost) alias() string { return "vm/" + h.name + "." + h.namespace }

// sshHost is the host name given to the local ssh and scp: never resolved (the ProxyCommand
// connects), and free of '/', which scp would take for a local path.
func (h vmHost) sshHost() string { return h.name + "." + h.namespace }

// resolveHost splits [USER@]NAME[.NAMESPACE] and finds the namespace from the flags and the
// kubeconfig. USER@ wins over --username.
func (o *sshOptions) resolveHost(target string) (vmHost, *vmDialer, error) {
	user, vm, hasUser := strings.Cut(target, "@")
	if !hasUser {
		user, vm = o.username, target
	} else if user == "" {
		return vmHost{}, nil, fmt.Errorf("%q: expected [USER@]NAME[.NAMESPACE]", target)
	}
	d, err := o.dialer(vm)
	if err != nil {
		return vmHost{}, nil, err
	}
	return vmHost{user: user, name: d.name, namespace: d.namespace}, d, nil
}

// knownHostsPath is --known-hosts, or ~/.ssh/known_hosts.
func (o *sshOptions) knownHostsPath() (string, error) {
	if o.knownHosts != "" {
		return o.knownHosts, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding ~/.ssh/known_hosts: %w", err)
	}
	return filepath.Join(home, ".ssh", "known_hosts"), nil
}

// selfExecutable is this d8's binary, which the local ssh runs as its ProxyCommand.
var selfExecutable = os.Executable

// proxyCommand is the ProxyCommand that carries the local ssh's connection to the VM: this
// d8's port-forward --stdio with the cluster flags it was given. ssh runs it with the shell
// and expands %-tokens in it, so both are escaped.
func (o *sshOptions) proxyCommand(h vmHost) (string, error) {
	self, err := selfExecutable()
	if err != nil {
		return "", fmt.Errorf("finding the d8 binary for the ProxyCommand: %w", err)
	}
	args := []string{self, "v", "port-forward", "--stdio", h.sshHost(), strconv.Itoa(o.port)}
	if o.kubeconfig != "" {
		args = append(args, "--kubeconfig", o.kubeconfig)
	}
	if o.context != "" {
		args = append(args, "--context", o.context)
	}
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = shellQuote(a)
	}
	return strings.ReplaceAll(strings.Join(quoted, " "), "%", "%%"), nil
}

// localSSHArgs are the options common to the local ssh and scp; portFlag is -p for ssh and
// -P for scp.
func (o *sshOptions) localSSHArgs(h vmHost, portFlag string) ([]string, error) {
	proxy, err := o.proxyCommand(h)
	if err != nil {
		return nil, err
	}
	args := []string{"-o", "ProxyCommand=" + proxy, "-o", "HostKeyAlias=" + h.alias()}
	if o.knownHosts != "" {
		args = append(args, "-o", "UserKnownHostsFile="+o.knownHosts)
	}
	if o.port != 22 {
		args = append(args, portFlag, strconv.Itoa(o.port))
	}
	for _, id := range o.identityFiles {
		args = append(args, "-i", id)
	}
	for _, opts := range o.localSSHOpts {
		words, err := splitShellWords(opts)
		if err != nil {
			return nil, fmt.Errorf("--local-ssh-opts %q: %w", opts, err)
		}
		args = append(args, words...)
	}
	return args, nil
}

// runLocal runs the local program (ssh or scp) on the terminal and exits with its status.
func runLocal(streams Streams, program string, args []string) error {
	path, err := exec.LookPath(program)
	if err != nil {
		return fmt.Errorf("--local-ssh: %s is not installed: %w", program, err)
	}
	c := exec.Command(path, args...)
	c.Stdin, c.Stdout, c.Stderr = streams.In, streams.Out, streams.ErrOut
	return runChild(c)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// splitShellWords splits s at blanks, honouring '...', "..." and backslashes, so that
// --local-ssh-opts="-o StrictHostKeyChecking=no" is two arguments, as the user meant.
func splitShellWords(s string) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			word.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			word.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, fmt.Errorf("unterminated quote or escape")
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}
