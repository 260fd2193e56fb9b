// Package kubeapi runs a real Kubernetes API server for tests: etcd and
// kube-apiserver on loopback ports, RBAC authorization, a static admin
// token, a self-generated service-account key pair, and a kubeconfig for
// kubectl. Start it once per test binary; Stop ends both processes and
// waits for them.
package kubeapi

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Binaries are the programs the server needs.
type Binaries struct {
	Etcd, KubeAPIServer, Kubectl string
}

// Server is a running API server.
type Server struct {
	// Dir holds the state: etcd data, certificates, keys, logs, kubeconfig.
	Dir string
	// Kubeconfig is the admin kubeconfig (group system:masters).
	Kubeconfig string
	// URL is the secure endpoint.
	URL     string
	Kubectl string
	// StartupTime is how long it took until /readyz answered ok.
	StartupTime time.Duration

	token          string
	etcd, apiserve *proc
	// extra are processes started with Run (controllers, kwok), stopped
	// first, newest first.
	extra []*proc
}

// ServiceAccountKey is the private key the API server signs
// service-account tokens with (kube-controller-manager needs it).
func (s *Server) ServiceAccountKey() string { return filepath.Join(s.Dir, "sa.key") }

// ServingCert is the API server's self-signed serving certificate, the CA
// that pods would trust.
func (s *Server) ServingCert() string { return filepath.Join(s.Dir, "certs", "apiserver.crt") }

// Run starts another process beside the server (logging to
// Dir/<name>.log) that Stop ends before the server. exited closes when it
// exits.
func (s *Server) Run(name, bin string, args ...string) (exited <-chan struct{}, err error) {
	p, err := launch(filepath.Join(s.Dir, name+".log"), bin, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s.extra = append(s.extra, p)
	return p.done, nil
}

// FreePorts reserves n loopback ports for processes started with Run.
func FreePorts(n int) ([]int, error) { return freePorts(n) }

// proc is a started process; done closes when it has exited.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// Start brings up etcd and kube-apiserver under dir. The loopback ports are
// picked free and released just before the servers bind them, so another
// process may take one in between: a failed start is retried in a fresh
// state directory.
func Start(dir string, bin Binaries) (*Server, error) {
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		sub := filepath.Join(dir, fmt.Sprintf("attempt-%d", attempt))
		if err = os.MkdirAll(sub, 0o700); err != nil {
			return nil, err
		}
		var s *Server
		if s, err = start(sub, bin); err == nil {
			return s, nil
		}
	}
	return nil, err
}

func start(dir string, bin Binaries) (*Server, error) {
	begin := time.Now()
	s := &Server{Dir: dir, Kubectl: bin.Kubectl, token: "milvusgen-e2e-admin-token"}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	etcdClient, etcdPeer, secure := ports[0], ports[1], ports[2]

	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", etcdClient)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", etcdPeer)
	s.etcd, err = launch(filepath.Join(dir, "etcd.log"), bin.Etcd,
		"--name", "e2e",
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "e2e="+peerURL,
		"--log-level", "warn",
	)
	if err != nil {
		return nil, fmt.Errorf("etcd: %w", err)
	}

	s.URL = fmt.Sprintf("https://127.0.0.1:%d", secure)
	if err := s.writeCredentials(); err != nil {
		s.Stop()
		return nil, err
	}
	s.apiserve, err = launch(filepath.Join(dir, "kube-apiserver.log"), bin.KubeAPIServer,
		"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1",
		"--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(secure),
		"--cert-dir", filepath.Join(dir, "certs"),
		// The kubernetes Service endpoint reconciler refuses a loopback
		// advertise address.
		"--endpoint-reconciler-type", "none",
		"--service-cluster-ip-range", "10.96.0.0/16",
		"--token-auth-file", filepath.Join(dir, "tokens.csv"),
		"--authorization-mode", "RBAC",
		// As on a real cluster: Pod Security admission, not this switch,
		// decides whether a privileged pod may run.
		"--allow-privileged=true",
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", filepath.Join(dir, "sa.pub"),
		"--service-account-signing-key-file", filepath.Join(dir, "sa.key"),
	)
	if err != nil {
		s.Stop()
		return nil, fmt.Errorf("kube-apiserver: %w", err)
	}
	if err := s.waitReady(90 * time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	s.StartupTime = time.Since(begin)
	return s, nil
}

func (s *Server) writeCredentials() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"sa.key":     pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		"sa.pub":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
		"tokens.csv": []byte(s.token + `,e2e-admin,e2e-admin-uid,"system:masters"` + "\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(s.Dir, name), b, 0o600); err != nil {
			return err
		}
	}
	s.Kubeconfig = filepath.Join(s.Dir, "kubeconfig")
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: %s
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: %s
contexts:
- name: e2e
  context: {cluster: e2e, user: admin}
current-context: e2e
`, s.URL, s.token)
	return os.WriteFile(s.Kubeconfig, []byte(kc), 0o600)
}

// waitReady polls /readyz until it answers 200.
func (s *Server) waitReady(timeout time.Duration) error {
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, // self-signed, loopback only
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		select {
		case <-s.apiserve.done:
			return fmt.Errorf("kube-apiserver exited: see %s", filepath.Join(s.Dir, "kube-apiserver.log"))
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+s.token)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("readyz: %s", resp.Status)
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("kube-apiserver not ready after %s: %v (see %s)", timeout, last, filepath.Join(s.Dir, "kube-apiserver.log"))
}

// Stop terminates the processes started with Run, kube-apiserver, then
// etcd, and waits for each.
func (s *Server) Stop() {
	procs := make([]*proc, 0, len(s.extra)+2)
	for i := len(s.extra) - 1; i >= 0; i-- {
		procs = append(procs, s.extra[i])
	}
	for _, p := range append(procs, s.apiserve, s.etcd) {
		if p == nil {
			continue
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
}

// KubectlCmd is kubectl against this server.
func (s *Server) KubectlCmd(args ...string) *exec.Cmd {
	return exec.Command(s.Kubectl, append([]string{"--kubeconfig", s.Kubeconfig}, args...)...)
}

func launch(logFile, bin string, args ...string) (*proc, error) {
	log, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, so that a test binary killed by a signal
	// does not leave it behind silently.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); log.Close(); close(p.done) }()
	return p, nil
}

// freePorts reserves n loopback ports (closed again before use; a race with
// another process is possible but unlikely on a test machine).
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	if len(ports) != n {
		return nil, errors.New("no free ports")
	}
	return ports, nil
}
