// Package chartarchive reads packaged Helm charts (.tgz): one walker over
// their files, used to extract a chart or read one file of it.
package chartarchive

import (
	"archive/tar"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
)

// Walk calls fn for every regular file of the archive, until fn returns
// true or an error.
func Walk(tgz string, fn func(name string, r io.Reader) (done bool, err error)) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if done, err := fn(h.Name, tr); done || err != nil {
			return err
		}
	}
}

// Extract unpacks the archive below dir (names are kept inside it).
func Extract(tgz, dir string) error {
	return Walk(tgz, func(name string, r io.Reader) (bool, error) {
		target := filepath.Join(dir, filepath.Clean("/"+name))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return false, err
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return false, err
		}
		return false, os.WriteFile(target, b, 0o644)
	})
}
