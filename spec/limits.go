package spec

import (
	"fmt"
	"strings"

	"cuelang.org/go/cue/ast"
	"cuelang.org/go/cue/token"
)

// Limits on the shape of an overlay file, checked on its syntax before
// CUE evaluates it: CUE looks fields up linearly, so evaluating a struct
// of n fields costs n², and deep nesting costs memory at every level. No
// spec comes near either limit (Milvus 2.6 reads 1,081 configuration keys,
// six levels deep at most), so a file past them is a mistake, refused
// with its position in milliseconds instead of evaluated for minutes.
const (
	maxStructFields = 5000
	maxNesting      = 32
)

// shapeLimits refuses a struct with more than maxStructFields fields or
// nested more than maxNesting levels, once per offending struct.
func shapeLimits(files []*ast.File) []Diagnostic {
	var diags []Diagnostic
	var path []string
	at := func(pos token.Pos, msg string) {
		d := Diagnostic{Path: strings.Join(path, "."), Msg: msg}
		setPos(&d, []token.Pos{pos})
		diags = append(diags, d)
	}
	var walk func(n ast.Node, depth int)
	walk = func(n ast.Node, depth int) {
		switch x := n.(type) {
		case *ast.StructLit:
			if depth > maxNesting {
				at(x.Pos(), fmt.Sprintf("structs nested more than %d levels deep: no Milvus setting is (configuration keys are at most six levels deep)", maxNesting))
				return
			}
			fields := 0
			for _, e := range x.Elts {
				if _, ok := e.(*ast.Field); ok {
					fields++
				}
			}
			if fields > maxStructFields {
				at(x.Pos(), fmt.Sprintf("a struct of %d fields: more than any spec needs (at most %d; Milvus 2.6 reads 1,081 configuration keys in all)", fields, maxStructFields))
				return
			}
			for _, e := range x.Elts {
				walk(e, depth+1)
			}
		case *ast.Field:
			name, _, err := ast.LabelName(x.Label)
			if err != nil {
				name = "[pattern]"
			}
			path = append(path, name)
			walk(x.Value, depth)
			path = path[:len(path)-1]
		case *ast.ListLit:
			if depth > maxNesting {
				at(x.Pos(), fmt.Sprintf("lists nested more than %d levels deep", maxNesting))
				return
			}
			if len(x.Elts) > maxStructFields {
				at(x.Pos(), fmt.Sprintf("a list of %d elements: more than any spec needs (at most %d)", len(x.Elts), maxStructFields))
				return
			}
			for _, e := range x.Elts {
				walk(e, depth+1)
			}
		case *ast.BinaryExpr:
			walk(x.X, depth)
			walk(x.Y, depth)
		case *ast.ParenExpr:
			walk(x.X, depth)
		case *ast.File:
			for _, d := range x.Decls {
				walk(d, depth)
			}
		case *ast.EmbedDecl:
			walk(x.Expr, depth)
		case *ast.Comprehension:
			walk(x.Value, depth)
		}
	}
	for _, f := range files {
		walk(f, 0)
	}
	return diags
}
