// Package e2e validates everything gen renders against a real Kubernetes
// API server (internal/kubeapi) with the real CRDs loaded: the overlays, the
// objects the Milvus chart renders from our values, Pod Security, and the
// least privilege of every ServiceAccount.
package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/milvus-gitops/milvusgen/internal/kubeapi"
	"github.com/milvus-gitops/milvusgen/internal/testenv"
)

var (
	once     sync.Once
	srv      *kubeapi.Server
	srvErr   error
	stateDir string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if srv != nil {
		srv.Stop()
	}
	if stateDir != "" && code == 0 {
		os.RemoveAll(stateDir)
	} else if stateDir != "" {
		fmt.Fprintf(os.Stderr, "e2e: server state and logs kept in %s\n", stateDir)
	}
	os.Exit(code)
}

// server starts the API server once for the whole package and loads the
// CRDs from ../shared/crds.
func server(t *testing.T) *kubeapi.Server {
	t.Helper()
	bins := kubeapi.Binaries{
		Etcd:          testenv.Tool(t, "etcd"),
		KubeAPIServer: testenv.Tool(t, "kube-apiserver"),
		Kubectl:       testenv.Tool(t, "kubectl"),
	}
	shared := testenv.Shared(t)
	once.Do(func() {
		stateDir, srvErr = os.MkdirTemp("", "milvusgen-e2e-")
		if srvErr != nil {
			return
		}
		srv, srvErr = kubeapi.Start(stateDir, bins)
		if srvErr != nil {
			return
		}
		fmt.Fprintf(os.Stderr, "e2e: kube-apiserver ready in %s\n", srv.StartupTime.Round(1e6))
		// Server-side apply: the Argo CD Application CRD is too large for
		// the last-applied annotation of a client-side apply.
		if _, _, srvErr = kubectl(srv, nil, "apply", "--server-side", "-f", filepath.Join(shared, "crds")); srvErr != nil {
			return
		}
		_, _, srvErr = kubectl(srv, nil, "wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
	})
	if srvErr != nil {
		t.Fatalf("API server: %v", srvErr)
	}
	return srv
}

// kubectl runs kubectl against s with stdin, returning stdout and stderr.
func kubectl(s *kubeapi.Server, stdin []byte, args ...string) (string, string, error) {
	cmd := s.KubectlCmd(args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("kubectl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), stderr.String(), err
}

// warnings are the "Warning:" lines kubectl printed (Pod Security, deprecations).
func warnings(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "Warning:") {
			out = append(out, l)
		}
	}
	return out
}
