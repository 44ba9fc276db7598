package source

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Files describes a checked-out tree: path (slash-separated) -> blob
// hash and mode, as git has them.
type Files map[string]string

// Sync makes dir hold the tree of commit sha, given that it holds the
// tree described by have (nil or empty: dir is empty or may be wiped):
// it writes only the files whose content or mode differ and removes the
// files the commit does not have, so every unchanged file keeps its time
// stamp and make rebuilds only what the change touches. It returns the
// new tree's Files and the paths written or removed, sorted.
func (m *Mirror) Sync(sha, dir string, have Files) (Files, []string, error) {
	c, err := m.repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return nil, nil, fmt.Errorf("repo %s: commit %s: %w", m.Name, sha, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return nil, nil, fmt.Errorf("repo %s: tree of %s: %w", m.Name, sha, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	root := filepath.Clean(dir) + string(os.PathSeparator)
	now := Files{}
	var changed []string
	// Walk the tree's entries (no blob is read unless its file is
	// written): a 100,000-file tree with one change costs a second.
	w := object.NewTreeWalker(tree, true, nil)
	defer w.Close()
	for {
		name, e, err := w.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		if e.Mode == filemode.Dir || e.Mode == filemode.Submodule {
			continue
		}
		id := e.Hash.String() + " " + e.Mode.String()
		now[name] = id
		if have[name] == id {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if !strings.HasPrefix(dst, root) {
			return nil, nil, fmt.Errorf("repo %s: path %q leaves the checkout", m.Name, name)
		}
		changed = append(changed, name)
		if err := m.writeBlob(e, dst); err != nil {
			return nil, nil, fmt.Errorf("repo %s: %s: %w", m.Name, name, err)
		}
	}
	for p := range have {
		if _, ok := now[p]; !ok {
			changed = append(changed, p)
			if err := os.Remove(filepath.Join(dir, filepath.FromSlash(p))); err != nil && !os.IsNotExist(err) {
				return nil, nil, err
			}
		}
	}
	sort.Strings(changed)
	return now, changed, nil
}

// writeBlob writes the file of tree entry e at dst.
func (m *Mirror) writeBlob(e object.TreeEntry, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	os.Remove(dst)
	blob, err := m.repo.BlobObject(e.Hash)
	if err != nil {
		return err
	}
	r, err := blob.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	if e.Mode == filemode.Symlink {
		target, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		return os.Symlink(string(target), dst)
	}
	mode := os.FileMode(0o644)
	if e.Mode == filemode.Executable {
		mode = 0o755
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
