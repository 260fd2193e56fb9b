package milvusmetrics

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"sort"
	"strconv"
	"strings"
)

// Extract reads the metric families Milvus defines in Go source: every
// prometheus.{Counter,Gauge,Histogram,Summary}Opts literal of the given
// files, its name joined from Namespace, Subsystem and Name as client_golang
// does (BuildFQName), and the label names of the vector it builds. consts
// resolves identifiers the literals use (the metrics package's own
// constants and typeutil's roles, as "typeutil.ProxyRole"); the constants
// declared in the files themselves are added. A literal whose name cannot
// be resolved (a helper taking the name as a parameter) is returned in
// unresolved, so a generator notices instead of dropping it silently.
func Extract(files map[string][]byte, consts map[string]string) (fams []Family, unresolved []string, err error) {
	fset := token.NewFileSet()
	var parsed []*ast.File
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	all := map[string]string{}
	for k, v := range consts {
		all[k] = v
	}
	for _, n := range names {
		f, err := parser.ParseFile(fset, n, files[n], 0)
		if err != nil {
			return nil, nil, err
		}
		parsed = append(parsed, f)
	}
	// Constants refer to constants of other files: resolve until nothing
	// new resolves.
	for grown := true; grown; {
		grown = false
		for _, f := range parsed {
			for k, v := range constsOf(f, all) {
				if _, ok := all[k]; !ok {
					all[k], grown = v, true
				}
			}
		}
	}
	helpers := findHelpers(parsed, all)
	seen := map[string]bool{}
	for _, f := range parsed {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			lit, ok := call.Args[0].(*ast.CompositeLit)
			if !ok {
				return true
			}
			kind := optsKind(lit.Type)
			if kind == "" {
				return true
			}
			parts := map[string]string{}
			// A helper such as newWALCounterVec(opts, extraLabels...)
			// sets Namespace and Subsystem itself.
			h, isHelper := helpers[calleeName(call.Fun)]
			if isHelper {
				for k, v := range h.parts {
					parts[k] = v
				}
			}
			ok = true
			for _, el := range lit.Elts {
				kv, isKV := el.(*ast.KeyValueExpr)
				key, isIdent := kv.Key.(*ast.Ident)
				if !isKV || !isIdent || (key.Name != "Namespace" && key.Name != "Subsystem" && key.Name != "Name") {
					continue
				}
				v, resolved := eval(kv.Value, all)
				if !resolved {
					ok = false
				}
				parts[key.Name] = v
			}
			pos := fset.Position(lit.Pos())
			if !ok || parts["Name"] == "" {
				unresolved = append(unresolved, fmt.Sprintf("%s:%d", pos.Filename, pos.Line))
				return true
			}
			name := fqName(parts["Namespace"], parts["Subsystem"], parts["Name"])
			if seen[name] {
				return true
			}
			seen[name] = true
			fam := Family{Name: name, Type: kind}
			// A vector constructor's second argument is its label names;
			// a helper's are its base labels and its variadic arguments.
			if isHelper {
				fam.Labels, fam.LabelsKnown = append([]string(nil), h.labels...), h.labelsKnown
				for _, a := range call.Args[1:] {
					v, ok := eval(a, all)
					fam.Labels = append(fam.Labels, v)
					fam.LabelsKnown = fam.LabelsKnown && ok
				}
				sort.Strings(fam.Labels)
			} else if len(call.Args) > 1 {
				fam.Labels, fam.LabelsKnown = labels(call.Args[1], all)
			} else {
				fam.LabelsKnown = true // a plain metric: no labels
			}
			fams = append(fams, fam)
			return true
		})
	}
	sort.Slice(fams, func(i, j int) bool { return fams[i].Name < fams[j].Name })
	return fams, unresolved, nil
}

// StringConsts are the string constants a file declares, by name (and
// package-level variables set to a string, which Milvus uses the same way).
func StringConsts(f *ast.File) map[string]string { return constsOf(f, nil) }

// constsOf resolves a file's string constants, given the known ones.
func constsOf(f *ast.File, known map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range known {
		out[k] = v
	}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || (g.Tok != token.CONST && g.Tok != token.VAR) {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, n := range vs.Names {
				if i < len(vs.Values) {
					if v, ok := eval(vs.Values[i], out); ok {
						out[n.Name] = v
					}
				}
			}
		}
	}
	return out
}

func optsKind(t ast.Expr) string {
	sel, ok := t.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "prometheus" {
		return ""
	}
	switch sel.Sel.Name {
	case "CounterOpts":
		return "counter"
	case "GaugeOpts":
		return "gauge"
	case "HistogramOpts":
		return "histogram"
	case "SummaryOpts":
		return "summary"
	}
	return ""
}

// eval resolves a string literal, a constant, a qualified constant or a
// concatenation of those.
func eval(e ast.Expr, consts map[string]string) (string, bool) {
	switch x := e.(type) {
	case *ast.BasicLit:
		if x.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(x.Value)
		return s, err == nil
	case *ast.Ident:
		v, ok := consts[x.Name]
		return v, ok
	case *ast.SelectorExpr:
		if pkg, ok := x.X.(*ast.Ident); ok {
			v, ok := consts[pkg.Name+"."+x.Sel.Name]
			return v, ok
		}
	case *ast.BinaryExpr:
		if x.Op == token.ADD {
			a, ok1 := eval(x.X, consts)
			b, ok2 := eval(x.Y, consts)
			return a + b, ok1 && ok2
		}
	case *ast.ParenExpr:
		return eval(x.X, consts)
	}
	return "", false
}

func labels(e ast.Expr, consts map[string]string) ([]string, bool) {
	lit, ok := e.(*ast.CompositeLit)
	if !ok {
		return nil, false
	}
	var out []string
	all := true
	for _, el := range lit.Elts {
		if v, ok := eval(el, consts); ok {
			out = append(out, v)
		} else {
			all = false
		}
	}
	sort.Strings(out)
	return out, all
}

// fqName joins the parts as prometheus.BuildFQName does: empty parts are
// left out.
func fqName(ns, sub, name string) string {
	var parts []string
	for _, p := range []string{ns, sub, name} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "_")
}

// helper is a function that takes a prometheus.*Opts, sets some of its
// parts and builds the vector with base labels plus its variadic
// arguments.
type helper struct {
	parts       map[string]string
	labels      []string
	labelsKnown bool
}

func calleeName(e ast.Expr) string {
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

// findHelpers reads the files' helpers: functions whose first parameter is
// a prometheus.*Opts and that assign its Namespace or Subsystem. Their
// base labels are the arguments appended in the label function they call
// (mergeLabel in Milvus), besides the variadic ones.
func findHelpers(files []*ast.File, consts map[string]string) map[string]helper {
	funcs := map[string]*ast.FuncDecl{}
	for _, f := range files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil {
				funcs[fd.Name.Name] = fd
			}
		}
	}
	out := map[string]helper{}
	for name, fd := range funcs {
		params := fd.Type.Params.List
		if len(params) == 0 || len(params[0].Names) != 1 || optsKind(params[0].Type) == "" {
			continue
		}
		opts := params[0].Names[0].Name
		h := helper{parts: map[string]string{}, labelsKnown: true}
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.AssignStmt:
				if len(x.Lhs) != 1 || len(x.Rhs) != 1 {
					return true
				}
				sel, ok := x.Lhs[0].(*ast.SelectorExpr)
				if !ok {
					return true
				}
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == opts {
					v, _ := eval(x.Rhs[0], consts)
					h.parts[sel.Sel.Name] = v
				}
			case *ast.CallExpr:
				if callee, ok := funcs[calleeName(x.Fun)]; ok && callee != fd {
					base, known := appendedLabels(callee, consts)
					h.labels = append(h.labels, base...)
					h.labelsKnown = h.labelsKnown && known
				}
			}
			return true
		})
		if len(h.parts) > 0 {
			out[name] = h
		}
	}
	return out
}

// appendedLabels are the resolvable single values a label function
// appends (append(labels, X)); spread arguments (extra...) are the
// caller's.
func appendedLabels(fd *ast.FuncDecl, consts map[string]string) ([]string, bool) {
	var out []string
	known := true
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || calleeName(call.Fun) != "append" || call.Ellipsis.IsValid() {
			return true
		}
		for _, a := range call.Args[1:] {
			v, ok := eval(a, consts)
			out = append(out, v)
			known = known && ok
		}
		return true
	})
	return out, known
}
