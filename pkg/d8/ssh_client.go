package d8

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/coder/websocket"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
	"golang.org/x/term"
)

// askSecret asks for a password or passphrase without echo; ok is false when there is no
// terminal to ask on. Tests replace it.
var askSecret = func(streams Streams, prompt string) (secret string, ok bool, err error) {
	f, isFile := streams.In.(*os.File)
	if !isFile || !term.IsTerminal(int(f.Fd())) {
		return "", false, nil
	}
	fmt.Fprint(streams.ErrOut, prompt)
	b, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(streams.ErrOut)
	return string(b), true, err
}

// defaultIdentityFiles are tried when no --identity-file is given, as OpenSSH does.
var defaultIdentityFiles = []string{"id_ed25519", "id_ecdsa", "id_rsa"}

// dialSSH logs in to the VM over a port-forward stream, checking its host key against the
// known_hosts file. The client ends when ctx does.
func (o *sshOptions) dialSSH(ctx context.Context, streams Streams, d *vmDialer, h vmHost) (*ssh.Client, error) {
	if h.user == "" {
		u, err := user.Current()
		if err != nil {
			return nil, fmt.Errorf("no user given (USER@NAME or --username) and the local one is unknown: %w", err)
		}
		h.user = u.Username
	}
	hostKeys, hostKeyAlgorithms, err := o.hostKeyCallback(streams, h)
	if err != nil {
		return nil, err
	}
	auth, closeAgent, err := o.authMethods(streams, h)
	if err != nil {
		return nil, err
	}
	defer closeAgent()

	ws, err := d.dial(ctx, "portforward", portForwardQuery(o.port))
	if err != nil {
		return nil, fmt.Errorf("connecting to port %d of VirtualMachine %s/%s: %w", o.port, h.namespace, h.name, err)
	}
	conn := websocket.NetConn(context.WithoutCancel(ctx), ws, websocket.MessageBinary)
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	addr := net.JoinHostPort(h.alias(), strconv.Itoa(o.port))
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, &ssh.ClientConfig{
		User:              h.user,
		Auth:              auth,
		HostKeyCallback:   hostKeys,
		HostKeyAlgorithms: hostKeyAlgorithms,
	})
	if err != nil {
		stop()
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("logging in to %s as %s: %w", h.alias(), h.user, err)
	}
	client := ssh.NewClient(c, chans, reqs)
	go func() {
		client.Wait()
		stop()
	}()
	return client, nil
}

// authMethods are the ssh-agent's keys, the identity files, then a password asked on the
// terminal. close releases the agent's connection once logged in.
func (o *sshOptions) authMethods(streams Streams, h vmHost) (methods []ssh.AuthMethod, close func(), err error) {
	close = func() {}
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		if conn, err := net.Dial("unix", sock); err == nil {
			close = func() { conn.Close() }
			methods = append(methods, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
		}
	}
	signers, err := o.identitySigners(streams)
	if err != nil {
		close()
		return nil, nil, err
	}
	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}
	prompt := fmt.Sprintf("%s@%s's password: ", h.user, h.alias())
	methods = append(methods,
		ssh.RetryableAuthMethod(ssh.PasswordCallback(func() (string, error) {
			secret, ok, err := askSecret(streams, prompt)
			if !ok && err == nil {
				err = errors.New("no terminal to ask for a password on")
			}
			return secret, err
		}), 3),
		ssh.RetryableAuthMethod(ssh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
			answers := make([]string, len(questions))
			for i, q := range questions {
				secret, ok, err := askSecret(streams, q)
				if !ok && err == nil {
					err = errors.New("no terminal to answer on")
				}
				if err != nil {
					return nil, err
				}
				answers[i] = secret
			}
			return answers, nil
		}), 3),
	)
	return methods, close, nil
}

// identitySigners reads --identity-file, or the default keys that exist. A passphrase is
// asked on the terminal; without one, an encrypted default key is skipped.
func (o *sshOptions) identitySigners(streams Streams) ([]ssh.Signer, error) {
	files, explicit := o.identityFiles, len(o.identityFiles) > 0
	if !explicit {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, nil
		}
		for _, name := range defaultIdentityFiles {
			files = append(files, filepath.Join(home, ".ssh", name))
		}
	}
	var signers []ssh.Signer
	for _, file := range files {
		pem, err := os.ReadFile(file)
		if err != nil {
			if explicit {
				return nil, fmt.Errorf("reading the identity file: %w", err)
			}
			continue
		}
		signer, err := ssh.ParsePrivateKey(pem)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			passphrase, ok, askErr := askSecret(streams, fmt.Sprintf("Enter passphrase for key '%s': ", file))
			if askErr != nil {
				return nil, askErr
			}
			if !ok {
				if explicit {
					return nil, fmt.Errorf("%s is encrypted and there is no terminal to ask for its passphrase", file)
				}
				continue
			}
			signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, []byte(passphrase))
		}
		if err != nil {
			if explicit {
				return nil, fmt.Errorf("identity file %s: %w", file, err)
			}
			continue
		}
		signers = append(signers, signer)
	}
	return signers, nil
}

// hostKeyCallback checks the VM's key against the known_hosts file under its alias. An
// unknown key is added when the user says yes on the terminal; a changed one is refused.
// algorithms are those of the keys known for the VM, so the server is asked for a key of a
// known type rather than one that would look changed (nil when none is known).
func (o *sshOptions) hostKeyCallback(streams Streams, h vmHost) (callback ssh.HostKeyCallback, algorithms []string, err error) {
	path, err := o.knownHostsPath()
	if err != nil {
		return nil, nil, err
	}
	var files []string
	if _, err := os.Stat(path); err == nil {
		files = append(files, path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("known hosts: %w", err)
	}
	check, err := knownhosts.New(files...)
	if err != nil {
		return nil, nil, fmt.Errorf("known hosts: %w", err)
	}
	return func(hostname string, _ net.Addr, key ssh.PublicKey) error {
		// The stream has no TCP address; knownhosts parses one but goes by hostname.
		err := check(hostname, &net.TCPAddr{}, key)
		var keyErr *knownhosts.KeyError
		if !errors.As(err, &keyErr) {
			return err
		}
		fingerprint := ssh.FingerprintSHA256(key)
		if len(keyErr.Want) > 0 {
			return fmt.Errorf("the host key of %s has CHANGED (now %s %s; %s:%d has another): "+
				"someone may be intercepting the connection, or the VM was recreated; if you trust the new key, "+
				"remove the old one with: ssh-keygen -R '%s' -f %s",
				h.alias(), key.Type(), fingerprint, keyErr.Want[0].Filename, keyErr.Want[0].Line, knownhosts.Normalize(hostname), path)
		}
		accepted, err := confirm(streams, fmt.Sprintf("The authenticity of host '%s' can't be established.\n%s key fingerprint is %s.\n"+
			"Are you sure you want to continue connecting (yes/no)? ", h.alias(), key.Type(), fingerprint))
		if err != nil {
			return err
		}
		if !accepted {
			return fmt.Errorf("the host key of %s (%s %s) is not in %s; connect once on a terminal to check and add it",
				h.alias(), key.Type(), fingerprint, path)
		}
		if err := appendKnownHost(path, hostname, key); err != nil {
			return err
		}
		fmt.Fprintf(streams.ErrOut, "Warning: Permanently added '%s' (%s) to the list of known hosts.\n", h.alias(), key.Type())
		return nil
	}, knownKeyAlgorithms(check, net.JoinHostPort(h.alias(), strconv.Itoa(o.port))), nil
}

// knownKeyAlgorithms asks check about a key no host has: the KeyError lists the host's known
// keys, whose algorithms the client then offers.
func knownKeyAlgorithms(check ssh.HostKeyCallback, hostport string) []string {
	probe, err := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		return nil
	}
	var keyErr *knownhosts.KeyError
	if !errors.As(check(hostport, &net.TCPAddr{}, probe), &keyErr) {
		return nil
	}
	var algorithms []string
	for _, known := range keyErr.Want {
		switch t := known.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			algorithms = append(algorithms, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			algorithms = append(algorithms, t)
		}
	}
	return algorithms
}

// confirm asks a yes/no question on the terminal; without a terminal the answer is no.
func confirm(streams Streams, question string) (bool, error) {
	f, ok := streams.In.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false, nil
	}
	fmt.Fprint(streams.ErrOut, question)
	for {
		line, err := readLine(f)
		if err != nil {
			return false, err
		}
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "yes":
			return true, nil
		case "no":
			return false, nil
		}
		fmt.Fprint(streams.ErrOut, "Please type 'yes' or 'no': ")
	}
}

// readLine reads one byte at a time: what follows the line belongs to the session.
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	c := make([]byte, 1)
	for b.Len() < 256 {
		if _, err := io.ReadFull(r, c); err != nil {
			return b.String(), err
		}
		if c[0] == '\n' {
			break
		}
		b.WriteByte(c[0])
	}
	return b.String(), nil
}

// appendKnownHost adds the key of host to the known_hosts file, creating it (and ~/.ssh).
func appendKnownHost(path, host string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(host)}, key)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
