// Command metricnames writes the metric list of one Milvus release
// (milvusmetrics/milvus-<line>.metrics) from Milvus' source in a git
// repository: pkg/metrics/*.go, with the role names of
// pkg/util/typeutil/type.go.
//
//	go run ./hack/metricnames -git /path/to/milvus.git -rev v2.6.15 -line 2.6 > milvusmetrics/milvus-2.6.metrics
package main

import (
	"flag"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"strings"

	"github.com/milvus-gitops/milvusgen/milvusmetrics"
)

func main() {
	gitDir := flag.String("git", "", "git directory of a Milvus clone")
	rev := flag.String("rev", "", "tag or commit")
	tag := flag.String("tag", "", "the release name for the header (default: -rev)")
	line := flag.String("line", "", "version line, e.g. 2.6")
	flag.Parse()
	if *gitDir == "" || *rev == "" || *line == "" {
		flag.Usage()
		os.Exit(2)
	}
	if *tag == "" {
		*tag = *rev
	}
	if err := run(*gitDir, *rev, *tag, *line); err != nil {
		fmt.Fprintln(os.Stderr, "metricnames:", err)
		os.Exit(1)
	}
}

func git(dir string, args ...string) (string, error) {
	out, err := exec.Command("git", append([]string{"--git-dir", dir}, args...)...).Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

func run(dir, rev, tag, line string) error {
	commit, err := git(dir, "rev-parse", rev+"^{commit}")
	if err != nil {
		return err
	}
	commit = strings.TrimSpace(commit)
	ls, err := git(dir, "ls-tree", "--name-only", commit, "pkg/metrics/")
	if err != nil {
		return err
	}
	files := map[string][]byte{}
	for _, p := range strings.Fields(ls) {
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			continue
		}
		b, err := git(dir, "show", commit+":"+p)
		if err != nil {
			return err
		}
		files[p] = []byte(b)
	}
	typeutil, err := git(dir, "show", commit+":pkg/util/typeutil/type.go")
	if err != nil {
		return err
	}
	f, err := parser.ParseFile(token.NewFileSet(), "type.go", typeutil, 0)
	if err != nil {
		return err
	}
	consts := map[string]string{}
	for k, v := range milvusmetrics.StringConsts(f) {
		consts["typeutil."+k] = v
	}
	fams, unresolved, err := milvusmetrics.Extract(files, consts)
	if err != nil {
		return err
	}
	for _, u := range unresolved {
		fmt.Fprintln(os.Stderr, "metricnames: name not resolved, left out:", u)
	}
	fmt.Printf("# source: milvus-io/milvus %s (commit %s), pkg/metrics\n", tag, commit)
	fmt.Printf("# The metric families Milvus %s exports: every prometheus.*Opts literal of pkg/metrics/*.go at\n", line)
	fmt.Printf("# %s, named as client_golang's BuildFQName joins Namespace, Subsystem and Name, with the label\n", tag)
	fmt.Printf("# names of the vector it builds (\"?\": not readable from the literal, \"-\": none).\n")
	fmt.Printf("# Regenerate with go run ./hack/metricnames -git DIR -rev TAG -line %s.\n", line)
	for _, fam := range fams {
		fmt.Println(fam.Line())
	}
	return nil
}
