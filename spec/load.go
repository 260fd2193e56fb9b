// Package spec loads environment specs: it unifies the overlays with the
// embedded schema, validates them, turns CUE errors into positioned,
// human-readable diagnostics, and decodes the result into the model.
package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/build"
	"cuelang.org/go/cue/cuecontext"
	"cuelang.org/go/cue/load"
	"cuelang.org/go/cue/parser"
	"cuelang.org/go/cue/token"

	"github.com/milvus-gitops/milvusgen/analysis"
	"github.com/milvus-gitops/milvusgen/milvuskeys"
	"github.com/milvus-gitops/milvusgen/model"
	"github.com/milvus-gitops/milvusgen/naming"
	"github.com/milvus-gitops/milvusgen/profiles"
	"github.com/milvus-gitops/milvusgen/schema"
	"github.com/milvus-gitops/milvusgen/upgrade"
)

// Set is a loaded overlay directory: every environment it defines, not yet
// validated. A Set is not safe for concurrent use (one CUE context).
type Set struct {
	ctx      *cue.Context
	schema   cue.Value
	overlays cue.Value
	names    []string
	files    map[string]string // environment name -> file that defines it
	paths    []string          // the overlay files, for Fork
	srcs     map[string][]byte // and their contents as loaded

	owned map[string][2]string // normalised -> schema key, message; read once
}

// Load reads every *.cue file of dir (one CUE package) and the embedded
// schema. Paths in errors are relative to the working directory.
func Load(dir string) (*Set, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.cue"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no *.cue environment files", dir)
	}
	sort.Strings(files)
	return loadFiles(files, nil)
}

// LoadFile loads the overlay directory of file, for `gen vet FILE`.
func LoadFile(file string) (*Set, error) {
	if _, err := os.Stat(file); err != nil {
		return nil, err
	}
	return Load(filepath.Dir(file))
}

// loadFiles loads the overlay files; with srcs (absolute path -> content,
// a Set's snapshot) from those contents instead of the disk, so that a
// Fork sees exactly what its Set saw.
func loadFiles(files []string, srcs map[string][]byte) (*Set, error) {
	if srcs == nil {
		srcs = map[string][]byte{}
		for _, f := range files {
			abs, err := filepath.Abs(f)
			if err != nil {
				return nil, err
			}
			if srcs[abs], err = os.ReadFile(f); err != nil {
				return nil, err
			}
		}
	}
	overlay := map[string]load.Source{}
	for p, b := range srcs {
		overlay[p] = load.FromBytes(b)
	}
	ctx := cuecontext.New()
	sv, err := loadSchema(ctx)
	if err != nil {
		return nil, fmt.Errorf("embedded schema: %w", err)
	}
	rel := make([]string, len(files))
	for i, f := range files {
		// The loader wants "./" on relative file arguments.
		rel[i] = relPath(f)
		if !filepath.IsAbs(rel[i]) {
			rel[i] = "." + string(filepath.Separator) + rel[i]
		}
	}
	if diags := onePackage(rel, srcs); len(diags) > 0 {
		return nil, &Error{Diags: diags}
	}
	insts := load.Instances(rel, &load.Config{Overlay: overlay})
	if len(insts) != 1 {
		return nil, fmt.Errorf("expected one CUE package in %s, got %d", filepath.Dir(rel[0]), len(insts))
	}
	if insts[0].Err != nil {
		return nil, &Error{Diags: diagnose(insts[0].Err, cue.Value{})}
	}
	if diags := ignoredFiles(insts[0]); len(diags) > 0 {
		return nil, &Error{Diags: diags}
	}
	if diags := shapeLimits(insts[0].Files); len(diags) > 0 {
		return nil, &Error{Diags: diags}
	}
	ov := ctx.BuildInstance(insts[0])
	if ov.Err() != nil {
		return nil, &Error{Diags: diagnose(ov.Err(), cue.Value{})}
	}
	if diags := topLevel(ov); len(diags) > 0 {
		return nil, &Error{Diags: diags}
	}
	s := &Set{ctx: ctx, schema: sv, overlays: ov, files: map[string]string{}, paths: files, srcs: srcs}
	envs := ov.LookupPath(cue.ParsePath("environments"))
	if !envs.Exists() {
		return nil, fmt.Errorf("%s: no `environments: <name>: {...}` defined", filepath.Dir(rel[0]))
	}
	it, err := envs.Fields()
	if err != nil {
		return nil, &Error{Diags: diagnose(err, cue.Value{})}
	}
	for it.Next() {
		name := it.Selector().Unquoted()
		s.names = append(s.names, name)
		if pos := it.Value().Pos(); pos.IsValid() {
			s.files[name] = relPath(pos.Filename())
		}
	}
	sort.Strings(s.names)
	return s, nil
}

// onePackage refuses overlay files of different packages at their
// package clause (the loader says only that it found two, without a
// position).
func onePackage(files []string, srcs map[string][]byte) []Diagnostic {
	var diags []Diagnostic
	var first, firstFile string
	for _, f := range files {
		abs, _ := filepath.Abs(f)
		file, err := parser.ParseFile(f, srcs[abs], parser.PackageClauseOnly)
		if err != nil {
			continue // the loader reports syntax errors, positioned
		}
		name := file.PackageName()
		if name == "" {
			continue // no package clause: the loader includes the file as is
		}
		if firstFile == "" {
			first, firstFile = name, f
			continue
		}
		if name != first {
			d := Diagnostic{Msg: fmt.Sprintf("package %q: every overlay file is one package, and %s is package %q", name, relPath(firstFile), first)}
			pos := file.Pos()
			for _, decl := range file.Decls {
				if p, ok := decl.(*ast.Package); ok {
					pos = p.Name.Pos()
				}
			}
			setPos(&d, []token.Pos{pos})
			if d.File == "" {
				d.File, d.Line, d.Col = relPath(f), 1, 1
			}
			diags = append(diags, d)
		}
	}
	return diags
}

// ignoredFiles refuses overlay files the CUE loader leaves out (*_test.cue
// files, files whose @if(...) attribute is false): what they define would
// silently not exist.
func ignoredFiles(inst *build.Instance) []Diagnostic {
	var diags []Diagnostic
	for _, f := range append(append([]*build.File(nil), inst.IgnoredFiles...), inst.OrphanedFiles...) {
		diags = append(diags, Diagnostic{File: relPath(f.Filename), Line: 1, Col: 1,
			Msg: "the CUE loader leaves this file out (a *_test.cue name or a false @if(...) attribute), so nothing it defines would exist: rename it or remove the attribute"})
	}
	return diags
}

// topLevel refuses a regular top-level field other than environments in
// any overlay file: CUE would keep it without a word, so a misspelt
// "enviroments" would silently drop the environment it defines. Hidden
// fields (_ha) and definitions (#X) are the overlays' own helpers.
func topLevel(ov cue.Value) []Diagnostic {
	it, err := ov.Fields(cue.Hidden(true), cue.Definitions(true))
	if err != nil {
		return diagnose(err, cue.Value{})
	}
	var diags []Diagnostic
	for it.Next() {
		sel := it.Selector()
		helper := sel.IsDefinition() || strings.HasPrefix(sel.String(), "_")
		d := Diagnostic{Path: sel.String()}
		switch {
		case sel.String() == "environments":
			continue
		case helper && strings.TrimLeft(sel.String(), "_#") == "environments":
			// A helper named like it: what it holds is dropped.
			d.Msg = sel.String() + " is a helper CUE leaves out of the output, so the environments it defines are dropped; write environments: <name>: {...}"
		case helper:
			continue // the overlays' own helpers
		default:
			d.Path = sel.Unquoted()
			d.Msg = unknownMsg(d.Path, []string{"environments"}) +
				" (an overlay file defines environments: <name>: {...}, helpers as _name or #Name)"
		}
		setPos(&d, []token.Pos{it.Value().Pos()})
		diags = append(diags, d)
	}
	return diags
}

func loadSchema(ctx *cue.Context) (cue.Value, error) {
	insts := load.Instances([]string{"."}, &load.Config{
		FS:         schema.FS,
		FromFSPath: func(p string) string { return "schema/" + strings.TrimPrefix(p, "/") },
	})
	if insts[0].Err != nil {
		return cue.Value{}, insts[0].Err
	}
	v := ctx.BuildInstance(insts[0])
	return v, v.Err()
}

// Fork loads the same overlay files into a Set of its own (its own CUE
// context), for another goroutine: a Set is not safe for concurrent use.
func (s *Set) Fork() (*Set, error) { return loadFiles(s.paths, s.srcs) }

// Names lists the environments, sorted.
func (s *Set) Names() []string { return append([]string(nil), s.names...) }

// File is the overlay file that defines the environment.
func (s *Set) File(name string) string { return s.files[name] }

// Environment validates one environment and decodes it into the model.
func (s *Set) Environment(name string) (*model.Environment, error) {
	v, err := s.Value(name)
	if err != nil {
		return nil, err
	}
	// Numbers come from the user (the schema's own fit), so their value
	// is the one to walk: a fraction of the evaluated environment.
	if diags := s.numbers(name, s.overlays.LookupPath(cue.MakePath(cue.Str("environments"), cue.Str(name)))); len(diags) > 0 {
		return nil, &Error{Diags: dedupe(diags)}
	}
	var env model.Environment
	if err := v.Decode(&env); err != nil {
		return nil, fmt.Errorf("environment %s: decode: %w", name, err)
	}
	diags := s.metadata(name, v)
	diags = append(diags, s.failureDomains(name, &env)...)
	diags = append(diags, s.backupIdentity(name, &env)...)
	diags = append(diags, s.imageIdentity(name, &env)...)
	diags = append(diags, s.milvusKeys(name, &env)...)
	diags = append(diags, s.derivedNames(name, &env)...)
	diags = append(diags, s.upgradeStep(name, &env)...)
	diags = append(diags, s.sourceRanges(name, &env)...)
	diags = append(diags, s.backupSchedule(name, &env)...)
	diags = append(diags, s.values(name, v, &env)...)
	diags = append(diags, s.disruptionBudgets(name, &env)...)
	diags = append(diags, s.verificationLoad(name, &env)...)
	if len(diags) > 0 {
		return nil, &Error{Diags: diags}
	}
	return &env, nil
}

// backupIdentity refuses a backup that authenticates with IAM but whose
// ServiceAccount carries no cloud identity: its Jobs would fail at the
// first request to the bucket.
func (s *Set) backupIdentity(name string, env *model.Environment) []Diagnostic {
	if !env.Backup.Enabled || !env.BackupUsesIAM() || len(env.Backup.ServiceAccount.Annotations) > 0 {
		return nil
	}
	return s.positioned(name, "backup.serviceAccount.annotations",
		"the backup uses IAM for object storage but its ServiceAccount has no cloud identity: set backup.serviceAccount.annotations (or serviceAccount.annotations, which it inherits), e.g. eks.amazonaws.com/role-arn, iam.gke.io/gcp-service-account or azure.workload.identity/client-id")
}

// imageIdentity completes a non-root Milvus identity from the image
// profile of its version line and refuses one that cannot run the image
// (package profiles), positioned at the security field the user set.
func (s *Set) imageIdentity(name string, env *model.Environment) []Diagnostic {
	p, err := profiles.Milvus(env.Milvus.Line)
	if err != nil {
		return s.positioned(name, "milvus.version", err.Error())
	}
	sec := &env.Security
	if !sec.RunAsNonRoot {
		return nil
	}
	var set []string
	fill := func(field string, v **int64, def int64) {
		if *v != nil {
			set = append(set, field)
			return
		}
		*v = &def
	}
	fill("security.runAsGroup", &sec.RunAsGroup, p.NonRoot.GID)
	if sec.SupplementalGroups != nil {
		set = append(set, "security.supplementalGroups")
	} else if len(p.NonRoot.Groups) > 0 {
		sec.SupplementalGroups = append([]int64(nil), p.NonRoot.Groups...)
	}
	fill("security.runAsUser", &sec.RunAsUser, p.NonRoot.UID)
	fill("security.fsGroup", &sec.FSGroup, p.NonRoot.GID)
	// The generator mounts a volume at every path the profile says Milvus
	// writes (generators/helmvalues volumes): what is left to check is
	// whether the identity can execute the image.
	id := profiles.Identity{UID: *sec.RunAsUser, GID: *sec.RunAsGroup,
		Groups: append(append([]int64(nil), sec.SupplementalGroups...), *sec.FSGroup), ReadOnlyRoot: sec.ReadOnlyRootFilesystem}
	for _, w := range p.Writes {
		id.Mounts = append(id.Mounts, w.Path)
	}
	if err := p.Check(id); err != nil {
		field := "security"
		if len(set) > 0 {
			field = set[0]
		}
		return s.positioned(name, field, fmt.Sprintf("Milvus %s cannot run under this security context: %v", env.Milvus.Version, err))
	}
	return nil
}

// milvusKeys refuses config.extra keys that the environment's Milvus
// version does not read (package milvuskeys): Milvus ignores them without
// a word, so a misspelt or outdated key would ship as if it worked.
func (s *Set) milvusKeys(name string, env *model.Environment) []Diagnostic {
	known, err := milvuskeys.For(env.Milvus.Line)
	if err != nil {
		return s.positioned(name, "milvus.version", err.Error())
	}
	var diags []Diagnostic
	blocked := s.ownedExtraKeys()
	spelled := map[string]string{} // normalised -> first spelling
	unknown := 0
	// Each key at the path the user wrote it (a dotted key is one field).
	written := s.extraPaths(name)
	at := func(key string) []string {
		if p, ok := written[key]; ok {
			return append([]string{"config", "extra"}, p...)
		}
		return append([]string{"config", "extra"}, strings.Split(key, ".")...)
	}
	for _, key := range milvuskeys.Leaves(env.Config.Extra) {
		if schemaKey, msg, ok := owned(blocked, key); ok {
			// The schema refuses these keys as nested maps; Milvus reads
			// a dotted or differently spelt key the same (formatKey), so
			// every spelling is refused here.
			what := key
			if schemaKey != key {
				what = fmt.Sprintf("%s is %s to Milvus", key, schemaKey)
			}
			diags = append(diags, s.positionedAt(name, at(key), what+": "+msg)...)
			continue
		}
		if secretLeaf(key) {
			// Below a free-form prefix (function.textEmbedding.providers.*,
			// kafka.producer.*, ...) Milvus reads any key: one named like a
			// secret is one.
			msg := key + ": a spec holds no secret value; keep it out of Git"
			if strings.HasPrefix(strings.ToLower(key), "function.") {
				msg += " (a function provider takes credential: <name> of a credential Milvus holds)"
			}
			diags = append(diags, s.positionedAt(name, at(key), msg)...)
			continue
		}
		// Milvus reads a.b_c, a.bC and ab.c as one key: set twice in
		// different spellings, which one wins is not said.
		if first, dup := spelled[milvuskeys.Normalise(key)]; dup {
			diags = append(diags, s.positionedAt(name, at(key),
				fmt.Sprintf("%s is %s again, as Milvus reads keys (case, _, . and / do not matter): set it once", key, first))...)
			continue
		}
		spelled[milvuskeys.Normalise(key)] = key
		if known.Known(key) {
			continue
		}
		// Past a screenful, the rest are counted, not listed (nor looked
		// up for a suggestion, which costs a scan of every known key).
		if unknown++; unknown > maxUnknownKeys {
			continue
		}
		msg := fmt.Sprintf("Milvus %s reads no configuration key %s (%s)", env.Milvus.Line, key, known.Source)
		if hint := known.Suggest(key); hint != "" {
			msg += fmt.Sprintf("; did you mean %s?", hint)
		}
		diags = append(diags, s.positionedAt(name, at(key), msg)...)
	}
	if unknown > maxUnknownKeys {
		diags = append(diags, s.positioned(name, "config.extra",
			fmt.Sprintf("and %d more keys Milvus %s does not read", unknown-maxUnknownKeys, env.Milvus.Line))...)
	}
	return diags
}

// secretWords are the last key segments, as Milvus normalises them, that
// name a secret value wherever they appear.
var secretWords = []string{
	"apikey", "secretkey", "accesskeyid", "accesskey", "password", "passwd", "token", "secret",
	"credentialjson", "privatekey", "authparams", "keypem", "jaasconfig",
}

// secretLeaf says whether a key, normalised as a whole as Milvus does (so
// api.key, api_key and apiKey are one), ends with a secret's name.
func secretLeaf(key string) bool {
	n := milvuskeys.Normalise(key)
	for _, w := range secretWords {
		if strings.HasSuffix(n, w) {
			return true
		}
	}
	return false
}

// extraPaths maps each config.extra leaf, named as milvuskeys.Leaves
// names it (segments joined by dots), to the path of fields the user wrote
// it at, so that a dotted key is positioned at its own line.
func (s *Set) extraPaths(name string) map[string][]string {
	out := map[string][]string{}
	var walk func(v cue.Value, path []string)
	walk = func(v cue.Value, path []string) {
		n := 0
		eachField(v, func(k string, x cue.Value) {
			n++
			walk(x, append(append([]string(nil), path...), k))
		})
		if n == 0 && len(path) > 0 {
			out[strings.Join(path, ".")] = path
		}
	}
	walk(s.overlays.LookupPath(cue.MakePath(cue.Str("environments"), cue.Str(name), cue.Str("config"), cue.Str("extra"))), nil)
	return out
}

// maxUnknownKeys is how many unknown config.extra keys are listed.
const maxUnknownKeys = 20

// ownedExtraKeys are the config.extra keys the schema refuses (#Extra:
// secrets, and keys a typed field or a dependency owns), with the schema's
// message, read from the schema itself so that there is one list.
func (s *Set) ownedExtraKeys() map[string][2]string {
	if s.owned == nil {
		s.owned = map[string][2]string{}
		var walk func(prefix string, v cue.Value)
		walk = func(prefix string, v cue.Value) {
			it, err := v.Fields(cue.Optional(true))
			if err != nil {
				return
			}
			for it.Next() {
				k := prefix + it.Selector().Unquoted()
				if e := it.Value().Err(); e != nil {
					msg := e.Error()
					if i := strings.Index(msg, ": "); i >= 0 {
						msg = msg[i+2:]
					}
					s.owned[milvuskeys.Normalise(k)] = [2]string{k, msg}
					continue
				}
				if it.Value().IncompleteKind() == cue.StructKind {
					walk(k+".", it.Value())
				}
			}
		}
		walk("", s.schema.LookupPath(cue.ParsePath("#Extra")))
	}
	return s.owned
}

// owned finds the refused key that a config.extra key is, or lies below,
// as Milvus normalises keys: some leading run of its dotted segments must
// normalise to a refused key (so etcd.authority is not etcd.auth). It
// returns the schema's spelling of that key and its message.
func owned(blocked map[string][2]string, key string) (schemaKey, msg string, ok bool) {
	segs := strings.Split(key, ".")
	for i := 1; i <= len(segs); i++ {
		if b, found := blocked[milvuskeys.Normalise(strings.Join(segs[:i], "."))]; found {
			return b[0], b[1], true
		}
	}
	return "", "", false
}

// derivedNames refuses a name, namespace or release from which a name
// Kubernetes, Helm or Flux would refuse is derived (package naming),
// positioned at the field to shorten.
func (s *Set) derivedNames(name string, env *model.Environment) []Diagnostic {
	userRelease := s.overlays.LookupPath(cue.MakePath(cue.Str("environments"), cue.Str(name), cue.Str("release"))).Exists()
	var diags []Diagnostic
	for _, v := range naming.Check(env, userRelease) {
		field := v.Field
		if field == "name" {
			// The name is the environment's key: positioned there.
			field = ""
		}
		diags = append(diags, s.positioned(name, field, v.Msg)...)
	}
	return diags
}

// positioned is a diagnostic at a spec field (dotted), positioned where
// the user wrote it or at the closest enclosing field they wrote.
func (s *Set) positioned(name, field, msg string) []Diagnostic {
	var path []string
	if field != "" {
		path = strings.Split(field, ".")
	}
	return s.positionedAt(name, path, msg)
}

// positionedAt is positioned for a field given as its path of field names
// (which may contain dots: label keys), shown quoted where CUE needs it.
func (s *Set) positionedAt(name string, field []string, msg string) []Diagnostic {
	user := s.overlays.LookupPath(cue.MakePath(cue.Str("environments"), cue.Str(name)))
	path := append([]string{"environments", name}, field...)
	shown := make([]string, len(path))
	for i, p := range path {
		shown[i] = p
		if i > 1 && strings.ContainsAny(p, "./: \"") {
			shown[i] = strconv.Quote(p)
		}
	}
	d := Diagnostic{Path: strings.Join(shown, "."), Msg: msg}
	atUserField(&d, user, path)
	return []Diagnostic{d}
}

// upgradeStep refuses an unsafe upgrade step (package upgrade), at the
// field to change.
func (s *Set) upgradeStep(name string, env *model.Environment) []Diagnostic {
	var diags []Diagnostic
	for _, v := range upgrade.Check(env) {
		diags = append(diags, s.positioned(name, v.Field, v.Msg)...)
	}
	return diags
}

// failureDomains applies the rules of package analysis (what the
// environment survives, whether its requests fit) and positions each
// violation at the field the user must change, or the closest enclosing
// field the user wrote.
func (s *Set) failureDomains(name string, env *model.Environment) []Diagnostic {
	var diags []Diagnostic
	for _, v := range analysis.Check(env) {
		diags = append(diags, s.positioned(name, v.Field, v.Msg)...)
	}
	return diags
}

// Value validates one environment and returns its unified CUE value.
func (s *Set) Value(name string) (cue.Value, error) {
	path := cue.MakePath(cue.Str("environments"), cue.Str(name))
	user := s.overlays.LookupPath(path)
	if !user.Exists() {
		return cue.Value{}, fmt.Errorf("no environment %q (have: %s)", name, strings.Join(s.names, ", "))
	}
	root := s.schema.FillPath(path, user)
	v := root.LookupPath(path)
	var diags []Diagnostic
	if err := v.Validate(cue.Concrete(true), cue.Final()); err != nil {
		all := diagnose(err, user)
		var notAllowed []Diagnostic
		for _, d := range all {
			if d.Msg == "field not allowed" {
				notAllowed = append(notAllowed, d)
			} else {
				diags = append(diags, d)
			}
		}
		// Only a spec that failed can have unknown fields (CUE reports
		// them when nothing else is wrong), so the costlier pass runs here.
		def := s.schema.LookupPath(cue.ParsePath("#Environment")).FillPath(cue.ParsePath("name"), name)
		diags = append(diags, unknownFields(def, v, user, path, notAllowed)...)
		// CUE reports a field the user left unset as an "incomplete value"
		// or "unresolved disjunction", often at the environment or inside a
		// schema helper that reads it: say which fields are unset instead.
		if slices.ContainsFunc(diags, incomplete) {
			// (When no field is unset, the value is incomplete for another
			// reason, an interpolation of a non-concrete helper say: CUE's
			// own, positioned diagnostics stay.)
			complete := func(d Diagnostic) bool { return !incomplete(d) }
			if unset := unsetFields(v, user, path); len(unset) > 0 {
				diags = append(slices.DeleteFunc(diags, incomplete), unset...)
			} else if slices.ContainsFunc(diags, complete) {
				// An invalid value leaves what reads it incomplete: the
				// invalid value is the news.
				diags = slices.DeleteFunc(diags, incomplete)
			}
		}
	}
	if len(diags) > 0 {
		// A field CUE evaluated inside (an error below it) is known, whatever
		// the unknown-field pass concluded from a partial schema.
		// Likewise a field the unified value holds without a "not allowed"
		// error: the schema has it under a condition the partial schema of
		// the unknown-field pass could not resolve.
		diags = slices.DeleteFunc(diags, func(d Diagnostic) bool {
			if !strings.HasPrefix(d.Msg, "unknown field") {
				return false
			}
			for _, o := range diags {
				if strings.HasPrefix(o.Path, d.Path+".") && !strings.HasPrefix(o.Msg, "unknown field") {
					return true
				}
			}
			rel := strings.TrimPrefix(d.Path, path.String()+".")
			x := v.LookupPath(cue.ParsePath(rel))
			return x.Exists() && (x.Err() == nil || !strings.Contains(x.Err().Error(), "not allowed"))
		})
		// An error inside a schema helper (a let, a derived field) is also
		// reported at the user's field; keep only the user's paths.
		prefix := path.String() + "."
		own := slices.DeleteFunc(slices.Clone(diags), func(d Diagnostic) bool { return !strings.HasPrefix(d.Path, prefix) })
		if len(own) > 0 {
			diags = own
		}
		// The schema passes fields into its definitions (#namespace,
		// #coordinators): an error there is the user's field's error again,
		// at the same place. Keep the user's path.
		internal := func(d Diagnostic) bool { return strings.Contains(d.Path, ".#") }
		diags = slices.DeleteFunc(diags, func(d Diagnostic) bool {
			return internal(d) && slices.ContainsFunc(diags, func(o Diagnostic) bool {
				return !internal(o) && o.File == d.File && o.Line == d.Line && o.Col == d.Col
			})
		})
		// A misspelt environment name makes a new, incomplete environment:
		// say so next to what it lacks.
		others := slices.DeleteFunc(slices.Clone(s.names), func(n string) bool { return n == name })
		unset := slices.ContainsFunc(diags, func(d Diagnostic) bool { return strings.HasPrefix(d.Msg, "not set:") })
		if near := suggest(name, others); near != "" && unset {
			d := Diagnostic{Path: path.String(), Msg: fmt.Sprintf("a new environment, not %q: if you meant %q, fix the name", near, near)}
			setPos(&d, []token.Pos{user.Pos()})
			diags = append(diags, d)
		}
		return cue.Value{}, &Error{Diags: dedupe(diags)}
	}
	return v, nil
}

// incomplete is a diagnostic about a value not yet known.
func incomplete(d Diagnostic) bool {
	return strings.HasPrefix(d.Msg, "incomplete value") || strings.HasPrefix(d.Msg, "unresolved disjunction") ||
		strings.HasPrefix(d.Msg, "error in call to") || strings.Contains(d.Msg, "non-concrete value") ||
		strings.HasPrefix(d.Msg, "invalid interpolation")
}

// unsetFields are the fields of v the user must still set: regular
// fields whose value is a constraint, not a value, and not derived from
// another field (a derived field is unset because what it reads is).
func unsetFields(v, user cue.Value, at cue.Path) []Diagnostic {
	var out []Diagnostic
	eachLeaf(v, nil, func(path []string, x cue.Value) {
		if x.IncompleteKind() == cue.StructKind || x.IsConcrete() {
			return
		}
		if _, ok := x.Default(); ok {
			return // it has a default: unresolved only because of another error
		}
		switch op, _ := x.Expr(); op {
		case cue.CallOp, cue.InterpolationOp, cue.SelectorOp, cue.IndexOp, cue.AddOp, cue.SubtractOp, cue.MultiplyOp:
			return // derived
		}
		full := append(strings.Split(at.String(), "."), path...)
		d := Diagnostic{Path: strings.Join(full, "."), Msg: fmt.Sprintf("not set: it must be %v", x)}
		atUserField(&d, user, full)
		out = append(out, d)
	})
	return out
}

// atUserField positions d at path (environments.<name>.field...) where the
// user wrote it, at the closest enclosing field they wrote, or at the
// environment.
func atUserField(d *Diagnostic, user cue.Value, path []string) {
	d.File = ""
	userPos(d, user, path)
	if d.File == "" {
		if p := user.Pos(); p.IsValid() {
			d.File, d.Line, d.Col = relPath(p.Filename()), p.Line(), p.Column()
		}
	}
}

// relPath makes a file name relative to the working directory when it is
// below it, so that diagnostics read "overlays/prod.cue:12:3".
func relPath(p string) string {
	if !filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	r, err := filepath.Rel(wd, p)
	if err != nil || strings.HasPrefix(r, "..") {
		return p
	}
	return r
}

// Refuse turns violations of a rule outside the spec (an unsafe step from
// the committed overlay, package upgrade's Gate) into an *Error positioned
// at the fields to change; nil without any.
func (s *Set) Refuse(name string, violations []upgrade.Violation) error {
	var diags []Diagnostic
	for _, v := range violations {
		diags = append(diags, s.positioned(name, v.Field, v.Msg)...)
	}
	if len(diags) == 0 {
		return nil
	}
	return &Error{Diags: diags}
}
