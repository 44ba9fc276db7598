package buildtree_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tcbot/tcbot/bot/buildtree"
	"github.com/tcbot/tcbot/bot/demo"
	"github.com/tcbot/tcbot/bot/sandbox"
	"github.com/tcbot/tcbot/bot/source"
)

// A small out-of-tree project in the shape of GNU ones: configure writes
// the build directory's Makefile, make builds two objects and a program.
const configure = `#!/bin/sh
src=$(cd "$(dirname "$0")" && pwd)
echo "configure run" >> ../configures.log 2>/dev/null || true
cat > Makefile <<EOF
SRC := $src
prog: a.o b.o
	cc -o prog a.o b.o
%.o: \$(SRC)/%.c
	cc -O1 -c -o \$@ \$<
EOF
`

func repo(t *testing.T) (*source.Mirror, []string) {
	t.Helper()
	dir := t.TempDir()
	shas, err := demo.MakeRepo(filepath.Join(dir, "origin"), []demo.Commit{
		{Subject: "base", Files: map[string]string{"configure": configure, "a.c": "int f(void);\nint main(void) { return f() - 42; }\n", "b.c": "int f(void) { return 42; }\n"}},
		{Subject: "change b", Files: map[string]string{"b.c": "int f(void) { return 40 + 2; }\n"}},
		{Subject: "break b", Files: map[string]string{"b.c": "int f(void) { return syntax error; }\n"}},
		{Subject: "fix b", Files: map[string]string{"b.c": "int f(void) { return 41 + 1; }\n"}},
		{Subject: "change configure", Files: map[string]string{"configure": configure + "# new option\n"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := source.Open(filepath.Join(dir, "git"), "proj", filepath.Join(dir, "origin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Fetch(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	return m, shas
}

func TestTreeFollowsRevisions(t *testing.T) {
	m, shas := repo(t)
	sb := &sandbox.Sandbox{Kind: sandbox.Bubblewrap, CacheDir: t.TempDir()}
	if err := sb.Check(); err != nil {
		t.Fatal(err)
	}
	tree := &buildtree.Tree{Dir: filepath.Join(t.TempDir(), "tree")}
	var progress []string
	var mu sync.Mutex
	spec := buildtree.Spec{
		Name:        "proj armv8",
		Configure:   [][]string{{tree.Src() + "/configure"}},
		Build:       [][]string{{"make", "prog"}},
		Reconfigure: []string{"configure"},
		Env:         []string{"PATH=/usr/bin:/bin", "LC_ALL=C"},
		Timeout:     time.Minute,
		Sandbox:     sb,
		Progress: func(step string, _ time.Duration, last string) {
			mu.Lock()
			progress = append(progress, step)
			mu.Unlock()
		},
	}
	ctx := context.Background()
	build := func(sha string) *buildtree.Result {
		t.Helper()
		r, err := tree.Checkout(ctx, m, sha, spec)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	mtime := func(name string) time.Time {
		st, err := os.Stat(filepath.Join(tree.Build(), name))
		if err != nil {
			t.Fatal(err)
		}
		return st.ModTime()
	}

	r := build(shas[0])
	if !r.OK || !r.Clean || r.Incremental {
		t.Fatalf("first build: %+v", r)
	}
	aBefore, bBefore := mtime("a.o"), mtime("b.o")
	time.Sleep(20 * time.Millisecond)

	r = build(shas[1])
	if !r.OK || !r.Incremental || r.Changed != 1 {
		t.Fatalf("one-file change: %+v, want an incremental build of 1 changed file", r)
	}
	if !mtime("a.o").Equal(aBefore) {
		t.Error("a.o was rebuilt although a.c did not change")
	}
	if !mtime("b.o").After(bBefore) {
		t.Error("b.o was not rebuilt although b.c changed")
	}

	r = build(shas[2])
	if r.OK || !strings.Contains(r.Step, "make") || !strings.Contains(r.Tail, "syntax") || !r.Clean {
		t.Fatalf("broken revision: %+v, want a failure confirmed from clean naming the step and the compiler's error", r)
	}

	// After a failure the tree is in doubt: the next build starts clean.
	r = build(shas[3])
	if !r.OK || !r.Clean {
		t.Fatalf("build after a failure: %+v, want a clean build", r)
	}
	r = build(shas[4])
	if !r.OK || !r.Clean || r.Incremental {
		t.Fatalf("configure changed: %+v, want configure run again", r)
	}

	// An interrupted build (dirty state) is rebuilt from clean.
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := tree.Checkout(ctx2, m, shas[3], spec); err == nil {
		t.Fatal("a cancelled build reported no error")
	}
	r = build(shas[3])
	if !r.OK || !r.Clean {
		t.Fatalf("after an interrupted build: %+v, want a clean build", r)
	}
	// Each step was announced, and each build's end.
	mu.Lock()
	defer mu.Unlock()
	joined := strings.Join(progress, "|")
	if !strings.Contains(joined, "make prog") || !strings.Contains(joined, "/configure") || !strings.Contains(joined, "||") && progress[len(progress)-1] != "" {
		t.Errorf("progress reports %q: want each step and an empty step at each build's end", progress)
	}
	if progress[len(progress)-1] != "" {
		t.Errorf("the last progress report %q does not say the build ended", progress[len(progress)-1])
	}
}
