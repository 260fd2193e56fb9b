package diff

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Text writes the report for a terminal.
func (r *Report) Text(w io.Writer) {
	if r.Empty() {
		fmt.Fprintf(w, "no difference between %s and %s\n", r.From, r.To)
		return
	}
	fmt.Fprintf(w, "%s -> %s\n", r.From, r.To)
	for _, o := range r.Objects {
		fmt.Fprintf(w, "%s %s\n", marker(o.Status), o.ID)
		for _, f := range o.Fields {
			fmt.Fprintf(w, "    %s: %s\n", f.Path, fromTo(f))
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "%s: %s\n", strings.ToUpper(n.Severity), n.Message)
	}
}

// JSON writes the report for machines.
func (r *Report) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Markdown writes a compact pull-request comment: counts, the field
// changes, then the impact notes.
func (r *Report) Markdown(w io.Writer) {
	fmt.Fprintf(w, "### milvusgen: `%s` → `%s`\n\n", r.From, r.To)
	if r.Empty() {
		fmt.Fprintln(w, "No change.")
		return
	}
	counts := map[string]int{}
	for _, o := range r.Objects {
		counts[o.Status]++
	}
	fmt.Fprintf(w, "**%d added, %d removed, %d changed**\n\n", counts[Added], counts[Removed], counts[Changed])
	if len(r.Notes) > 0 {
		fmt.Fprintln(w, "#### Impact")
		fmt.Fprintln(w)
		for _, n := range r.Notes {
			icon := "ℹ️"
			if n.Severity == "warning" {
				icon = "⚠️"
			}
			fmt.Fprintf(w, "- %s %s\n", icon, escape(n.Message))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "#### Changes")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| object | field | change |")
	fmt.Fprintln(w, "| --- | --- | --- |")
	for _, o := range r.Objects {
		if o.Status != Changed {
			fmt.Fprintf(w, "| %s | | %s |\n", code(o.ID), o.Status)
			continue
		}
		for _, f := range o.Fields {
			fmt.Fprintf(w, "| %s | %s | %s |\n", code(o.ID), code(f.Path), code(fromTo(f)))
		}
	}
}

// code renders a table cell as a code span: nothing in it is Markdown or
// HTML; a pipe would still end the cell, so it is escaped.
func code(s string) string {
	s = strings.ReplaceAll(s, "|", "\\|")
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	return fence + " " + s + " " + fence
}

// escape makes prose safe in Markdown: no HTML, no emphasis.
func escape(s string) string {
	return strings.NewReplacer("<", "&lt;", ">", "&gt;", "*", "\\*", "_", "\\_", "|", "\\|").Replace(s)
}

func marker(status string) string {
	switch status {
	case Added:
		return "+"
	case Removed:
		return "-"
	}
	return "~"
}

func fromTo(f FieldChange) string {
	switch {
	case f.From == nil:
		return "(added) " + show(f.To)
	case f.To == nil:
		return show(f.From) + " (removed)"
	}
	a, aok := f.From.(string)
	b, bok := f.To.(string)
	if aok && bok && (len(a) > 80 || len(b) > 80) {
		a, b = window(a, b)
		return fmt.Sprintf("%q -> %q", a, b)
	}
	return show(f.From) + " -> " + show(f.To)
}

// window cuts two long strings down to where they differ, with a little
// context, so that a changed threshold inside a PromQL expression shows.
func window(a, b string) (string, string) {
	ra, rb := []rune(a), []rune(b)
	a, b = "", ""
	p := 0
	for p < len(ra) && p < len(rb) && ra[p] == rb[p] {
		p++
	}
	q := 0
	for q < len(ra)-p && q < len(rb)-p && ra[len(ra)-1-q] == rb[len(rb)-1-q] {
		q++
	}
	start := max(0, p-20)
	cut := func(s []rune) string {
		end := min(len(s), len(s)-q+20)
		out := string(s[start:end])
		if start > 0 {
			out = "…" + out
		}
		if end < len(s) {
			out += "…"
		}
		return out
	}
	return cut(ra), cut(rb)
}

func show(v any) string {
	switch t := v.(type) {
	case string:
		if r := []rune(t); len(r) > 80 {
			return fmt.Sprintf("%q…", string(r[:77]))
		}
		return fmt.Sprintf("%q", t)
	case map[string]any, []any:
		b, _ := json.Marshal(t)
		if r := []rune(string(b)); len(r) > 80 {
			return string(r[:77]) + "…"
		}
		return string(b)
	}
	return fmt.Sprint(v)
}
