package localstack

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki holds the paths of the certificates and keys of the local stack. They are made once
// in <dir>/pki and reused, so kubeconfigs and the APIService caBundle stay valid.
type pki struct {
	dir string
}

func (p pki) path(name string) string { return filepath.Join(p.dir, name) }

// Files of the stack.
const (
	clusterCA         = "ca"                       // signs kube-apiserver's serving cert and client certs
	kubeServing       = "kube-apiserver"           // kube-apiserver serving
	admin             = "admin"                    // system:masters client
	frontProxyCA      = "front-proxy-ca"           // signs the aggregator's client cert
	frontProxyClient  = "front-proxy-client"       // kube-apiserver -> virtualization-apiserver
	virtCA            = "virtualization-ca"        // the APIService caBundle
	virtServing       = "virtualization-serving"   // virtualization-apiserver serving
	virtClient        = "virtualization-apiserver" // virtualization-apiserver -> kube-apiserver
	serviceAccountKey = "service-account"          // signs service account tokens
	controllerManager = "kube-controller-manager"  // kube-controller-manager -> kube-apiserver
	dvcrToken         = "dvcr-token"               // signs DVCR access tokens; DVCR trusts its certificate
	kubevirtCA        = "kubevirt-ca"              // the KubeVirt stand-in's CA: handlers, virt-api, its APIService caBundle
	kubevirtHandler   = "kubevirt-handler"         // every local node's handler endpoint, server and client (mutual TLS with virt-api)
	kubevirtVirtAPI   = "kubevirt-virt-api"        // virt-api serving (the local node that plays it)
)

// virtualizationUser is the identity of virtualization-apiserver towards kube-apiserver: the
// ServiceAccount that artifacts/rbac binds, so the same bindings serve here and on a cluster.
const virtualizationUser = "system:serviceaccount:d8-virtualization:virtualization-apiserver"

// ensure makes every missing certificate and key.
func (p pki) ensure() error {
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return err
	}
	loopback := []net.IP{net.ParseIP("127.0.0.1")}
	steps := []func() error{
		func() error { return p.ca(clusterCA, "virtplane-local-ca") },
		func() error { return p.ca(frontProxyCA, "virtplane-local-front-proxy-ca") },
		func() error { return p.ca(virtCA, "virtplane-local-virtualization-ca") },
		func() error {
			return p.cert(kubeServing, clusterCA, "kube-apiserver", nil,
				[]string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"}, loopback, true)
		},
		func() error { return p.cert(admin, clusterCA, "admin", []string{"system:masters"}, nil, nil, false) },
		func() error {
			return p.cert(frontProxyClient, frontProxyCA, "front-proxy-client", nil, nil, nil, false)
		},
		func() error {
			return p.cert(virtServing, virtCA, "virtualization-apiserver", nil,
				[]string{"localhost", "virtualization-apiserver.d8-virtualization.svc"}, loopback, true)
		},
		func() error {
			return p.cert(virtClient, clusterCA, virtualizationUser,
				[]string{"system:serviceaccounts", "system:serviceaccounts:d8-virtualization"}, nil, nil, false)
		},
		func() error {
			return p.cert(controllerManager, clusterCA, "system:kube-controller-manager", nil, nil, nil, false)
		},
		p.serviceAccountKey,
		func() error { return p.ca(dvcrToken, "virtplane-local-dvcr-token") },
		func() error { return p.ca(kubevirtCA, "virtplane-local-kubevirt-ca") },
		func() error {
			return p.certWithUsage(kubevirtHandler, kubevirtCA, "local-node-handler", nil, []string{"localhost"}, loopback,
				[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth})
		},
		func() error {
			return p.cert(kubevirtVirtAPI, kubevirtCA, "virt-api", nil,
				[]string{"localhost", kubeVirtAPIService + "." + kubeVirtNamespace + ".svc"}, loopback, true)
		},
	}
	for _, u := range platformUsers {
		u := u
		steps = append(steps, func() error { return p.cert(u.file, clusterCA, u.cn, u.orgs, nil, nil, false) })
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func (p pki) ca(name, cn string) error {
	if exists(p.path(name + ".crt")) {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	return p.write(name, der, key)
}

func (p pki) cert(name, caName, cn string, orgs, dns []string, ips []net.IP, server bool) error {
	usage := x509.ExtKeyUsageClientAuth
	if server {
		usage = x509.ExtKeyUsageServerAuth
	}
	return p.certWithUsage(name, caName, cn, orgs, dns, ips, []x509.ExtKeyUsage{usage})
}

func (p pki) certWithUsage(name, caName, cn string, orgs, dns []string, ips []net.IP, usages []x509.ExtKeyUsage) error {
	if exists(p.path(name + ".crt")) {
		return nil
	}
	caCert, caKey, err := p.load(caName)
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn, Organization: orgs},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  usages,
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	return p.write(name, der, key)
}

// serviceAccountKey makes the RSA key pair kube-apiserver signs and checks tokens with.
func (p pki) serviceAccountKey() error {
	if exists(p.path(serviceAccountKey + ".key")) {
		return nil
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	if err := writePEM(p.path(serviceAccountKey+".pub"), "PUBLIC KEY", pub); err != nil {
		return err
	}
	return writePEM(p.path(serviceAccountKey+".key"), "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key))
}

func (p pki) write(name string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writePEM(p.path(name+".key"), "EC PRIVATE KEY", keyDER); err != nil {
		return err
	}
	return writePEM(p.path(name+".crt"), "CERTIFICATE", der)
}

func (p pki) load(name string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(p.path(name + ".crt"))
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(p.path(name + ".key"))
	if err != nil {
		return nil, nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, errors.New("bad PEM in " + name)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(fmt.Sprintf("reading randomness: %v", err))
	}
	return n
}
