package demo

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Change is a commit made on top of a release tarball: a patch file
// applied with patch -p<Strip> (Debian's fixes), then edits.
type Change struct {
	Subject string
	Patch   string
	Strip   int
	Edits   []Edit
}

// Edit replaces Old by New in File; Old must occur exactly once.
type Edit struct {
	File, Old, New string
}

// shasFile lists, in a repository MakeTarballRepo made, "SHA subject" per
// commit; its presence says the repository is complete.
const shasFile = ".tcbot-shas"

// MakeTarballRepo makes, in dir, a git repository of a release tarball
// (its top directory stripped, as the commit "release") and the changes
// on top, with fixed authors and dates so the SHAs are the same on every
// machine. A complete repository already in dir is reused. It returns the
// SHAs, "release" first, then the changes in order. It uses the git
// command (a tree such as GCC's, 100,000 files, takes a minute).
func MakeTarballRepo(dir, tarball string, changes []Change) ([]string, error) {
	if data, err := os.ReadFile(filepath.Join(dir, shasFile)); err == nil {
		var shas []string
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if sha, _, ok := strings.Cut(l, " "); ok {
				shas = append(shas, sha)
			}
		}
		if len(shas) == len(changes)+1 {
			return shas, nil
		}
	}
	if _, err := os.Stat(tarball); err != nil {
		return nil, err
	}
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	run := func(args ...string) (string, error) {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = tmp
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Upstream Developer", "GIT_AUTHOR_EMAIL=dev@example.org",
			"GIT_COMMITTER_NAME=Upstream Developer", "GIT_COMMITTER_EMAIL=dev@example.org",
			"GIT_AUTHOR_DATE=2026-01-05T09:00:00Z", "GIT_COMMITTER_DATE=2026-01-05T09:00:00Z")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	commit := func(subject string) (string, error) {
		for _, args := range [][]string{{"git", "add", "-A", "-f"}, {"git", "commit", "-q", "--allow-empty", "-m", subject}} {
			if _, err := run(args...); err != nil {
				return "", err
			}
		}
		return run("git", "rev-parse", "HEAD")
	}
	// --no-same-owner: as root, tar would keep the tarball's owners and
	// git would refuse the tree as another user's.
	if _, err := run("tar", "--no-same-owner", "-xf", tarball, "--strip-components=1"); err != nil {
		return nil, err
	}
	if _, err := run("git", "init", "-q", "-b", "main"); err != nil {
		return nil, err
	}
	sha, err := commit("release")
	if err != nil {
		return nil, err
	}
	shas := []string{sha}
	list := sha + " release\n"
	for _, c := range changes {
		if c.Patch != "" {
			if _, err := run("patch", "-s", fmt.Sprintf("-p%d", c.Strip), "-i", c.Patch); err != nil {
				return nil, fmt.Errorf("%s: %w", c.Subject, err)
			}
		}
		for _, e := range c.Edits {
			p := filepath.Join(tmp, filepath.FromSlash(e.File))
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.Subject, err)
			}
			if n := strings.Count(string(data), e.Old); n != 1 {
				return nil, fmt.Errorf("%s: %s: the text to replace occurs %d times, want once: %q", c.Subject, e.File, n, e.Old)
			}
			if err := os.WriteFile(p, []byte(strings.Replace(string(data), e.Old, e.New, 1)), 0o644); err != nil {
				return nil, err
			}
		}
		sha, err := commit(c.Subject)
		if err != nil {
			return nil, err
		}
		shas = append(shas, sha)
		list += sha + " " + c.Subject + "\n"
	}
	if err := os.WriteFile(filepath.Join(tmp, shasFile), []byte(list), 0o644); err != nil {
		return nil, err
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	return shas, os.Rename(tmp, dir)
}
