package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/milvus-gitops/milvusgen/internal/kubeapi"
	"github.com/milvus-gitops/milvusgen/internal/testenv"
	"github.com/milvus-gitops/milvusgen/internal/testrender"
	"github.com/milvus-gitops/milvusgen/naming"
)

// createNamespace creates ns for real, enforcing and warning at the
// "restricted" Pod Security level, so that dry runs into it are judged as
// strictly as the cluster can.
func createNamespace(t *testing.T, s *kubeapi.Server, ns string) {
	t.Helper()
	manifest := fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: %s
  labels:
    pod-security.kubernetes.io/enforce: restricted
    pod-security.kubernetes.io/warn: restricted
---
# No controller-manager runs here to create the default ServiceAccount,
# which the ServiceAccount admission plugin looks up for every pod.
apiVersion: v1
kind: ServiceAccount
metadata:
  name: default
  namespace: %s
`, ns, ns)
	if _, _, err := kubectl(s, []byte(manifest), "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
}

// dryRun server-side dry-runs a stream and returns the objects accepted
// and the warnings. Strict field validation turns unknown fields into errors.
func dryRun(t *testing.T, s *kubeapi.Server, ns string, stream []byte) ([]string, []string, error) {
	t.Helper()
	args := []string{"apply", "--dry-run=server", "--validate=strict", "-f", "-"}
	if ns != "" {
		args = append(args, "--namespace", ns)
	}
	stdout, stderr, err := kubectl(s, stream, args...)
	var accepted []string
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if l != "" {
			accepted = append(accepted, strings.TrimSuffix(l, " (server dry run)"))
		}
	}
	return accepted, warnings(stderr), err
}

// TestOverlaysAcceptedByAPIServer applies `kustomize build out/ENV` of every
// environment with a server-side dry run: schema, CRDs, defaulting and
// admission all run. Any error or warning fails.
func TestOverlaysAcceptedByAPIServer(t *testing.T) {
	s := server(t)
	kustomize := testenv.Tool(t, "kustomize")
	root := testenv.RepoRoot(t)
	for name, r := range testrender.RenderAll(t) {
		t.Run(name, func(t *testing.T) {
			createNamespace(t, s, r.Env.Namespace)
			if r.Env.Delivery.ArgoCD != nil {
				createNamespace(t, s, r.Env.Delivery.ArgoCD.Namespace)
			}
			stream := testrender.Run(t, kustomize, "build", filepath.Join(root, "out", name))
			accepted, warns, err := dryRun(t, s, "", stream)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range warns {
				t.Errorf("warning on an object we generate: %s", w)
			}
			if want := len(testrender.DecodeAll(t, stream)); len(accepted) != want {
				t.Errorf("API server accepted %d objects, the overlay has %d", len(accepted), want)
			}
			// The opt-in restore Job, which the overlay does not include.
			if restore := filepath.Join(root, "out", name, "restore"); exists(restore) {
				more, warns, err := dryRun(t, s, "", testrender.Run(t, kustomize, "build", restore))
				if err != nil {
					t.Fatal(err)
				}
				for _, w := range warns {
					t.Errorf("warning on the restore Job: %s", w)
				}
				accepted = append(accepted, more...)
			}
			t.Logf("accepted: %s", strings.Join(accepted, ", "))
		})
	}
}

// podSecurityWarning is kubectl's rendering of a Pod Security warning.
var podSecurityWarning = regexp.MustCompile(`would violate PodSecurity "restricted:[^"]+": (.*)$`)

// TestChartObjectsAcceptedByAPIServer dry-runs what the Milvus chart renders
// from our values into the restricted namespace. Deployments get Pod
// Security warnings rather than rejections: with non-root enabled there
// must be none; without it, only the non-root check may complain.
func TestChartObjectsAcceptedByAPIServer(t *testing.T) {
	s := server(t)
	for name, r := range testrender.RenderAll(t) {
		t.Run(name, func(t *testing.T) {
			createNamespace(t, s, r.Env.Namespace)
			stream := testrender.HelmTemplate(t, r)
			accepted, warns, err := dryRun(t, s, r.Env.Namespace, stream)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range warns {
				m := podSecurityWarning.FindStringSubmatch(w)
				if m == nil {
					t.Errorf("warning: %s", w)
					continue
				}
				if r.Env.Security.RunAsNonRoot {
					t.Errorf("non-root Milvus must pass restricted: %s", w)
					continue
				}
				for _, v := range strings.Split(m[1], "), ") {
					if !strings.HasPrefix(v, "runAsNonRoot != true") {
						t.Errorf("violation beyond the chosen hardening (root allowed, nothing else): %s", v)
					}
				}
			}
			t.Logf("accepted: %s; %d Pod Security warnings (root allowed: %v)", strings.Join(accepted, ", "), len(warns), !r.Env.Security.RunAsNonRoot)
		})
	}
}

// TestServiceAccountsHaveLeastPrivilege applies every ServiceAccount, Role
// and RoleBinding we render (and those of the chart) for real, then asks the
// API server what each account may do.
func TestServiceAccountsHaveLeastPrivilege(t *testing.T) {
	s := server(t)
	kustomize := testenv.Tool(t, "kustomize")
	root := testenv.RepoRoot(t)
	tested := 0
	for name, r := range testrender.RenderAll(t) {
		t.Run(name, func(t *testing.T) {
			createNamespace(t, s, r.Env.Namespace)
			ns := r.Env.Namespace
			var rbac []string
			var accounts []string
			streams := [][]byte{testrender.Run(t, kustomize, "build", filepath.Join(root, "out", name)), testrender.HelmTemplate(t, r)}
			for _, stream := range streams {
				for _, o := range testrender.DecodeAll(t, stream) {
					switch o.GetKind() {
					case "ServiceAccount", "Role", "RoleBinding":
						b, err := o.MarshalJSON()
						if err != nil {
							t.Fatal(err)
						}
						rbac = append(rbac, string(b))
						if o.GetKind() == "ServiceAccount" {
							accounts = append(accounts, o.GetName())
						}
					}
				}
			}
			for _, obj := range rbac {
				if _, _, err := kubectl(s, []byte(obj), "apply", "--namespace", ns, "-f", "-"); err != nil {
					t.Fatal(err)
				}
			}
			sort.Strings(accounts)
			for _, sa := range accounts {
				tested++
				as := fmt.Sprintf("--as=system:serviceaccount:%s:%s", ns, sa)
				for _, check := range privileges(sa, ns, r.Env.Delivery.Kind == "flux", r.Env.Verification.Fault.Enabled, naming.MilvusFullname(r.Env.Release)) {
					got := canI(t, s, as, check.args...)
					if got != check.allowed {
						t.Errorf("%s: can-i %s = %v, want %v", sa, strings.Join(check.args, " "), got, check.allowed)
					}
				}
			}
			t.Logf("service accounts checked: %v", accounts)
		})
	}
	if tested == 0 {
		t.Log("no ServiceAccount rendered yet")
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// canI asks the API server; "no" is an answer, any other failure is not.
func canI(t *testing.T, s *kubeapi.Server, as string, args ...string) bool {
	t.Helper()
	out, stderr, err := kubectl(s, nil, append([]string{"auth", "can-i", as}, args...)...)
	answer := strings.TrimSpace(out)
	if answer != "yes" && answer != "no" || err != nil && answer != "no" {
		t.Fatalf("kubectl auth can-i %v: %q %v %s", args, answer, err, stderr)
	}
	return answer == "yes"
}

// TestCanIAnswersBothWays is the control for the least-privilege checks:
// the probe says yes where RBAC grants, and no where it does not.
func TestCanIAnswersBothWays(t *testing.T) {
	s := server(t)
	createNamespace(t, s, "e2e-rbac")
	grant := `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: read-pods, namespace: e2e-rbac}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: read-pods, namespace: e2e-rbac}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: read-pods}
subjects: [{kind: ServiceAccount, name: default, namespace: e2e-rbac}]
`
	if _, _, err := kubectl(s, []byte(grant), "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	as := "--as=system:serviceaccount:e2e-rbac:default"
	if !canI(t, s, as, "get", "pods", "-n", "e2e-rbac") {
		t.Error("a granted verb is denied")
	}
	if canI(t, s, as, "delete", "pods", "-n", "e2e-rbac") {
		t.Error("a verb that was not granted is allowed")
	}
}

type privilege struct {
	args    []string
	allowed bool
}

// privileges lists what a ServiceAccount may and may not do. Every account
// is denied the representative dangerous things; accounts with a job get
// what that job needs, and nothing more.
func privileges(sa, ns string, flux, fault bool, fullname string) []privilege {
	denied := func(args ...string) privilege { return privilege{args, false} }
	allowed := func(args ...string) privilege { return privilege{args, true} }
	var out []privilege
	if strings.HasSuffix(sa, "-verify") {
		// The verifier's fault phase: find query nodes, delete or evict
		// one; without it, no pod at all.
		out = append(out,
			privilege{[]string{"list", "pods", "-n", ns}, fault},
			privilege{[]string{"watch", "pods", "-n", ns}, fault},
			privilege{[]string{"delete", "pods", "-n", ns}, fault},
			privilege{[]string{"create", "pods", "--subresource=eviction", "-n", ns}, fault},
			// Its wait for the images: its own Milvus Deployments, by
			// name, read only.
			allowed("get", "deployments.apps/"+fullname+"-proxy", "-n", ns),
			allowed("get", "deployments.apps/"+fullname+"-querynode", "-n", ns),
			denied("get", "deployments.apps/another", "-n", ns),
			denied("list", "deployments.apps", "-n", ns),
			denied("patch", "deployments.apps/"+fullname+"-proxy", "-n", ns),
			denied("get", "cronjobs.batch", "-n", ns),
			denied("delete", "pods", "-n", "default"),
			denied("patch", "pods", "-n", ns),
			denied("delete", "services", "-n", ns),
			denied("delete", "helmreleases.helm.toolkit.fluxcd.io", "-n", ns),
		)
		if flux {
			out = append(out,
				allowed("get", "helmreleases.helm.toolkit.fluxcd.io/"+strings.TrimSuffix(sa, "-verify"), "-n", ns),
				denied("get", "helmreleases.helm.toolkit.fluxcd.io/another", "-n", ns),
			)
		}
	}
	out = append(out,
		denied("get", "secrets", "-n", ns),
		denied("list", "secrets", "-n", ns),
		denied("delete", "pods", "-n", "kube-system"),
		denied("delete", "deployments", "-n", ns),
		denied("create", "pods", "-n", ns),
		denied("create", "rolebindings", "-n", ns),
		denied("get", "nodes"),
	)
	return out
}
