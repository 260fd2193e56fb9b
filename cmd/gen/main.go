// Command gen compiles environment specs (overlays/*.cue) into Kustomize
// overlays that Flux or Argo CD sync: see `gen --help`.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/milvus-gitops/milvusgen/analysis"
	"github.com/milvus-gitops/milvusgen/compiler"
	"github.com/milvus-gitops/milvusgen/diff"
	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/render"
	"github.com/milvus-gitops/milvusgen/spec"
)

// Exit codes, shared by every subcommand.
const (
	exitOK    = 0
	exitError = 1
	exitDrift = 2
)

func main() {
	// gen is a short-lived process whose heap is mostly garbage from CUE
	// evaluation and YAML encoding: collecting less often saves a fifth
	// of its CPU. The memory limit keeps the peak bounded all the same
	// (the GC runs whenever the heap nears it). GOGC and GOMEMLIMIT, when
	// set, win.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// 55 MiB per rendering worker (each holds a CUE context of its
		// own): 110 MiB on 2 cores, more where more workers run.
		debug.SetMemoryLimit(int64(55*max(2, runtime.GOMAXPROCS(0))) << 20)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `gen compiles Milvus environment specs into GitOps-ready Kustomize overlays.

Usage:
  gen render ENV [-o DIR]     print the built manifests of ENV, or write out/ENV
  gen render --all -o DIR     write every environment
  gen vet ENV|FILE...         validate only
  gen check                   re-render every environment and compare with out/
  gen diff ENV [ENV_B]        semantic diff: ENV against out/ENV, or ENV against ENV_B
  gen explain ENV PATH        where a spec value comes from, and its constraint
  gen list                    list the environments

Run 'gen COMMAND --help' for a command's flags.
Exit codes: 0 ok, 1 error (invalid spec, I/O), 2 drift or differences (check, diff).
`

type command struct {
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() map[string]command {
	return map[string]command{
		"render":  {"render environments", runRender},
		"vet":     {"validate environments", runVet},
		"check":   {"compare committed output with a fresh render", runCheck},
		"list":    {"list environments", runList},
		"diff":    {"semantic diff of rendered output", runDiff},
		"explain": {"explain a spec value", runExplain},
	}
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return exitError
		}
		return exitOK
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "gen: unknown command %q\n\n%s", args[0], usage)
		return exitError
	}
	return cmd.run(args[1:], stdout, stderr)
}

// newFlags makes a subcommand's flag set with the shared --overlays flag.
func newFlags(name, argsUsage string, stderr io.Writer) (*pflag.FlagSet, *string) {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	overlays := fs.String("overlays", "overlays", "directory of the environment specs (*.cue)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: gen %s %s\n\nFlags:\n%s", name, argsUsage, fs.FlagUsages())
	}
	return fs, overlays
}

// parse parses flags; it returns false and the exit code when done.
func parse(fs *pflag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK, false
		}
		return exitError, false
	}
	return 0, true
}

func fail(stderr io.Writer, err error) int {
	var serr *spec.Error
	if errors.As(err, &serr) {
		fmt.Fprintln(stderr, "gen: invalid spec:")
	}
	fmt.Fprintf(stderr, "%v\n", indentAfterFirst(err.Error(), serr != nil))
	return exitError
}

func indentAfterFirst(s string, all bool) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		if all || i > 0 {
			lines[i] = "  " + lines[i]
		}
	}
	return strings.Join(lines, "\n")
}

func runRender(args []string, stdout, stderr io.Writer) int {
	fs, overlays := newFlags("render", "ENV [-o DIR] | --all -o DIR", stderr)
	out := fs.StringP("output", "o", "", "write the overlay to DIR/ENV instead of printing the built manifests")
	all := fs.Bool("all", false, "render every environment (needs -o)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	set, err := spec.Load(*overlays)
	if err != nil {
		return fail(stderr, err)
	}
	switch {
	case *all && fs.NArg() == 0 && *out != "":
		return renderAll(set, *out, stderr)
	case *all && fs.NArg() == 0:
		fmt.Fprintln(stderr, "gen render --all: needs -o DIR")
		return exitError
	case *all || fs.NArg() != 1:
		fs.Usage()
		return exitError
	}
	name := fs.Arg(0)
	r, err := compiler.Render(set, name)
	if err != nil {
		return fail(stderr, err)
	}
	files := r.Files
	if *out == "" {
		stream, err := render.Stream(files)
		if err != nil {
			return fail(stderr, fmt.Errorf("render %s: %w", name, err))
		}
		stdout.Write(stream)
		return exitOK
	}
	dir := filepath.Join(*out, name)
	if _, code, ok := gate(set, r.Env, dir, files, stderr); !ok {
		return code
	}
	if err := render.Write(dir, files); err != nil {
		return fail(stderr, fmt.Errorf("render %s: write %s: %w", name, dir, err))
	}
	fmt.Fprintf(stderr, "wrote %s (%d files)\n", dir, len(files))
	return exitOK
}

// renderAll renders every environment, or writes nothing, and removes the
// overlays of environments that no longer exist.
func renderAll(set *spec.Set, out string, stderr io.Writer) int {
	rs, err := compiler.EachRendered(set, set.Names())
	if err != nil {
		return fail(stderr, err)
	}
	sets := map[string]render.FileSet{}
	for n, r := range rs {
		sets[n] = r.Files
	}
	// An environment whose committed overlay is already this one is left
	// as it is: re-rendering a fleet rewrites only what changed.
	changed := map[string]render.FileSet{}
	for _, n := range set.Names() {
		committed, code, ok := gate(set, rs[n].Env, filepath.Join(out, n), sets[n], stderr)
		if !ok {
			return code
		}
		if !render.Same(committed, sets[n]) {
			changed[n] = sets[n]
		}
	}
	if err := render.WriteAll(out, changed); err != nil {
		return fail(stderr, fmt.Errorf("render --all: %w", err))
	}
	for _, n := range set.Names() {
		if _, ok := changed[n]; ok {
			fmt.Fprintf(stderr, "wrote %s (%d files)\n", filepath.Join(out, n), len(sets[n]))
		} else {
			fmt.Fprintf(stderr, "unchanged %s (%d files)\n", filepath.Join(out, n), len(sets[n]))
		}
	}
	for _, dir := range orphans(set, out) {
		if !render.Generated(dir) {
			fmt.Fprintf(stderr, "left %s: no environment, but not written by gen\n", dir)
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			return fail(stderr, err)
		}
		fmt.Fprintf(stderr, "removed %s (no such environment)\n", dir)
	}
	return exitOK
}

// orphans are the directories of out that are no environment of set.
func orphans(set *spec.Set, out string) []string {
	entries, err := os.ReadDir(out)
	if err != nil {
		return nil
	}
	known := map[string]bool{}
	for _, n := range set.Names() {
		known[n] = true
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() && !known[e.Name()] && !strings.HasPrefix(e.Name(), ".") {
			dirs = append(dirs, filepath.Join(out, e.Name()))
		}
	}
	sort.Strings(dirs)
	return dirs
}

func runVet(args []string, stdout, stderr io.Writer) int {
	fs, overlays := newFlags("vet", "ENV|FILE... [--out DIR]", stderr)
	out := fs.String("out", "out", "directory of the committed overlays: the step from DIR/ENV to the spec must be safe")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	// A --out that names no directory must not switch the check off; the
	// default may be missing (a repository that has rendered nothing yet).
	if _, err := os.Stat(*out); err != nil {
		if fs.Changed("out") {
			return fail(stderr, fmt.Errorf("--out %s: %w", *out, err))
		}
		fmt.Fprintf(stderr, "gen vet: no committed overlays in %s: the step from them is not checked\n", *out)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitError
	}
	code := exitOK
	for _, arg := range fs.Args() {
		set, names, err := resolve(*overlays, arg)
		if err != nil {
			code = fail(stderr, err)
			continue
		}
		for _, name := range names {
			r, err := compiler.Render(set, name)
			if err != nil {
				code = fail(stderr, err)
				continue
			}
			env := r.Env
			if _, c, ok := gate(set, env, filepath.Join(*out, name), r.Files, stderr); !ok {
				code = c
				continue
			}
			fmt.Fprintf(stdout, "ok %s\n", name)
			if err := analysis.WriteTable(stdout, env); err != nil {
				code = fail(stderr, err)
			}
		}
	}
	return code
}

// gate refuses an unsafe step from the committed overlay in dir (absent:
// a new environment) to files, at the spec's fields (compiler.Gate).
func gate(set *spec.Set, env *model.Environment, dir string, files render.FileSet, stderr io.Writer) (render.FileSet, int, bool) {
	// A new environment has no directory; any other failure to read the
	// committed overlay (a file that cannot be read, a dangling link) must
	// not switch the check off.
	var committed render.FileSet
	if _, err := os.Lstat(dir); err == nil {
		if committed, err = render.ReadDir(dir); err != nil {
			return nil, fail(stderr, fmt.Errorf("reading the committed overlay: %w", err)), false
		}
	} else if !os.IsNotExist(err) {
		return nil, fail(stderr, err), false
	}
	err := compiler.Gate(set, env, committed, files)
	var serr *spec.Error
	if errors.As(err, &serr) {
		fmt.Fprintf(stderr, "gen: unsafe step from %s:\n%s\n", dir, indentAfterFirst(serr.Error(), true))
		return nil, exitError, false
	}
	if err != nil {
		return nil, fail(stderr, err), false
	}
	return committed, 0, true
}

// resolve turns a vet argument into environments: an environment name, or
// a .cue file (every environment that file defines).
func resolve(overlays, arg string) (*spec.Set, []string, error) {
	if !strings.HasSuffix(arg, ".cue") {
		set, err := spec.Load(overlays)
		return set, []string{arg}, err
	}
	set, err := spec.LoadFile(arg)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	for _, n := range set.Names() {
		if filepath.Clean(set.File(n)) == filepath.Clean(arg) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("%s defines no environment (environments: <name>: {...})", arg)
	}
	return set, names, nil
}

func runCheck(args []string, stdout, stderr io.Writer) int {
	fs, overlays := newFlags("check", "[--out DIR]", stderr)
	out := fs.String("out", "out", "directory of the committed overlays")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitError
	}
	set, err := spec.Load(*overlays)
	if err != nil {
		return fail(stderr, err)
	}
	sets, err := compiler.All(set)
	if err != nil {
		return fail(stderr, err)
	}
	drift := false
	for _, n := range set.Names() {
		dir := filepath.Join(*out, n)
		d, err := render.Compare(dir, sets[n])
		if err != nil {
			return fail(stderr, err)
		}
		if d.Empty() {
			fmt.Fprintf(stdout, "ok %s\n", dir)
			continue
		}
		drift = true
		for _, p := range d.Changed {
			fmt.Fprintf(stdout, "changed %s\n", filepath.Join(dir, p))
		}
		for _, p := range d.Missing {
			fmt.Fprintf(stdout, "missing %s\n", filepath.Join(dir, p))
		}
		for _, p := range d.Stale {
			fmt.Fprintf(stdout, "stale   %s\n", filepath.Join(dir, p))
		}
	}
	// Directories of environments that no longer exist are stale too.
	for _, dir := range orphans(set, *out) {
		drift = true
		fmt.Fprintf(stdout, "stale   %s/ (no environment %q)\n", dir, filepath.Base(dir))
	}
	if drift {
		fmt.Fprintln(stderr, "gen check: out/ differs from the specs; run: gen render --all -o", *out)
		return exitDrift
	}
	return exitOK
}

func runList(args []string, stdout, stderr io.Writer) int {
	fs, overlays := newFlags("list", "", stderr)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	set, err := spec.Load(*overlays)
	if err != nil {
		return fail(stderr, err)
	}
	for _, n := range set.Names() {
		env, err := set.Environment(n)
		if err != nil {
			fmt.Fprintf(stdout, "%s\tINVALID\t%s\n", n, set.File(n))
			continue
		}
		fmt.Fprintf(stdout, "%s\tmilvus %s (chart %s)\t%s\tnamespace %s\n", n, env.Milvus.Version, env.Milvus.Chart.Version, env.Delivery.Kind, env.Namespace)
	}
	return exitOK
}

func runDiff(args []string, stdout, stderr io.Writer) int {
	fs, overlays := newFlags("diff", "ENV [ENV_B] [--output text|markdown|json]", stderr)
	out := fs.String("out", "out", "directory of the committed overlays (for gen diff ENV)")
	format := fs.String("output", "text", "text, markdown (a pull-request comment) or json")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() < 1 || fs.NArg() > 2 || *format != "text" && *format != "markdown" && *format != "json" {
		fs.Usage()
		return exitError
	}
	set, err := spec.Load(*overlays)
	if err != nil {
		return fail(stderr, err)
	}
	a := fs.Arg(0)
	rendered, err := compiler.Each(set, fs.Args())
	if err != nil {
		return fail(stderr, err)
	}
	right := rendered[a]
	var report *diff.Report
	if fs.NArg() == 1 {
		// What merging this change will do: committed output -> fresh render.
		dir := filepath.Join(*out, a)
		left, err := render.ReadDir(dir)
		if err != nil && !os.IsNotExist(err) {
			return fail(stderr, err)
		}
		report, err = diff.Compare(a+" (committed)", diff.Files(left), a+" (rendered)", diff.Files(right), nil)
		if err != nil {
			return fail(stderr, err)
		}
	} else {
		// What promoting A to B changes: identifiers of A read as B's.
		b := fs.Arg(1)
		left := right
		right = rendered[b]
		ea, _ := set.Environment(a)
		eb, _ := set.Environment(b)
		rename := map[string]string{ea.Release: eb.Release, ea.Namespace: eb.Namespace, ea.Name: eb.Name}
		if ea.Delivery.ArgoCD != nil && eb.Delivery.ArgoCD != nil {
			rename["out/"+ea.Name] = "out/" + eb.Name
		}
		report, err = diff.Compare(a, diff.Files(left), b, diff.Files(right), rename)
		if err != nil {
			return fail(stderr, err)
		}
	}
	switch *format {
	case "markdown":
		report.Markdown(stdout)
	case "json":
		if err := report.JSON(stdout); err != nil {
			return fail(stderr, err)
		}
	default:
		report.Text(stdout)
	}
	if report.Empty() {
		return exitOK
	}
	return exitDrift
}

func runExplain(args []string, stdout, stderr io.Writer) int {
	fs, overlays := newFlags("explain", "ENV PATH", stderr)
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return exitError
	}
	set, err := spec.Load(*overlays)
	if err != nil {
		return fail(stderr, err)
	}
	e, err := set.Explain(fs.Arg(0), fs.Arg(1))
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "%s = %s\n", e.Path, e.Value)
	fmt.Fprintf(stdout, "  from:       %s (%s)\n", e.Origin, e.Position)
	if e.Constraint != "" {
		fmt.Fprintf(stdout, "  constraint: %s\n", strings.ReplaceAll(e.Constraint, "\n", "\n              "))
	}
	if e.Schema != "" {
		fmt.Fprintf(stdout, "  schema:     %s\n", e.Schema)
	}
	return exitOK
}
