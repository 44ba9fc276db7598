// Package source keeps bare mirrors of the watched repositories under the
// workdir (with go-git) and answers what the measuring code needs of them:
// which commit a revision names, its parent and subject, a file at a
// revision, and a tree exported to a directory.
//
// Fetching is cheap to repeat: a revision that is a full commit SHA already
// in the mirror is answered without touching the network.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	git "github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
)

// Mirror is a bare mirror of one repository.
type Mirror struct {
	Name string
	URL  string
	Dir  string

	mu      sync.Mutex
	repo    *git.Repository
	fetched bool
}

// Commit is what tcbot needs of a commit.
type Commit struct {
	SHA     string
	Subject string
	Parents []string
	// Author is "Name <email>".
	Author string
}

// Open opens the mirror of repository name under dir, creating an empty
// bare repository with an "origin" remote when there is none yet. It does
// not fetch.
func Open(dir, name, url string) (*Mirror, error) {
	path := filepath.Join(dir, name+".git")
	m := &Mirror{Name: name, URL: url, Dir: path}
	r, err := git.PlainOpen(path)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("mirror %s: %w", name, err)
		}
		r, err = git.PlainInit(path, true)
		if err != nil {
			return nil, fmt.Errorf("mirror %s: init %s: %w", name, path, err)
		}
		_, err = r.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{url}})
		if err != nil {
			return nil, fmt.Errorf("mirror %s: %w", name, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("mirror %s: open %s: %w", name, path, err)
	} else if err := setURL(r, url); err != nil {
		return nil, fmt.Errorf("mirror %s: %w", name, err)
	}
	m.repo = r
	return m, nil
}

// setURL follows a changed url in the config.
func setURL(r *git.Repository, url string) error {
	cfg, err := r.Config()
	if err != nil {
		return err
	}
	rc, ok := cfg.Remotes["origin"]
	if ok && len(rc.URLs) == 1 && rc.URLs[0] == url {
		return nil
	}
	cfg.Remotes["origin"] = &gitconfig.RemoteConfig{Name: "origin", URLs: []string{url}}
	return r.SetConfig(cfg)
}

// Fetch brings branches and tags from the remote (once per Mirror value
// unless force).
func (m *Mirror) Fetch(ctx context.Context, force bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fetched && !force {
		return nil
	}
	err := m.repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs: []gitconfig.RefSpec{
			"+refs/heads/*:refs/heads/*",
			"+refs/tags/*:refs/tags/*",
		},
		Tags:  git.NoTags,
		Force: true,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("fetch %s from %s: %w", m.Name, m.URL, err)
	}
	// Follow the remote's HEAD so "HEAD" and "HEAD~1" mean what they mean
	// in the origin.
	if err := m.followHEAD(ctx); err != nil {
		return fmt.Errorf("fetch %s from %s: HEAD: %w", m.Name, m.URL, err)
	}
	m.fetched = true
	return nil
}

func (m *Mirror) followHEAD(ctx context.Context) error {
	remote, err := m.repo.Remote("origin")
	if err != nil {
		return err
	}
	refs, err := remote.ListContext(ctx, &git.ListOptions{})
	if err != nil {
		return err
	}
	for _, r := range refs {
		if r.Name() != plumbing.HEAD {
			continue
		}
		var head *plumbing.Reference
		if r.Type() == plumbing.SymbolicReference {
			head = plumbing.NewSymbolicReference(plumbing.HEAD, r.Target())
		} else {
			head = plumbing.NewHashReference(plumbing.HEAD, r.Hash())
		}
		return m.repo.Storer.SetReference(head)
	}
	return nil
}

var fullSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

// Resolve finds the commit a revision names: a full or abbreviated SHA, a
// branch, a tag, or an expression like main~2. It fetches first unless the
// revision is a full SHA already present.
func (m *Mirror) Resolve(ctx context.Context, rev string) (Commit, error) {
	force := false
	if fullSHA.MatchString(rev) {
		if c, err := m.commit(plumbing.NewHash(rev)); err == nil {
			return c, nil
		}
		// A commit we have not seen: the remote may have it now.
		force = true
	}
	if err := m.Fetch(ctx, force); err != nil {
		return Commit{}, err
	}
	return m.ResolveLocal(rev)
}

// ResolveLocal resolves a revision in the mirror without fetching.
func (m *Mirror) ResolveLocal(rev string) (Commit, error) {
	if rev == "" {
		return Commit{}, fmt.Errorf("repo %s: empty revision", m.Name)
	}
	h, err := m.repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil && regexp.MustCompile(`^[0-9a-f]{4,39}$`).MatchString(rev) {
		h, err = m.expandShort(rev)
	}
	if err != nil {
		return Commit{}, fmt.Errorf("repo %s: revision %q not found in %s: %v (use a branch, a tag or a commit SHA that exists there)", m.Name, rev, m.URL, err)
	}
	return m.commit(*h)
}

func (m *Mirror) expandShort(prefix string) (*plumbing.Hash, error) {
	iter, err := m.repo.CommitObjects()
	if err != nil {
		return nil, err
	}
	var found []plumbing.Hash
	_ = iter.ForEach(func(c *object.Commit) error {
		if strings.HasPrefix(c.Hash.String(), prefix) {
			found = append(found, c.Hash)
		}
		return nil
	})
	switch len(found) {
	case 0:
		return nil, plumbing.ErrReferenceNotFound
	case 1:
		return &found[0], nil
	}
	return nil, fmt.Errorf("abbreviated SHA %s is ambiguous (%d commits)", prefix, len(found))
}

func (m *Mirror) commit(h plumbing.Hash) (Commit, error) {
	c, err := m.repo.CommitObject(h)
	if err != nil {
		return Commit{}, fmt.Errorf("repo %s: %s is not a commit: %w", m.Name, h, err)
	}
	out := Commit{SHA: c.Hash.String(), Subject: strings.SplitN(strings.TrimSpace(c.Message), "\n", 2)[0],
		Author: fmt.Sprintf("%s <%s>", c.Author.Name, c.Author.Email)}
	for _, p := range c.ParentHashes {
		out.Parents = append(out.Parents, p.String())
	}
	return out, nil
}

// ReadFile returns a file at a commit; found is false when absent.
func (m *Mirror) ReadFile(sha, path string) (data []byte, found bool, err error) {
	c, err := m.repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return nil, false, fmt.Errorf("repo %s: commit %s: %w", m.Name, sha, err)
	}
	f, err := c.File(path)
	if errors.Is(err, object.ErrFileNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("repo %s: %s at %s: %w", m.Name, path, sha[:12], err)
	}
	s, err := f.Contents()
	if err != nil {
		return nil, false, fmt.Errorf("repo %s: %s at %s: %w", m.Name, path, sha[:12], err)
	}
	return []byte(s), true, nil
}

// Export writes the tree of a commit into dir (created), keeping the
// executable bit. Symlinks are written as symlinks; submodules are skipped.
func (m *Mirror) Export(sha, dir string) error {
	c, err := m.repo.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return fmt.Errorf("repo %s: commit %s: %w", m.Name, sha, err)
	}
	tree, err := c.Tree()
	if err != nil {
		return fmt.Errorf("repo %s: tree of %s: %w", m.Name, sha, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return tree.Files().ForEach(func(f *object.File) error {
		dst := filepath.Join(dir, filepath.FromSlash(f.Name))
		if !strings.HasPrefix(dst, filepath.Clean(dir)+string(os.PathSeparator)) {
			return fmt.Errorf("repo %s: path %q leaves the checkout", m.Name, f.Name)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		switch f.Mode {
		case filemode.Symlink:
			target, err := f.Contents()
			if err != nil {
				return err
			}
			return os.Symlink(target, dst)
		case filemode.Submodule:
			return nil
		}
		mode := os.FileMode(0o644)
		if f.Mode == filemode.Executable {
			mode = 0o755
		}
		r, err := f.Reader()
		if err != nil {
			return err
		}
		defer r.Close()
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, r); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// FetchPull fetches a pull request's head (GitHub's refs/pull/N/head) from
// the repository's configured URL, never from a URL in a webhook payload,
// and returns its commit.
func (m *Mirror) FetchPull(ctx context.Context, number int) (Commit, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ref := fmt.Sprintf("refs/pull/%d/head", number)
	err := m.repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   []gitconfig.RefSpec{gitconfig.RefSpec("+" + ref + ":" + ref)},
		Tags:       git.NoTags,
		Force:      true,
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return Commit{}, fmt.Errorf("fetch %s of %s from %s: %w", ref, m.Name, m.URL, err)
	}
	r, err := m.repo.Reference(plumbing.ReferenceName(ref), true)
	if err != nil {
		return Commit{}, fmt.Errorf("repo %s: %s: %w", m.Name, ref, err)
	}
	return m.commit(r.Hash())
}

// MergeBase returns the best common ancestor of two commits.
func (m *Mirror) MergeBase(a, b string) (string, error) {
	ca, err := m.repo.CommitObject(plumbing.NewHash(a))
	if err != nil {
		return "", fmt.Errorf("repo %s: commit %s: %w", m.Name, a, err)
	}
	cb, err := m.repo.CommitObject(plumbing.NewHash(b))
	if err != nil {
		return "", fmt.Errorf("repo %s: commit %s: %w", m.Name, b, err)
	}
	bases, err := ca.MergeBase(cb)
	if err != nil {
		return "", fmt.Errorf("repo %s: merge base of %s and %s: %w", m.Name, a[:12], b[:12], err)
	}
	if len(bases) == 0 {
		return "", fmt.Errorf("repo %s: %s and %s have no common ancestor", m.Name, a[:12], b[:12])
	}
	return bases[0].Hash.String(), nil
}

// FirstParents returns the commits after good up to bad along bad's
// first parents, oldest first (bad last): the range a bisection searches.
// good must be bad's first-parent ancestor; the walk gives up after max
// commits (0: 100,000).
func (m *Mirror) FirstParents(good, bad string, max int) ([]Commit, error) {
	if max <= 0 {
		max = 100000
	}
	var out []Commit
	cur := bad
	for cur != good {
		if len(out) >= max {
			return nil, fmt.Errorf("repo %s: %s is not within %d first-parent commits of %s", m.Name, short(good), max, short(bad))
		}
		c, err := m.commit(plumbing.NewHash(cur))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		if len(c.Parents) == 0 {
			return nil, fmt.Errorf("repo %s: %s is not an ancestor of %s along first parents (the good revision must be older than the bad one, on the same branch)", m.Name, short(good), short(bad))
		}
		cur = c.Parents[0]
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// ListBranches lists the remote's branches and their heads without
// fetching anything (git ls-remote): cheap enough to poll.
func ListBranches(ctx context.Context, url string) (map[string]string, error) {
	rem := git.NewRemote(memory.NewStorage(), &gitconfig.RemoteConfig{Name: "origin", URLs: []string{url}})
	refs, err := rem.ListContext(ctx, &git.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("ls-remote %s: %w", url, err)
	}
	out := map[string]string{}
	for _, r := range refs {
		if r.Name().IsBranch() && r.Type() == plumbing.HashReference {
			out[r.Name().Short()] = r.Hash().String()
		}
	}
	return out, nil
}
