package measure_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	git "github.com/go-git/go-git/v5"

	"github.com/tcbot/tcbot/bot/compare"
	"github.com/tcbot/tcbot/bot/config"
	"github.com/tcbot/tcbot/bot/demo"
	"github.com/tcbot/tcbot/bot/measure"
	"github.com/tcbot/tcbot/bot/measure/measuretest"
)

// fakeKas stands in for `kas build` at the process boundary (a real build
// needs the network and hours): it checks what tcbot passes it, then
// leaves the build directory a real build would, from the OpenEmbedded
// fixtures: the base tree for the first commit, the head tree otherwise,
// or fails like a broken fetch for a revision named "broken".
const fakeKas = `#!/bin/sh
set -eu
[ "$1" = build ] || { echo "fake kas: want build, got $1" >&2; exit 2; }
project=${2%%:*}; override=${2#*:}
if [ "${4:-}" = --runall=fetch ]; then
	[ -z "${BB_NO_NETWORK:-}" ] || { echo "fake kas: fetch step without network" >&2; exit 2; }
	echo fetch >> "$DL_DIR/fetch.log"
	exit 0
fi
[ "${BB_NO_NETWORK:-}" = 1 ] || { echo "fake kas: the build step may use the network" >&2; exit 2; }
[ -f "$project" ] || { echo "fake kas: no project $project" >&2; exit 2; }
[ -n "$KAS_BUILD_DIR" ] && [ -n "$DL_DIR" ] && [ -n "$SSTATE_DIR" ] || { echo "fake kas: build dir or caches unset" >&2; exit 2; }
rev=$(sed -n 's/.*SRCREV:pn-gcc-source-14.2.0 = "\(.*\)".*/\1/p' "$override")
echo "$rev" >> "$DL_DIR/builds.log"
case "$rev" in
%s) tree=base ;;
%s) echo "ERROR: Fetcher failure for URL: the revision does not exist" >&2; exit 1 ;;
*) tree=head ;;
esac
cp -r "%s/$tree/." "$KAS_BUILD_DIR/"
`

func TestOELampRecipe(t *testing.T) {
	dir := t.TempDir()
	shas, err := demo.MakeRepo(filepath.Join(dir, "gcc"), []demo.Commit{
		{Subject: "gcc: base", Files: map[string]string{"README": "1\n"}},
		{Subject: "gcc: grow the image", Files: map[string]string{"README": "2\n"}},
		{Subject: "gcc: broken", Files: map[string]string{"README": "3\n"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The fixtures sit beside the fake kas: the build runs in tcbot's
	// sandbox, which sees kas's directory and not this source tree.
	fixtures := filepath.Join(dir, "fixtures")
	if err := os.CopyFS(fixtures, os.DirFS(filepath.Join("..", "oe", "testdata"))); err != nil {
		t.Fatal(err)
	}
	kas := filepath.Join(dir, "kas")
	os.WriteFile(kas, []byte(fmt.Sprintf(fakeKas, shas[0], shas[2], fixtures)), 0o755)

	recipes := filepath.Join(dir, "recipes")
	os.MkdirAll(filepath.Join(recipes, "oe"), 0o755)
	files := map[string]string{
		"oe-lamp.yaml": fmt.Sprintf(`name: oe-lamp
kind: kas
suite: oe-lamp
kas:
  projects: {armv8: oe/qemuarm64.yml}
  toolchain: oe/toolchain-{component}.yml.tmpl
  fetch_command: [%[1]q, "build", "{project}:{override}", "--", "--runall=fetch"]
  command: [%[1]q, "build", "{project}:{override}"]
  timeout: 5m
  informational: [build-cpu-time]
`, kas),
		"oe/qemuarm64.yml":          "header: {version: 12}\nmachine: qemuarm64\n",
		"oe/toolchain-gcc.yml.tmpl": "header: {version: 12}\nlocal_conf_header:\n  tcbot-gcc: |\n    SRC_URI:pn-gcc-source-14.2.0 = \"git://{{.URL}};branch={{.Branch}};protocol=file\"\n    SRCREV:pn-gcc-source-14.2.0 = \"{{.Rev}}\"\n",
	}
	for name, text := range files {
		os.WriteFile(filepath.Join(recipes, name), []byte(text), 0o644)
	}
	if err := measuretest.WriteSuite(filepath.Join(dir, "suite")); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "tcbot.yaml")
	os.WriteFile(cfgPath, []byte(`workdir: work
recipes_dir: recipes
benchmarks_dir: suite
repos:
  - {name: gcc, url: gcc, branches: [main], recipe: oe-lamp, component: gcc}
targets:
  - {name: armv8-qemu, arch: armv8, executor: qemu-user}
`), 0o644)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	m, err := measure.New(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Store.Close()
	ctx := context.Background()

	rep, st, err := m.Run(ctx, measure.Request{Repo: "gcc", Rev: shas[1]})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != compare.Failed || st.Measured != 2 {
		t.Fatalf("verdict %s, measured %d: want failed (the fixtures' head breaks a recipe) from 2 builds; errors %v", rep.Verdict, st.Measured, rep.Errors)
	}
	want := map[string]compare.Verdict{"tcbot-lamp-image/image-size": compare.Regression, "pkg/php/package-size": compare.Improvement, "recipe/sysbench/status": compare.Failed}
	for _, c := range rep.Comparisons {
		if v, ok := want[c.Benchmark+"/"+c.Metric]; ok {
			if c.Verdict != v || c.Target != "armv8-qemu" || c.Suite != "oe-lamp" {
				t.Errorf("%s %s: %s on %s/%s, want %s on armv8-qemu/oe-lamp", c.Benchmark, c.Metric, c.Verdict, c.Target, c.Suite, v)
			}
			delete(want, c.Benchmark+"/"+c.Metric)
		}
	}
	if len(want) > 0 {
		t.Errorf("missing comparisons: %v", want)
	}
	overrides, _ := filepath.Glob(filepath.Join(dir, "work", "oe", "src-*", "recipes", "oe", "tcbot-change-gcc-*.yml"))
	if len(overrides) != 2 {
		t.Fatalf("%d per-change includes written, want 2", len(overrides))
	}
	data, _ := os.ReadFile(overrides[0])
	if !strings.Contains(string(data), "protocol=file") || !strings.Contains(string(data), "branch=main") {
		t.Errorf("include not rendered from the template: %s", data)
	}
	src := filepath.Dir(filepath.Dir(filepath.Dir(overrides[0]))) // work/oe/src-*/
	if _, err := os.Stat(filepath.Join(src, "benchmarks", "loop.c")); err != nil {
		t.Errorf("the benchmark suite was not written beside the recipes for the layer: %v", err)
	}
	// kas resolves includes and the layer from the top of the git
	// repository holding the project file.
	if r, err := git.PlainOpen(src); err != nil {
		t.Errorf("the source tree is not a git repository: %v", err)
	} else if head, err := r.Head(); err != nil {
		t.Errorf("the source tree has no commit: %v", err)
	} else if c, _ := r.CommitObject(head.Hash()); c == nil {
		t.Error("HEAD is not a commit")
	} else if _, err := c.File("recipes/oe/qemuarm64.yml"); err != nil {
		t.Errorf("the project file is not committed: %v", err)
	}

	// Warm: nothing is built again.
	_, st, err = m.Run(ctx, measure.Request{Repo: "gcc", Rev: shas[1]})
	if err != nil || st.Measured != 0 || st.Reused != 2 {
		t.Fatalf("rerun: measured %d reused %d (%v), want 0 and 2", st.Measured, st.Reused, err)
	}
	builds, _ := os.ReadFile(filepath.Join(dir, "work", "oe", "downloads", "builds.log"))
	if fetches, _ := os.ReadFile(filepath.Join(dir, "work", "oe", "downloads", "fetch.log")); strings.Count(string(fetches), "fetch") != strings.Count(string(builds), "\n") {
		t.Errorf("%d fetch steps for %d builds, want one each", strings.Count(string(fetches), "fetch"), strings.Count(string(builds), "\n"))
	}
	if n := strings.Count(string(builds), "\n"); n != 2 {
		t.Errorf("kas ran %d times, want 2", n)
	}

	// A build that breaks before buildhistory exists: failed, with kas's words.
	rep, _, err = m.Run(ctx, measure.Request{Repo: "gcc", Rev: shas[2], Base: shas[0]})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range rep.Comparisons {
		if c.Benchmark == "build" && c.Metric == "status" {
			found = true
			if c.Verdict != compare.Failed || !strings.Contains(c.Note, "Fetcher failure") {
				t.Errorf("broken build: %+v", c)
			}
		}
	}
	if !found {
		t.Errorf("no build status comparison for a build that failed: %+v", rep.Comparisons)
	}

	// A repository without a component is refused with a fix.
	bad := strings.Replace(string(mustRead(t, cfgPath)), ", component: gcc", "", 1)
	os.WriteFile(cfgPath, []byte(bad), 0o644)
	cfg2, _ := config.Load(cfgPath)
	if _, err := measure.New(ctx, cfg2, nil, nil); err == nil || !strings.Contains(err.Error(), "component: missing") {
		t.Errorf("no component: err = %v", err)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
