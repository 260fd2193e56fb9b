// Command sim deploys one committed environment onto a simulated cluster
// (real control plane, kwok nodes; see internal/simcluster) and prints
// where every pod runs and what the drills observed. `make sim ENV=prod`
// runs it with the pinned tools.
//
//	go run ./internal/cmd/sim [--drills=false] ENV
package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	flag "github.com/spf13/pflag"

	"github.com/milvus-gitops/milvusgen/internal/kubeapi"
	"github.com/milvus-gitops/milvusgen/internal/sim"
	"github.com/milvus-gitops/milvusgen/internal/simcluster"
	"github.com/milvus-gitops/milvusgen/spec"
)

func main() {
	drills := flag.Bool("drills", true, "run the drain, zone-loss, rolling-update and fault drills")
	keep := flag.Bool("keep", false, "keep the cluster's state and logs")
	overlays := flag.String("overlays", "overlays", "the overlays directory the environment is defined in")
	out := flag.String("out", "out", "the rendered overlays (out/ENV is installed)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: sim [--drills=false] [--keep] [--overlays DIR] [--out DIR] ENV")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *overlays, *out, *drills, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "sim:", err)
		os.Exit(1)
	}
}

func tool(name string) (string, error) {
	if dir := os.Getenv("MILVUSGEN_TOOLS"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found: run hack/tools.sh and set MILVUSGEN_TOOLS=$(hack/tools.sh --dir)", name)
	}
	return p, nil
}

func run(name, overlays, out string, drills, keep bool) error {
	paths := map[string]string{}
	for _, t := range []string{"etcd", "kube-apiserver", "kubectl", "kube-controller-manager", "kube-scheduler", "kwok", "kwok-stages", "helm", "kustomize"} {
		p, err := tool(t)
		if err != nil {
			return err
		}
		paths[t] = p
	}
	repo, err := os.Getwd()
	if err != nil {
		return err
	}
	set, err := spec.Load(overlays)
	if err != nil {
		return err
	}
	env, err := set.Environment(name)
	if err != nil {
		return err
	}
	stream, err := exec.Command(paths["kustomize"], "build", filepath.Join(out, name)).Output()
	if err != nil {
		return fmt.Errorf("kustomize build %s: %w", filepath.Join(out, name), err)
	}
	dir, err := os.MkdirTemp("", "milvusgen-sim-")
	if err != nil {
		return err
	}
	shared := os.Getenv("MILVUSGEN_SHARED")
	if shared == "" {
		shared = filepath.Join(repo, "..", "shared")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	rep, err := sim.Run(ctx, sim.Options{
		Env: env, Stream: stream, Dir: dir,
		Tools: sim.Tools{Helm: paths["helm"], Kustomize: paths["kustomize"], Charts: filepath.Join(shared, "charts"), CRDs: filepath.Join(shared, "crds"), Repo: repo},
		Bin: simcluster.Binaries{
			Binaries:          kubeapi.Binaries{Etcd: paths["etcd"], KubeAPIServer: paths["kube-apiserver"], Kubectl: paths["kubectl"]},
			ControllerManager: paths["kube-controller-manager"], Scheduler: paths["kube-scheduler"],
			Kwok: paths["kwok"], KwokStages: paths["kwok-stages"],
		},
		Log:   func(f string, a ...any) { fmt.Fprintf(os.Stderr, "sim: "+f+"\n", a...) },
		Drain: drills, Zones: drills, Rollout: drills, Fault: drills,
	})
	if rep != nil {
		rep.Write(os.Stdout)
		if err == nil {
			if broken := rep.Check(); len(broken) > 0 {
				fmt.Println("\nbroken promises:")
				for _, b := range broken {
					fmt.Println("  " + b)
				}
				err = fmt.Errorf("%d broken promises", len(broken))
			} else {
				fmt.Println("\nevery observation is within what the static analysis (gen vet) guarantees")
			}
		}
	}
	if err != nil || keep {
		fmt.Fprintf(os.Stderr, "sim: state and logs kept in %s\n", dir)
	} else {
		os.RemoveAll(dir)
	}
	return err
}
