package verifier

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	mlog "github.com/milvus-io/milvus/pkg/v2/log"
)

// TestPreflightBeforeAnyData: the fault phase's permissions and targets
// are checked up front, and a denial names what is missing.
func TestPreflightBeforeAnyData(t *testing.T) {
	running := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"component": "querynode"}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	}
	for _, tc := range []struct {
		name    string
		allowed func(verb, sub string) bool
		mode    string
		pods    int
		want    string
	}{
		{"allowed", func(string, string) bool { return true }, "delete", 2, ""},
		{"no delete", func(v, _ string) bool { return v != "delete" }, "delete", 2, "may not delete pods in namespace ns"},
		{"no eviction", func(_, sub string) bool { return sub != "eviction" }, "evict", 2, "may not create pods/eviction"},
		{"too few targets", func(string, string) bool { return true }, "delete", 1, "1 running pods match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var objs []runtime.Object
			for i := 0; i < tc.pods; i++ {
				objs = append(objs, running(string(rune('a'+i))))
			}
			kube := fake.NewSimpleClientset(objs...)
			kube.PrependReactor("create", "selfsubjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
				r := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SelfSubjectAccessReview)
				ra := r.Spec.ResourceAttributes
				r.Status.Allowed = ra.Namespace == "ns" && tc.allowed(ra.Verb, ra.Subresource)
				return true, r, nil
			})
			k := &PodKiller{Client: kube, Namespace: "ns", Selector: "component=querynode", Count: 2, Mode: tc.mode}
			err := k.Preflight(context.Background())
			if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestConnectNamesAnUnreachablePort: nothing listens on the port, and the
// error says where it looked, at once rather than after the RPC deadline.
func TestConnectNamesAnUnreachablePort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // a port nothing listens on
	start := time.Now()
	_, err = Connect(context.Background(), ConnectOptions{Address: addr})
	if err == nil || !strings.Contains(err.Error(), "cannot reach Milvus' gRPC port at "+addr) {
		t.Errorf("got %v", err)
	}
	if time.Since(start) > 6*time.Second {
		t.Errorf("took %s", time.Since(start))
	}
}

// TestClientLogsStayOffStdout: stdout carries the JSON report; the Milvus
// client's warnings (its retries log through log.Ctx) must go to stderr.
// Run in a child process, whose stdout and stderr are the test's to read.
func TestClientLogsStayOffStdout(t *testing.T) {
	if os.Getenv("VERIFIER_LOG_CHILD") == "1" {
		Connect(context.Background(), ConnectOptions{Address: "127.0.0.1:1"}) // fails at the dial, after the logger is set
		mlog.Warn("global-warning")
		mlog.Ctx(context.Background()).Warn("ctx-warning")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestClientLogsStayOffStdout$")
	cmd.Env = append(os.Environ(), "VERIFIER_LOG_CHILD=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if strings.Contains(stdout.String(), "warning") {
		t.Errorf("client logs on stdout:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "global-warning") || !strings.Contains(stderr.String(), "ctx-warning") {
		t.Errorf("client logs missing from stderr:\n%s", stderr.String())
	}
}
