// Package realsrc makes, for tests, git repositories of real upstream
// sources from Debian's source packages (binutils-source, gcc-12-source,
// glibc-source), with commits shaped like real changes on top. The
// repositories are kept under the user's cache directory (they take a
// minute to make) and made again when the package's tarball changes.
//
// Without the package the tests that need it skip, unless CI is set or
// the caller requires it: then they fail, so CI never passes without
// having measured the real thing.
package realsrc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Commit is a change on top of the extracted release: files replaced
// (by content) or edited (old -> new, which must match exactly once).
type Commit struct {
	Subject string
	Edits   []Edit
	// Patch is a patch file applied with patch -p<Strip> (Debian's fixes).
	Patch string
	Strip int
}

// Edit replaces Old by New in File; Old must occur exactly once.
type Edit struct {
	File, Old, New string
}

// Repo is a repository made from a release tarball.
type Repo struct {
	Dir string
	// SHAs by commit subject; "release" is the extracted tarball.
	SHAs map[string]string
}

// CacheDir is where repositories and the tests' build trees are kept:
// $TCBOT_TEST_CACHE, or the user's cache directory.
func CacheDir(t testing.TB) string {
	if d := os.Getenv("TCBOT_TEST_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(d, "tcbot-test")
}

// Need skips (or, in CI or when required, fails) a test without the file.
func Need(t testing.TB, file, pkg string, required bool) {
	t.Helper()
	if _, err := os.Stat(file); err != nil {
		msg := fmt.Sprintf("%s not found: install Debian's %s (.ci/run does)", file, pkg)
		if required || os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// Make extracts tarball (stripping its top directory) into a repository
// named name under the cache directory, applies prepare (a patch command
// run in the tree, e.g. Debian's gfdl build fix) as its own commit, then
// the commits; it returns the repository, made once per tarball.
func Make(t testing.TB, name, tarball string, prepare []Commit, commits []Commit) *Repo {
	t.Helper()
	st, err := os.Stat(tarball)
	if err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf("%s-%d-%d-%d", name, st.Size(), st.ModTime().Unix(), hashCommits(append(append([]Commit{}, prepare...), commits...)))
	dir := filepath.Join(CacheDir(t), "repos", key)
	r := &Repo{Dir: dir, SHAs: map[string]string{}}
	all := append(append([]Commit{}, prepare...), commits...)
	if data, err := os.ReadFile(filepath.Join(dir, ".tcbot-shas")); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if sha, subj, ok := strings.Cut(l, " "); ok {
				r.SHAs[subj] = sha
			}
		}
		if len(r.SHAs) == len(all)+1 {
			return r
		}
	}
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = tmp
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Upstream Developer", "GIT_AUTHOR_EMAIL=dev@example.org",
			"GIT_COMMITTER_NAME=Upstream Developer", "GIT_COMMITTER_EMAIL=dev@example.org",
			"GIT_AUTHOR_DATE=2026-01-05T09:00:00Z", "GIT_COMMITTER_DATE=2026-01-05T09:00:00Z")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("tar", "--no-same-owner", "-xf", tarball, "--strip-components=1")
	run("git", "init", "-q", "-b", "main")
	run("git", "add", "-A", "-f")
	run("git", "commit", "-q", "-m", "release")
	shas := "" + run("git", "rev-parse", "HEAD") + " release\n"
	for _, c := range all {
		if c.Patch != "" {
			run("patch", "-s", fmt.Sprintf("-p%d", c.Strip), "-i", c.Patch)
		}
		for _, e := range c.Edits {
			p := filepath.Join(tmp, e.File)
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("%s: %s: %v", c.Subject, e.File, err)
			}
			if n := strings.Count(string(data), e.Old); n != 1 {
				t.Fatalf("%s: %s: the text to replace occurs %d times, want once:\n%s", c.Subject, e.File, n, e.Old)
			}
			if err := os.WriteFile(p, []byte(strings.Replace(string(data), e.Old, e.New, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		run("git", "add", "-A", "-f")
		run("git", "commit", "-q", "-m", c.Subject)
		shas += run("git", "rev-parse", "HEAD") + " " + c.Subject + "\n"
	}
	if err := os.WriteFile(filepath.Join(tmp, ".tcbot-shas"), []byte(shas), 0o644); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	return Make(t, name, tarball, prepare, commits)
}

func hashCommits(cs []Commit) uint32 {
	var h uint32 = 2166136261
	for _, c := range cs {
		for _, s := range append([]string{c.Subject, c.Patch}, editsText(c.Edits)...) {
			for i := 0; i < len(s); i++ {
				h ^= uint32(s[i])
				h *= 16777619
			}
		}
	}
	return h
}

func editsText(es []Edit) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.File, e.Old, e.New)
	}
	return out
}
