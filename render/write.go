package render

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
)

// Write replaces dir with exactly the files of set: it writes a sibling
// temp directory, then swaps it in with renames, so dir is never left
// half-written and stale files disappear.
func Write(dir string, set FileSet) error {
	tmp, err := stage(dir, set)
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // no-op once renamed
	return swap(tmp, dir)
}

// WriteAll writes root/<name> for every set. All trees are written to temp
// directories first; only when every one is complete are they swapped in,
// so an I/O error leaves the previous output in place.
func WriteAll(root string, sets map[string]FileSet) error {
	names := make([]string, 0, len(sets))
	for n := range sets {
		names = append(names, n)
	}
	sort.Strings(names)
	// Staged concurrently (the writes of a fleet are thousands of small
	// files); the first error in name order is reported.
	tmps := make([]string, len(names))
	errs := make([]error, len(names))
	defer func() {
		for _, tmp := range tmps {
			if tmp != "" {
				os.RemoveAll(tmp)
			}
		}
	}()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(names)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(names); i = int(next.Add(1) - 1) {
				tmps[i], errs[i] = stage(filepath.Join(root, names[i]), sets[names[i]])
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	for i, n := range names {
		if err := swap(tmps[i], filepath.Join(root, n)); err != nil {
			return err
		}
		tmps[i] = "" // in place: not to be removed
	}
	return nil
}

// stage writes set into a new temp directory beside dir.
func stage(dir string, set FileSet) (string, error) {
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".new-")
	if err != nil {
		return "", err
	}
	for _, p := range set.Paths() {
		target := filepath.Join(tmp, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			os.RemoveAll(tmp)
			return "", err
		}
		if err := os.WriteFile(target, set[p], 0o644); err != nil {
			os.RemoveAll(tmp)
			return "", err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	return tmp, nil
}

// swap puts the staged tmp in place of dir.
func swap(tmp, dir string) error {
	parent := filepath.Dir(filepath.Clean(dir))
	old := ""
	if _, err := os.Stat(dir); err == nil {
		old = filepath.Join(parent, "."+filepath.Base(dir)+".old")
		_ = os.RemoveAll(old)
		if err := os.Rename(dir, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			_ = os.Rename(old, dir) // put the previous tree back
		}
		return err
	}
	if old != "" {
		return os.RemoveAll(old)
	}
	return nil
}

// Generated reports whether dir is an overlay this tool wrote (its
// kustomization.yaml carries our header), so that it may be removed when
// its environment is gone.
func Generated(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, kustomizationFile))
	return err == nil && bytes.HasPrefix(b, []byte(headerPrefix))
}

// Drift is how a directory differs from a file set.
type Drift struct {
	Changed []string // in both, different content
	Missing []string // in the set, not on disk
	Stale   []string // on disk, not in the set
}

// Empty reports whether there is no difference.
func (d Drift) Empty() bool { return len(d.Changed)+len(d.Missing)+len(d.Stale) == 0 }

// Compare compares dir with set. A missing dir means every file is missing.
func Compare(dir string, set FileSet) (Drift, error) {
	var d Drift
	onDisk := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == dir {
				return fs.SkipDir
			}
			return err
		}
		if e.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		onDisk[filepath.ToSlash(rel)] = true
		return nil
	})
	if err != nil {
		return d, fmt.Errorf("compare %s: %w", dir, err)
	}
	for _, p := range set.Paths() {
		if !onDisk[p] {
			d.Missing = append(d.Missing, p)
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			return d, err
		}
		if !bytes.Equal(b, set[p]) {
			d.Changed = append(d.Changed, p)
		}
	}
	for p := range onDisk {
		if _, ok := set[p]; !ok {
			d.Stale = append(d.Stale, p)
		}
	}
	sort.Strings(d.Stale)
	return d, nil
}

// ReadDir reads an overlay tree back into a file set (for diffs against
// committed output).
func ReadDir(dir string) (FileSet, error) {
	set := FileSet{}
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		set[filepath.ToSlash(rel)] = b
		return nil
	})
	return set, err
}

// Same reports whether two file sets hold the same paths with the same
// bytes (a nil set is the empty one, which is never the same as a
// rendered overlay).
func Same(a, b FileSet) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for p, x := range a {
		y, ok := b[p]
		if !ok || !bytes.Equal(x, y) {
			return false
		}
	}
	return true
}
