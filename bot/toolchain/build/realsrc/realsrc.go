// Package realsrc makes, for tests, git repositories of real upstream
// sources from Debian's source packages (binutils-source, gcc-12-source,
// glibc-source), with commits shaped like real changes on top
// (demo.MakeTarballRepo). The repositories are kept under the test cache
// (they take a minute to make) and made again when the tarball or the
// commits change.
//
// Without the package the tests that need it skip, unless CI is set or
// the caller requires it: then they fail, so CI never passes without
// having measured the real thing.
package realsrc

import (
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"testing"

	"github.com/tcbot/tcbot/bot/demo"
)

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

// Make returns the repository of tarball with changes on top, made once.
func Make(t testing.TB, name, tarball string, changes []demo.Change) *Repo {
	t.Helper()
	st, err := os.Stat(tarball)
	if err != nil {
		t.Fatal(err)
	}
	h := fnv.New32a()
	fmt.Fprintf(h, "%d %d", st.Size(), st.ModTime().Unix())
	for _, c := range changes {
		fmt.Fprintf(h, "%q %q %d", c.Subject, c.Patch, c.Strip)
		for _, e := range c.Edits {
			fmt.Fprintf(h, "%q %q %q", e.File, e.Old, e.New)
		}
	}
	dir := filepath.Join(CacheDir(t), "repos", fmt.Sprintf("%s-%08x", name, h.Sum32()))
	shas, err := demo.MakeTarballRepo(dir, tarball, changes)
	if err != nil {
		t.Fatal(err)
	}
	r := &Repo{Dir: dir, SHAs: map[string]string{"release": shas[0]}}
	for i, c := range changes {
		r.SHAs[c.Subject] = shas[i+1]
	}
	return r
}
