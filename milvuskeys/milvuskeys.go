// Package milvuskeys knows which configuration keys each Milvus version
// line reads, so that a key Milvus would ignore cannot ship in user.yaml.
// The lists come from Milvus' own source at the release we pin (see the
// header of each file) and are compared the way Milvus compares keys.
package milvuskeys

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"sort"
	"strings"
	"sync"
)

//go:embed milvus-*.keys
var files embed.FS

// Set is the keys of one version line.
type Set struct {
	Source   string
	keys     map[string]string // normalised -> as Milvus spells it
	prefixes []string          // lower-case, dotted
}

var (
	mu    sync.Mutex
	cache = map[string]*Set{}
)

// For returns the key set of a Milvus version line ("2.5", "2.6").
func For(line string) (*Set, error) {
	mu.Lock()
	defer mu.Unlock()
	if s, ok := cache[line]; ok {
		return s, nil
	}
	b, err := files.ReadFile("milvus-" + line + ".keys")
	if err != nil {
		return nil, fmt.Errorf("no configuration key list for Milvus %s", line)
	}
	s := &Set{keys: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "":
		case strings.HasPrefix(l, "# source: "):
			s.Source = strings.TrimPrefix(l, "# source: ")
		case strings.HasPrefix(l, "#"):
		case strings.HasPrefix(l, "prefix "):
			s.prefixes = append(s.prefixes, strings.ToLower(strings.TrimPrefix(l, "prefix ")))
		default:
			s.keys[Normalise(l)] = l
		}
	}
	cache[line] = s
	return s, nil
}

// notFormatPrefix keys are compared as written (pkg/config/config.go:38).
const notFormatPrefix = "knowhere."

// Normalise is Milvus' formatKey (pkg/config/config.go l.76-87 at v2.6.15,
// the same at v2.5.16): lower case without "/", "_" and ".", except below
// "knowhere.". So a.b_c, a.bC and ab.c are one key to Milvus.
func Normalise(key string) string {
	if strings.HasPrefix(key, notFormatPrefix) {
		return key
	}
	return strings.NewReplacer("/", "", "_", "", ".", "").Replace(strings.ToLower(key))
}

// Known says whether Milvus reads key (a dotted path).
func (s *Set) Known(key string) bool {
	if _, ok := s.keys[Normalise(key)]; ok {
		return true
	}
	lower := strings.ToLower(key)
	for _, p := range s.prefixes {
		if strings.HasPrefix(lower, p) {
			return true
		}
	}
	return false
}

// Suggest is the known key closest to an unknown one (within a few
// edits, after normalising), or "".
func (s *Set) Suggest(key string) string {
	n := Normalise(key)
	const far = 4 // edits beyond which nothing is suggested
	best, bestD := "", far
	for norm, spelt := range s.keys {
		// distance stops counting at its limit: one more than the best so
		// far tells a tie from a worse key.
		d := distance(n, norm, bestD+1)
		if d < bestD || (d == bestD && bestD < far && spelt < best) {
			best, bestD = spelt, d
		}
	}
	return best
}

// distance is the Levenshtein distance, or limit when it reaches it.
func distance(a, b string, limit int) int {
	if d := len(a) - len(b); d >= limit || -d >= limit {
		return limit
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		low := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			low = min(low, cur[j])
		}
		if low >= limit {
			return limit
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], limit)
}

// Leaves are the dotted keys of a nested milvus.yaml map, sorted: what
// Milvus' loader flattens it to (flattenAndMergeMap; a list is one leaf).
func Leaves(m map[string]any) []string {
	var out []string
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
				walk(key, sub)
				continue
			}
			out = append(out, key)
		}
	}
	walk("", m)
	sort.Strings(out)
	return out
}
