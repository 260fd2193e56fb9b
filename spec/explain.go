package spec

import (
	"fmt"
	"strings"

	"cuelang.org/go/cue"
	"cuelang.org/go/cue/format"
)

// Explanation says where an effective spec value comes from.
type Explanation struct {
	Path       string `json:"path"`
	Value      string `json:"value"`
	Origin     string `json:"origin"`   // "environment file", "base", "schema default", "derived"
	Position   string `json:"position"` // file:line:column of the deciding source
	Constraint string `json:"constraint,omitempty"`
	Schema     string `json:"schemaPosition,omitempty"`
}

// Explain resolves path (e.g. "components.queryNode.replicas") in the
// environment: its effective value, where it was set, and the schema's
// constraint on it.
func (s *Set) Explain(name, path string) (*Explanation, error) {
	v, err := s.Value(name)
	if err != nil {
		return nil, err
	}
	p := cue.ParsePath(path)
	if p.Err() != nil {
		return nil, fmt.Errorf("path %q: %w", path, p.Err())
	}
	eff := v.LookupPath(p)
	if !eff.Exists() {
		return nil, fmt.Errorf("environment %s has no field %s", name, path)
	}
	e := &Explanation{Path: path, Value: render(eff)}

	envPath := cue.MakePath(append(cue.MakePath(cue.Str("environments"), cue.Str(name)).Selectors(), p.Selectors()...)...)
	user := s.overlays.LookupPath(envPath)
	def := s.definition(p)
	switch {
	case user.Exists() && user.IsConcrete():
		pos := user.Pos()
		e.Position = relPath(pos.Filename()) + fmt.Sprintf(":%d:%d", pos.Line(), pos.Column())
		if relPath(pos.Filename()) == s.files[name] {
			e.Origin = "environment file"
		} else {
			e.Origin = "base"
		}
	case def.Exists() && isDefault(def, eff):
		e.Origin = "schema default"
	default:
		e.Origin = "derived by the schema"
	}
	if def.Exists() {
		if pos := def.Pos(); pos.IsValid() {
			e.Schema = fmt.Sprintf("%s:%d", pos.Filename(), pos.Line())
			if e.Position == "" {
				e.Position = e.Schema
			}
		}
		e.Constraint = source(def)
		if e.Constraint == "" {
			e.Constraint = fmt.Sprint(def)
		}
	}
	return e, nil
}

// isDefault reports whether the effective value is the schema's default
// for the field (not a value a cross-field rule or a derivation chose).
func isDefault(def, eff cue.Value) bool {
	d, ok := def.Default()
	if !ok || !d.IsConcrete() {
		return false
	}
	return d.Equals(eff)
}

// conditional maps the parts of the spec that only exist under a
// condition (the version's components, the chosen queue or controller) to
// the definition that shapes them.
var conditional = []struct{ prefix, def string }{
	{"components.", "#Component"},
	{"dependencies.messageQueue.pulsar", "#Pulsar"},
	{"dependencies.messageQueue.kafka", "#Kafka"},
	{"delivery.flux", "#Flux"},
	{"delivery.argocd", "#ArgoCD"},
}

// definition is the schema's own field for a spec path.
func (s *Set) definition(p cue.Path) cue.Value {
	if d := s.schema.LookupPath(cue.ParsePath("#Environment")).LookupPath(p); d.Exists() {
		return d
	}
	sels := p.Selectors()
	path := p.String()
	for _, c := range conditional {
		if !strings.HasPrefix(path, c.prefix) {
			continue
		}
		skip := len(cue.ParsePath(strings.TrimSuffix(c.prefix, ".")).Selectors())
		if c.prefix == "components." {
			skip = 2 // components.<name>
		}
		if skip > len(sels) {
			break
		}
		cur := s.schema.LookupPath(cue.ParsePath(c.def))
		for _, sel := range sels[skip:] {
			cur = lookupAny(cur, sel)
		}
		return cur
	}
	return cue.Value{}
}

// source prints a field's schema source without its comments.
func source(v cue.Value) string {
	src := v.Source()
	if src == nil {
		return ""
	}
	b, err := format.Node(src)
	if err != nil {
		return ""
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "//") {
			lines = append(lines, l)
		}
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

func render(v cue.Value) string {
	b, err := format.Node(v.Syntax(cue.Final(), cue.Concrete(true)))
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(string(b))
}
