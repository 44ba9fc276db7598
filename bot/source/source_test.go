package source

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// origin is a real git repository made with the git CLI, standing in for
// the upstream a mirror fetches from.
type origin struct {
	t   *testing.T
	dir string
}

func newOrigin(t *testing.T) *origin {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	o := &origin{t: t, dir: filepath.Join(t.TempDir(), "origin")}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	o.git("init", "-q", "-b", "main")
	return o
}

func (o *origin) git(args ...string) string {
	o.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = o.dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME="+o.dir,
		"GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.org",
		"GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.org",
		"GIT_AUTHOR_DATE=2024-05-01T10:00:00Z", "GIT_COMMITTER_DATE=2024-05-01T10:00:00Z",
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		o.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func (o *origin) write(name, content string, mode os.FileMode) {
	o.t.Helper()
	p := filepath.Join(o.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		o.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		o.t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		o.t.Fatal(err)
	}
}

// commit commits everything with a message and returns the new SHA.
func (o *origin) commit(msg string) string {
	o.t.Helper()
	o.git("add", "-A")
	o.git("commit", "-q", "--allow-empty", "-m", msg)
	return o.git("rev-parse", "HEAD")
}

// history is the origin's three commits on main.
type history struct {
	o          *origin
	c1, c2, c3 string
}

func newHistory(t *testing.T) *history {
	o := newOrigin(t)
	h := &history{o: o}
	o.write("README", "tcbot test repository\n", 0o644)
	o.write("build.sh", "#!/bin/sh\necho build\n", 0o755)
	o.write("src/deep/file.c", "int main(void) { return 0; }\n", 0o644)
	if err := os.Symlink("README", filepath.Join(o.dir, "README.link")); err != nil {
		t.Fatal(err)
	}
	h.c1 = o.commit("first: add README and build script\n\nWith a body.")
	o.write("README", "tcbot test repository, second edition\n", 0o644)
	h.c2 = o.commit("second: update README")
	o.git("tag", "v1")
	o.write("tcbot-toolchain.yaml", "armv8: {cc: aarch64-linux-gnu-gcc, cflags: -O2}\n", 0o644)
	h.c3 = o.commit("third: add toolchain manifest")
	o.git("tag", "-a", "-m", "release 2", "v2")
	o.git("branch", "feature", h.c1)
	return h
}

func openMirror(t *testing.T, work string, h *history) *Mirror {
	t.Helper()
	m, err := Open(work, "toolchain", h.o.dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return m
}

func TestResolve(t *testing.T) {
	h := newHistory(t)
	m := openMirror(t, t.TempDir(), h)
	ctx := context.Background()
	tests := []struct {
		name    string
		rev     string
		want    string
		subject string
		parents []string
	}{
		{"branch", "main", h.c3, "third: add toolchain manifest", []string{h.c2}},
		{"another branch", "feature", h.c1, "first: add README and build script", nil},
		{"lightweight tag", "v1", h.c2, "second: update README", []string{h.c1}},
		{"annotated tag", "v2", h.c3, "third: add toolchain manifest", []string{h.c2}},
		{"full SHA", h.c1, h.c1, "first: add README and build script", nil},
		{"abbreviated SHA", h.c2[:7], h.c2, "second: update README", []string{h.c1}},
		{"parent expression", "main~1", h.c2, "second: update README", []string{h.c1}},
		{"grandparent expression", "main~2", h.c1, "first: add README and build script", nil},
		{"full ref name", "refs/heads/main", h.c3, "third: add toolchain manifest", []string{h.c2}},
		{"origin's HEAD", "HEAD", h.c3, "third: add toolchain manifest", []string{h.c2}},
		{"parent of origin's HEAD", "HEAD~1", h.c2, "second: update README", []string{h.c1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := m.Resolve(ctx, tt.rev)
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tt.rev, err)
			}
			if c.SHA != tt.want {
				t.Errorf("Resolve(%q) = %s, want %s", tt.rev, c.SHA, tt.want)
			}
			if c.Subject != tt.subject {
				t.Errorf("subject = %q, want %q", c.Subject, tt.subject)
			}
			if !reflect.DeepEqual(c.Parents, tt.parents) {
				t.Errorf("parents = %q, want %q", c.Parents, tt.parents)
			}
		})
	}
}

func TestResolveUnknown(t *testing.T) {
	h := newHistory(t)
	m := openMirror(t, t.TempDir(), h)
	for _, rev := range []string{"no-such-branch", "main~7", "deadbeef", strings.Repeat("0", 40)} {
		t.Run(rev, func(t *testing.T) {
			c, err := m.Resolve(context.Background(), rev)
			if err == nil {
				t.Fatalf("Resolve(%q) = %s, want an error", rev, c.SHA)
			}
			for _, want := range []string{"toolchain", rev} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %q", err, want)
				}
			}
		})
	}
	if _, err := m.Resolve(context.Background(), ""); err == nil || !strings.Contains(err.Error(), "empty revision") {
		t.Errorf("Resolve(\"\") error = %v, want empty revision", err)
	}
}

func TestReadFile(t *testing.T) {
	h := newHistory(t)
	m := openMirror(t, t.TempDir(), h)
	if _, err := m.Resolve(context.Background(), "main"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		sha   string
		path  string
		found bool
		want  string
	}{
		{"file at head", h.c3, "tcbot-toolchain.yaml", true, "armv8: {cc: aarch64-linux-gnu-gcc, cflags: -O2}\n"},
		{"file not yet added", h.c1, "tcbot-toolchain.yaml", false, ""},
		{"older content", h.c1, "README", true, "tcbot test repository\n"},
		{"newer content", h.c2, "README", true, "tcbot test repository, second edition\n"},
		{"nested path", h.c3, "src/deep/file.c", true, "int main(void) { return 0; }\n"},
		{"directory is not a file", h.c3, "src", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, found, err := m.ReadFile(tt.sha, tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if found != tt.found || string(data) != tt.want {
				t.Errorf("ReadFile(%s, %s) = %q, %v; want %q, %v", tt.sha[:7], tt.path, data, found, tt.want, tt.found)
			}
		})
	}
	if _, _, err := m.ReadFile(strings.Repeat("1", 40), "README"); err == nil || !strings.Contains(err.Error(), "toolchain") {
		t.Errorf("ReadFile of an unknown commit: %v, want an error naming the repo", err)
	}
}

func TestExport(t *testing.T) {
	h := newHistory(t)
	m := openMirror(t, t.TempDir(), h)
	if _, err := m.Resolve(context.Background(), "main"); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "checkout")
	if err := m.Export(h.c3, dir); err != nil {
		t.Fatalf("Export: %v", err)
	}
	tests := []struct {
		path       string
		content    string
		executable bool
	}{
		{"README", "tcbot test repository, second edition\n", false},
		{"build.sh", "#!/bin/sh\necho build\n", true},
		{"src/deep/file.c", "int main(void) { return 0; }\n", false},
		{"tcbot-toolchain.yaml", "armv8: {cc: aarch64-linux-gnu-gcc, cflags: -O2}\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p := filepath.Join(dir, filepath.FromSlash(tt.path))
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != tt.content {
				t.Errorf("content %q, want %q", data, tt.content)
			}
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Mode()&0o100 != 0; got != tt.executable {
				t.Errorf("mode %v: executable = %v, want %v", st.Mode(), got, tt.executable)
			}
		})
	}
	target, err := os.Readlink(filepath.Join(dir, "README.link"))
	if err != nil || target != "README" {
		t.Errorf("README.link: readlink = %q, %v; want a symlink to README", target, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"README", "README.link", "build.sh", "src", "tcbot-toolchain.yaml"}; !reflect.DeepEqual(names, want) {
		t.Errorf("exported %q, want %q (nothing else, no .git)", names, want)
	}

	// The exported script runs.
	out, err := exec.Command(filepath.Join(dir, "build.sh")).Output()
	if err != nil || string(out) != "build\n" {
		t.Errorf("exported build.sh: %q, %v", out, err)
	}

	// An older commit exports the older tree.
	old := filepath.Join(t.TempDir(), "old")
	if err := m.Export(h.c1, old); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(old, "tcbot-toolchain.yaml")); !os.IsNotExist(err) {
		t.Errorf("export of the first commit holds tcbot-toolchain.yaml (%v)", err)
	}
	if err := m.Export(strings.Repeat("1", 40), filepath.Join(t.TempDir(), "x")); err == nil {
		t.Error("Export of an unknown commit succeeded")
	}
}

func TestFetchSeesNewCommits(t *testing.T) {
	h := newHistory(t)
	m := openMirror(t, t.TempDir(), h)
	ctx := context.Background()
	if c, err := m.Resolve(ctx, "main"); err != nil || c.SHA != h.c3 {
		t.Fatalf("Resolve(main) = %s, %v; want %s", c.SHA, err, h.c3)
	}

	h.o.write("NEWS", "fourth\n", 0o644)
	c4 := h.o.commit("fourth: news")
	h.o.git("tag", "v3")

	// Without a forced fetch the mirror answers from what it has.
	if c, err := m.Resolve(ctx, "main"); err != nil || c.SHA != h.c3 {
		t.Errorf("Resolve(main) before Fetch(force) = %s, %v; want still %s", c.SHA, err, h.c3)
	}
	if err := m.Fetch(ctx, true); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	for _, rev := range []string{"main", "v3", c4, c4[:8]} {
		if c, err := m.Resolve(ctx, rev); err != nil || c.SHA != c4 {
			t.Errorf("Resolve(%s) after Fetch = %s, %v; want %s", rev, c.SHA, err, c4)
		}
	}
	// A fetch with nothing new is not an error.
	if err := m.Fetch(ctx, true); err != nil {
		t.Errorf("Fetch with nothing new: %v", err)
	}
}

func TestHEADFollowsOriginDefaultBranch(t *testing.T) {
	h := newHistory(t)
	m := openMirror(t, t.TempDir(), h)
	ctx := context.Background()
	if c, err := m.Resolve(ctx, "HEAD"); err != nil || c.SHA != h.c3 {
		t.Fatalf("Resolve(HEAD) = %s, %v; want main's %s", c.SHA, err, h.c3)
	}
	// The origin's default branch becomes feature.
	h.o.git("symbolic-ref", "HEAD", "refs/heads/feature")
	if err := m.Fetch(ctx, true); err != nil {
		t.Fatal(err)
	}
	if c, err := m.Resolve(ctx, "HEAD"); err != nil || c.SHA != h.c1 {
		t.Errorf("Resolve(HEAD) after the default branch changed = %s, %v; want feature's %s", c.SHA, err, h.c1)
	}
}

func TestFullSHAInMirrorNeedsNoOrigin(t *testing.T) {
	h := newHistory(t)
	work := t.TempDir()
	ctx := context.Background()
	if _, err := openMirror(t, work, h).Resolve(ctx, "main"); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(h.o.dir); err != nil {
		t.Fatal(err)
	}

	// A new Mirror value has not fetched yet: a full SHA it already holds
	// resolves without the origin.
	m := openMirror(t, work, h)
	c, err := m.Resolve(ctx, h.c2)
	if err != nil {
		t.Fatalf("Resolve(full SHA) without origin: %v", err)
	}
	if c.SHA != h.c2 || c.Subject != "second: update README" {
		t.Errorf("Resolve = %+v", c)
	}
	if data, found, err := m.ReadFile(h.c3, "tcbot-toolchain.yaml"); err != nil || !found || len(data) == 0 {
		t.Errorf("ReadFile without origin: %q, %v, %v", data, found, err)
	}

	// A branch name needs the origin, and the error says which fetch failed.
	_, err = m.Resolve(ctx, "main")
	if err == nil {
		t.Fatal("Resolve(main) without origin succeeded")
	}
	for _, want := range []string{"fetch toolchain", h.o.dir} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestFetchAfterForcePush(t *testing.T) {
	h := newHistory(t)
	m := openMirror(t, t.TempDir(), h)
	ctx := context.Background()
	if _, err := m.Resolve(ctx, "main"); err != nil {
		t.Fatal(err)
	}

	// Rewrite main: drop the second and third commits and add another.
	h.o.git("reset", "-q", "--hard", h.c1)
	h.o.write("README", "rewritten\n", 0o644)
	rewritten := h.o.commit("second, rewritten")

	if err := m.Fetch(ctx, true); err != nil {
		t.Fatalf("Fetch after a force-push: %v", err)
	}
	c, err := m.Resolve(ctx, "main")
	if err != nil || c.SHA != rewritten {
		t.Fatalf("Resolve(main) after force-push = %s, %v; want %s", c.SHA, err, rewritten)
	}
	if !reflect.DeepEqual(c.Parents, []string{h.c1}) {
		t.Errorf("parents = %q, want [%s]", c.Parents, h.c1)
	}
	if c, err := m.Resolve(ctx, "main~1"); err != nil || c.SHA != h.c1 {
		t.Errorf("Resolve(main~1) = %s, %v; want %s", c.SHA, err, h.c1)
	}
	// The commits that left the branch are still in the mirror, so stored
	// results keep their commit.
	if c, err := m.Resolve(ctx, h.c3); err != nil || c.SHA != h.c3 {
		t.Errorf("Resolve(old head) = %s, %v", c.SHA, err)
	}
	data, _, err := m.ReadFile(rewritten, "README")
	if err != nil || string(data) != "rewritten\n" {
		t.Errorf("README at the rewritten head = %q, %v", data, err)
	}
}

func TestOpenFollowsChangedURL(t *testing.T) {
	h := newHistory(t)
	work := t.TempDir()
	ctx := context.Background()
	if _, err := openMirror(t, work, h).Resolve(ctx, "main"); err != nil {
		t.Fatal(err)
	}

	// The config now names another repository (a mirror with one more
	// commit).
	other := newOrigin(t)
	other.git("pull", "-q", h.o.dir, "main")
	other.write("MOVED", "here\n", 0o644)
	moved := other.commit("moved to a new host")

	m, err := Open(work, "toolchain", other.dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.URL != other.dir || m.Dir != filepath.Join(work, "toolchain.git") {
		t.Errorf("mirror URL %q dir %q", m.URL, m.Dir)
	}
	c, err := m.Resolve(ctx, "main")
	if err != nil || c.SHA != moved {
		t.Errorf("Resolve(main) after a URL change = %s, %v; want %s from the new URL", c.SHA, err, moved)
	}
}

func TestOpenCreatesBareMirror(t *testing.T) {
	h := newHistory(t)
	work := filepath.Join(t.TempDir(), "not", "yet")
	m := openMirror(t, work, h)
	if _, err := os.Stat(filepath.Join(work, "toolchain.git", "HEAD")); err != nil {
		t.Errorf("no bare repository at %s: %v", m.Dir, err)
	}
	if _, err := os.Stat(filepath.Join(work, "toolchain.git", ".git")); !os.IsNotExist(err) {
		t.Errorf("mirror is not bare (%v)", err)
	}
}

func TestFetchCancelled(t *testing.T) {
	h := newHistory(t)
	m := openMirror(t, t.TempDir(), h)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Resolve(ctx, "main"); err == nil {
		t.Error("Resolve with a cancelled context succeeded")
	}
}
