package spec

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"cuelang.org/go/cue"
	cueerrors "cuelang.org/go/cue/errors"
	"cuelang.org/go/cue/token"
)

// Diagnostic is one rejection of a spec: where, which field, and why.
type Diagnostic struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"column"`
	Path string `json:"path"`
	Msg  string `json:"message"`
}

func (d Diagnostic) String() string {
	loc := "<unknown position>"
	if d.File != "" {
		loc = fmt.Sprintf("%s:%d:%d", d.File, d.Line, d.Col)
	}
	if d.Path == "" {
		return fmt.Sprintf("%s: %s", loc, d.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", loc, d.Path, d.Msg)
}

// Error is a rejected spec. Its message has one line per diagnostic.
type Error struct {
	Diags []Diagnostic
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Diags))
	for i, d := range e.Diags {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// namePatterns are the schema's name regexes (#DNSLabel, #DNSSubdomain;
// Kubernetes' own grammar), said in words in messages.
var namePatterns = map[string]string{
	"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$":  "must be a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit",
	"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$": "must be a DNS-1123 subdomain: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit",
}

// inWords says what CUE says in the schema's terms (a regex, a builtin)
// in words a user can act on.
func inWords(msg string) string {
	msg = maxRunesRE.ReplaceAllString(msg, "(longer than $1 characters)")
	msg = strings.Replace(msg, "(does not satisfy net.IPCIDR)", "(is not a network in CIDR notation, e.g. 10.0.0.0/8)", 1)
	if msg == "invalid interpolation" {
		msg = "invalid interpolation: it reads a value that is not set, or not a string or number"
	}
	for re, what := range namePatterns {
		msg = strings.Replace(msg, "(out of bound =~"+strconv.Quote(re)+")", "("+what+")", 1)
	}
	return msg
}

var (
	maxRunesRE    = regexp.MustCompile(`\(does not satisfy strings\.MaxRunes\(([0-9]+)\)\)`)
	conflictRE    = regexp.MustCompile(`^conflicting values (.+) and (.+)$`)
	disjunctionRE = regexp.MustCompile(`^(\d+) errors in empty disjunction`)
)

// diagnose turns a CUE error into diagnostics positioned in the user's
// files where possible. user is the environment as the user wrote it (may
// be the zero Value), used to tell the user's value from the alternatives
// of an enum.
func diagnose(err error, user cue.Value) []Diagnostic {
	// CUE reports a failed disjunction as "N errors in empty disjunction"
	// followed by one error per alternative. When every alternative is a
	// conflict with the user's value, it was an enum: say "must be one of".
	// Otherwise the conflicts are noise from a default alternative and the
	// real cause is reported on its own.
	type group struct {
		first     Diagnostic
		disjuncts int
		allowed   []string
		conflicts []Diagnostic
		got       string
	}
	var out []Diagnostic
	groups := map[string]*group{}
	var order []string
	get := func(d Diagnostic) *group {
		g, ok := groups[d.Path]
		if !ok {
			g = &group{first: d}
			groups[d.Path] = g
			order = append(order, d.Path)
		}
		return g
	}
	for _, e := range cueerrors.Errors(err) {
		format, args := e.Msg()
		msg := inWords(fmt.Sprintf(format, args...))
		d := Diagnostic{Path: strings.Join(e.Path(), "."), Msg: msg}
		setPos(&d, cueerrors.Positions(e))
		userPos(&d, user, e.Path())
		if m := disjunctionRE.FindStringSubmatch(msg); m != nil {
			fmt.Sscan(m[1], &get(d).disjuncts)
			continue
		}
		if m := conflictRE.FindStringSubmatch(msg); m != nil && d.Path != "" {
			// Two values the user wrote in different places: name both.
			if also := otherPlaces(d, cueerrors.Positions(e)); also != "" {
				d.Msg += " (also set at " + also + ")"
			}
			g := get(d)
			if d.File != "" && g.first.File == "" {
				g.first = d
			}
			g.conflicts = append(g.conflicts, d)
			if got := userValue(user, e.Path()); got != "" && (m[1] == got || m[2] == got) {
				alt := m[1]
				if alt == got {
					alt = m[2]
				}
				g.got = got
				g.allowed = append(g.allowed, alt)
			}
			continue
		}
		out = append(out, d)
	}
	for _, p := range order {
		g := groups[p]
		switch {
		case g.disjuncts == 0:
			out = append(out, g.conflicts...)
		case len(g.allowed) == g.disjuncts && g.disjuncts == 1:
			d := g.first
			d.Msg = fmt.Sprintf("must be %s, got %s", g.allowed[0], g.got)
			out = append(out, d)
		case len(g.allowed) == g.disjuncts:
			d := g.first
			d.Msg = fmt.Sprintf("must be one of %s, got %s", strings.Join(g.allowed, ", "), g.got)
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		// Nothing survived the filtering: report CUE's own words.
		for _, e := range cueerrors.Errors(err) {
			format, args := e.Msg()
			d := Diagnostic{Path: strings.Join(e.Path(), "."), Msg: fmt.Sprintf(format, args...)}
			setPos(&d, cueerrors.Positions(e))
			out = append(out, d)
		}
	}
	return out
}

// setPos picks the position in the user's files over one in the schema,
// which is embedded and not the user's to change.
func setPos(d *Diagnostic, positions []token.Pos) {
	var best token.Pos
	for _, p := range positions {
		if !p.IsValid() {
			continue
		}
		if !best.IsValid() || strings.HasPrefix(best.Filename(), "schema/") && !strings.HasPrefix(p.Filename(), "schema/") {
			best = p
		}
	}
	if best.IsValid() {
		d.File, d.Line, d.Col = relPath(best.Filename()), best.Line(), best.Column()
	}
}

// otherPlaces are the positions in the user's files, other than the
// diagnostic's own, that an error names, as "file:line:col, ...".
func otherPlaces(d Diagnostic, positions []token.Pos) string {
	var out []string
	seen := map[string]bool{fmt.Sprintf("%s:%d:%d", d.File, d.Line, d.Col): true}
	for _, p := range positions {
		if !p.IsValid() || strings.HasPrefix(p.Filename(), "schema/") {
			continue
		}
		at := fmt.Sprintf("%s:%d:%d", relPath(p.Filename()), p.Line(), p.Column())
		if !seen[at] {
			seen[at] = true
			out = append(out, at)
		}
	}
	return strings.Join(out, ", ")
}

// userPos moves a diagnostic that only has a schema position (the user did
// not write the field, e.g. a required list left empty) to the closest
// enclosing field the user did write.
func userPos(d *Diagnostic, user cue.Value, path []string) {
	if !user.Exists() || len(path) < 2 || d.File != "" && !strings.HasPrefix(d.File, "schema/") {
		return
	}
	for n := len(path); n >= 2; n-- {
		if v := lookupUser(user, path[2:n]); v.Exists() && v.Pos().IsValid() {
			setPos(d, []token.Pos{v.Pos()})
			return
		}
	}
}

// lookupUser finds a path of field names in the user's value; a segment
// that is a number is a list index when the value there is a list.
func lookupUser(user cue.Value, path []string) cue.Value {
	v := user
	for _, p := range path {
		if i, err := strconv.Atoi(p); err == nil && v.IncompleteKind() == cue.ListKind {
			v = v.LookupPath(cue.MakePath(cue.Index(i)))
		} else {
			v = v.LookupPath(cue.MakePath(cue.Str(p)))
		}
		if !v.Exists() {
			return v
		}
	}
	return v
}

// userValue is the concrete value the user wrote at an error path
// ("environments.prod.x.y"), formatted as CUE prints it in messages.
func userValue(user cue.Value, path []string) string {
	if !user.Exists() || len(path) < 2 {
		return ""
	}
	v := lookupUser(user, path[2:])
	if !v.Exists() || !v.IsConcrete() {
		return ""
	}
	return fmt.Sprint(v)
}

func dedupe(ds []Diagnostic) []Diagnostic {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i], ds[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return a.Path < b.Path
	})
	out := ds[:0]
	seen := map[string]bool{}
	for _, d := range ds {
		k := d.String()
		if strings.HasPrefix(d.Msg, "unknown field") {
			k = "unknown:" + d.Path
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	return out
}

// unknownFields reports every field the user wrote that the schema does
// not allow, with a suggestion. CUE does not report "field not allowed"
// while the same struct has another error, and Allows on the unified value
// answers true for fields the value already holds, so this pass asks the
// schema alone: the environment definition with only the user's valid
// scalars filled in (they select version- and kind-dependent fields).
func unknownFields(def, unified, user cue.Value, at cue.Path, cueReported []Diagnostic) []Diagnostic {
	var leaves []leaf
	collectLeaves(user, cue.Path{}, &leaves)
	sv := def
	for _, l := range leaves {
		if !allowedPath(sv, l.path) {
			continue
		}
		t := sv.FillPath(l.path, l.value)
		// Validate, not Err: a partial schema is incomplete by nature
		// (an unresolved default elsewhere), and a conditional that the
		// value switches on (mode: "managed") must still be taken.
		if t.Validate() == nil && t.LookupPath(l.path).Err() == nil {
			sv = t
		}
	}
	var out []Diagnostic
	walkUnknown(sv, user, at, cue.Path{}, &out)
	// CUE's own "field not allowed" errors can point below the unknown
	// field (at a field inside it): report the first step that the schema
	// does not have.
	for _, d := range cueReported {
		sels := cue.ParsePath(d.Path).Selectors()
		if len(sels) <= len(at.Selectors()) {
			continue
		}
		rel := sels[len(at.Selectors()):]
		cur := sv
		for i, sel := range rel {
			next := lookupAny(cur, sel)
			if next.Exists() && i < len(rel)-1 {
				cur = next
				continue
			}
			full := cue.MakePath(append(at.Selectors(), rel[:i+1]...)...)
			// The unified value lists the conditional fields too.
			names := slices.DeleteFunc(known(unified.LookupPath(cue.MakePath(rel[:i]...))), func(n string) bool { return n == sel.Unquoted() })
			nd := Diagnostic{Path: full.String(), Msg: unknownMsg(sel.Unquoted(), names)}
			if uv := user.LookupPath(cue.MakePath(rel[:i+1]...)); uv.Exists() {
				setPos(&nd, []token.Pos{uv.Pos()})
			} else {
				nd.File, nd.Line, nd.Col = d.File, d.Line, d.Col
			}
			out = append(out, nd)
			break
		}
	}
	return out
}

func unknownMsg(name string, names []string) string {
	msg := fmt.Sprintf("unknown field %q", name)
	if s := suggest(name, names); s != "" {
		return msg + fmt.Sprintf("; did you mean %q?", s)
	}
	if len(names) > 0 && len(names) <= 12 {
		return msg + "; allowed here: " + strings.Join(names, ", ")
	}
	return msg
}

type leaf struct {
	path  cue.Path
	value cue.Value
}

func collectLeaves(v cue.Value, at cue.Path, out *[]leaf) {
	if v.IncompleteKind() != cue.StructKind {
		if v.IsConcrete() {
			*out = append(*out, leaf{at, v})
		}
		return
	}
	it, err := v.Fields()
	if err != nil {
		return
	}
	for it.Next() {
		collectLeaves(it.Value(), cue.MakePath(append(at.Selectors(), it.Selector())...), out)
	}
}

func allowedPath(sv cue.Value, p cue.Path) bool {
	cur := sv
	for _, sel := range p.Selectors() {
		if !cur.Allows(sel) {
			return false
		}
		cur = lookupAny(cur, sel)
	}
	return true
}

// lookupAny finds a field whether it is regular, optional (x?) or
// required (x!): the schema declares many fields only as constraints.
func lookupAny(v cue.Value, sel cue.Selector) cue.Value {
	for _, s := range []cue.Selector{sel, sel.Optional(), sel.Required()} {
		if c := v.LookupPath(cue.MakePath(s)); c.Exists() {
			return c
		}
	}
	return v.LookupPath(cue.MakePath(sel))
}

func walkUnknown(parent, user cue.Value, at, rel cue.Path, out *[]Diagnostic) {
	if user.IncompleteKind() != cue.StructKind {
		return
	}
	if !parent.Exists() {
		return // cannot judge; validation reports what is wrong here
	}
	if k := parent.IncompleteKind(); k != cue.BottomKind && k&cue.StructKind == 0 {
		return // the schema wants no struct here: a type error, reported by validation
	}
	it, err := user.Fields()
	if err != nil {
		return
	}
	for it.Next() {
		sel := it.Selector()
		childRel := cue.MakePath(append(rel.Selectors(), sel)...)
		if !parent.Allows(sel) {
			full := cue.MakePath(append(at.Selectors(), childRel.Selectors()...)...)
			d := Diagnostic{Path: full.String(), Msg: unknownMsg(sel.Unquoted(), known(parent))}
			setPos(&d, []token.Pos{it.Value().Pos()})
			*out = append(*out, d)
			continue
		}
		walkUnknown(lookupAny(parent, sel), it.Value(), at, childRel, out)
	}
}

func known(v cue.Value) []string {
	it, err := v.Fields(cue.Optional(true))
	if err != nil {
		return nil
	}
	var names []string
	for it.Next() {
		names = append(names, it.Selector().Unquoted())
	}
	return names
}

// suggest returns the closest known name within a small edit distance
// (optimal string alignment: a swap of two letters counts once).
func suggest(name string, names []string) string {
	best, bestD := "", max(2, len(name)/3)+1
	for _, n := range names {
		d := osaDistance(strings.ToLower(name), strings.ToLower(n))
		if d < bestD || d == bestD && n < best {
			best, bestD = n, d
		}
	}
	return best
}

func osaDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
