package layercheck_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The meta-tcbot layer's scripts run on a build host or in the image, so
// no build can run them here; these tests run the very same files on this
// machine instead, with the host compiler and stand-ins for MariaDB.

const (
	benchRecipeDir = "recipes/oe/meta-tcbot/recipes-benchmarks/tcbot-bench"
	lampFilesDir   = "recipes/oe/meta-tcbot/recipes-lamp/tcbot-lamp/files"
	scriptTimeout  = 2 * time.Minute
)

type manifest struct {
	Benchmarks []struct {
		Name     string   `yaml:"name"`
		Sources  []string `yaml:"sources"`
		Args     []string `yaml:"args"`
		Checksum string   `yaml:"checksum"`
		LDFlags  []string `yaml:"ldflags"`
	} `yaml:"benchmarks"`
}

func loadManifest(t *testing.T, root string) manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "benchmarks", "suite.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Benchmarks) == 0 {
		t.Fatal("benchmarks/suite.yaml lists no benchmark")
	}
	return m
}

type cmdResult struct {
	stdout, stderr string
	code           int
}

func runCmd(t *testing.T, dir string, env []string, stdin string, argv ...string) cmdResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.WaitDelay = time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", argv, err)
	}
	return cmdResult{stdout.String(), stderr.String(), code}
}

func need(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Fatalf("%s not found: run make deps", tool)
	}
	return p
}

// TestBenchRecipeCoversSuite: tcbot-bench's SRC_URI lists every file the
// manifest builds from, so a new benchmark cannot be left out of the image.
func TestBenchRecipeCoversSuite(t *testing.T) {
	root := repoRoot(t)
	recipe, err := os.ReadFile(filepath.Join(root, benchRecipeDir, "tcbot-bench.bb"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile(`file://([^\s;"\\]+)`).FindAllStringSubmatch(string(recipe), -1) {
		listed[m[1]] = true
	}
	want := []string{"suite.yaml", "bench.h"}
	for _, b := range loadManifest(t, root).Benchmarks {
		want = append(want, b.Sources...)
	}
	for _, f := range want {
		if !listed[f] {
			t.Errorf("%s/tcbot-bench.bb: SRC_URI lacks file://%s (a source of benchmarks/suite.yaml)", benchRecipeDir, f)
		}
	}
}

// TestSuiteList: suite2list.py reads the manifest as Go's YAML parser does.
func TestSuiteList(t *testing.T) {
	root := repoRoot(t)
	py := need(t, "python3")
	script := filepath.Join(root, benchRecipeDir, "files", "suite2list.py")
	res := runCmd(t, root, nil, "", py, script, filepath.Join(root, "benchmarks", "suite.yaml"))
	if res.code != 0 {
		t.Fatalf("suite2list.py: exit %d: %s", res.code, res.stderr)
	}
	var want []string
	for _, b := range loadManifest(t, root).Benchmarks {
		want = append(want, strings.Join([]string{b.Name, b.Checksum, strings.Join(b.Sources, " "), strings.Join(b.Args, " "), strings.Join(b.LDFlags, " ")}, "|"))
	}
	if got := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("suite2list.py output:\n%s\nwant:\n%s", res.stdout, strings.Join(want, "\n"))
	}

	bad := []struct{ name, text, want string }{
		{"argument with a blank", "benchmarks:\n  - name: a\n    sources: [a.c]\n    args: [\"1 2\"]\n    checksum: \"0123456789abcdef\"\n", "cannot be passed through a shell"},
		{"short checksum", "benchmarks:\n  - name: a\n    sources: [a.c]\n    args: [\"1\"]\n    checksum: \"0123\"\n", "16 lowercase hex digits"},
		{"no sources", "benchmarks:\n  - name: a\n    args: [\"1\"]\n    checksum: \"0123456789abcdef\"\n", "without sources"},
		{"block list", "benchmarks:\n  - name: a\n    sources:\n      - a.c\n", "suite.yaml:4"},
		{"duplicate", "benchmarks:\n  - name: a\n    sources: [a.c]\n    args: []\n    checksum: \"0123456789abcdef\"\n  - name: a\n    sources: [a.c]\n    args: []\n    checksum: \"0123456789abcdef\"\n", "a given twice"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, map[string]string{"suite.yaml": tc.text})
			res := runCmd(t, dir, nil, "", py, script, "suite.yaml")
			if res.code != 1 || res.stdout != "" || !strings.Contains(res.stderr, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q", res.code, res.stdout, res.stderr, tc.want)
			}
		})
	}
}

// TestBenchScripts builds the suite with tcbot-bench-build.sh and the host
// gcc, as do_compile does with the cross compiler, and runs it with
// tcbot-bench-run as the image would.
func TestBenchScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every benchmark; skipped in -short mode")
	}
	root := repoRoot(t)
	py, sh, gcc := need(t, "python3"), need(t, "sh"), need(t, "gcc")
	files := filepath.Join(root, benchRecipeDir, "files")
	work := t.TempDir()
	list := filepath.Join(work, "suite.list")
	res := runCmd(t, root, nil, "", py, filepath.Join(files, "suite2list.py"), filepath.Join(root, "benchmarks", "suite.yaml"))
	if res.code != 0 {
		t.Fatalf("suite2list.py: %s", res.stderr)
	}
	if err := os.WriteFile(list, []byte(res.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(work, "bin")
	res = runCmd(t, root, []string{"CC=" + gcc, "CFLAGS=-O2 -pipe", "LDFLAGS=-Wl,-O1 -Wl,--as-needed"}, "",
		sh, filepath.Join(files, "tcbot-bench-build.sh"), list, filepath.Join(root, "benchmarks"), bin)
	if res.code != 0 {
		t.Fatalf("tcbot-bench-build.sh: exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
	m := loadManifest(t, root)
	env := []string{"TCBOT_BENCH_DIR=" + bin, "TCBOT_BENCH_SUITE=" + list}
	run := filepath.Join(files, "tcbot-bench-run")

	res = runCmd(t, work, env, "", sh, run)
	if res.code != 0 {
		t.Fatalf("tcbot-bench-run: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	var want []string
	for _, b := range m.Benchmarks {
		want = append(want, "PASS "+b.Name)
	}
	if got := strings.TrimSuffix(res.stdout, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("tcbot-bench-run printed:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}

	first := m.Benchmarks[0]
	res = runCmd(t, work, env, "", sh, run, "-l", first.Name)
	if res.code != 0 || res.stdout != first.Name+" "+strings.Join(first.Args, " ")+"\n" {
		t.Errorf("-l %s: exit %d, %q", first.Name, res.code, res.stdout)
	}
	res = runCmd(t, work, env, "", sh, run, "no-such-benchmark")
	if res.code != 2 || !strings.Contains(res.stderr, "no benchmark named no-such-benchmark") {
		t.Errorf("unknown benchmark: exit %d, stderr %q; want 2 and a message", res.code, res.stderr)
	}

	// A wrong checksum (a miscompiled benchmark) fails that benchmark only.
	data, _ := os.ReadFile(list)
	broken := strings.Replace(string(data), "|"+first.Checksum+"|", "|0000000000000000|", 1)
	if err := os.WriteFile(list, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	res = runCmd(t, work, env, "", sh, run, first.Name, m.Benchmarks[1].Name)
	wantOut := "FAIL " + first.Name + ": last line \"checksum: " + first.Checksum + "\", want \"checksum: 0000000000000000\"\nPASS " + m.Benchmarks[1].Name + "\n"
	if res.code != 1 || res.stdout != wantOut {
		t.Errorf("wrong checksum: exit %d, stdout:\n%s\nwant exit 1 and:\n%s", res.code, res.stdout, wantOut)
	}
}

// lampEnv prepares tcbot-lamp to run on this machine: the script with its
// install-time paths under a temporary root, tcbot-loadgen built from
// benchmarks/loadgen, and mysql/mysqladmin stand-ins that log their calls.
func lampEnv(t *testing.T, url string, extra string) (script, state, calls string, env []string) {
	t.Helper()
	root := repoRoot(t)
	gcc := need(t, "gcc")
	need(t, "sh")
	tmp := t.TempDir()
	paths := map[string]string{
		"@BINDIR@": tmp + "/usr/bin", "@SBINDIR@": tmp + "/usr/sbin", "@DATADIR@": tmp + "/usr/share",
		"@SYSCONFDIR@": tmp + "/etc", "@LOCALSTATEDIR@": tmp + "/var",
	}
	src, err := os.ReadFile(filepath.Join(root, lampFilesDir, "tcbot-lamp"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		text = strings.ReplaceAll(text, k, paths[k])
	}
	if strings.Contains(text, "@") && regexp.MustCompile(`@[A-Z]+@`).MatchString(text) {
		t.Fatalf("tcbot-lamp has a placeholder the recipe does not replace: %s", regexp.MustCompile(`@[A-Z]+@`).FindString(text))
	}
	sql, err := os.ReadFile(filepath.Join(root, lampFilesDir, "tcbot-lamp.sql"))
	if err != nil {
		t.Fatal(err)
	}
	fakeMysql := `#!/bin/sh
# Stand-in for MariaDB's client: logs the call, reads the SQL, answers the count.
echo "mysql $*" >> "` + tmp + `/calls"
case "$*" in
*--execute=*) echo 200 ;;
*) cat > "` + tmp + `/sql-received" ;;
esac
`
	fakeAdmin := "#!/bin/sh\necho \"mysqladmin $*\" >> \"" + tmp + "/calls\"\n"
	writeTree(t, tmp, map[string]string{
		"usr/sbin/tcbot-lamp":                 text,
		"usr/share/tcbot-lamp/tcbot-lamp.sql": string(sql),
		"fake/mysql":                          fakeMysql,
		"fake/mysqladmin":                     fakeAdmin,
		"etc/default/tcbot-lamp": "TCBOT_LAMP_URL=\"" + url + "\"\nTCBOT_LAMP_SECONDS=1\nTCBOT_LAMP_WARMUP=0.2\n" +
			"TCBOT_LAMP_CONNECTIONS=2\n" + extra,
	})
	for _, f := range []string{"fake/mysql", "fake/mysqladmin"} {
		if err := os.Chmod(filepath.Join(tmp, f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"var/log", "usr/bin"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(gcc, "-std=c11", "-O2", "-o", filepath.Join(tmp, "usr/bin/tcbot-loadgen"), filepath.Join(root, "benchmarks", "loadgen", "loadgen.c"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build loadgen: %v\n%s", err, out)
	}
	env = []string{"PATH=" + filepath.Join(tmp, "fake") + string(os.PathListSeparator) + os.Getenv("PATH")}
	return filepath.Join(tmp, "usr/sbin/tcbot-lamp"), filepath.Join(tmp, "var/lib/tcbot"), filepath.Join(tmp, "calls"), env
}

func TestLampScript(t *testing.T) {
	sh := need(t, "sh")
	t.Run("measures the page", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<tr><td>200</td><td>item-0200</td></tr>\n")
		}))
		defer srv.Close()
		script, state, callLog, env := lampEnv(t, srv.URL+"/tcbot/index.php", "")
		res := runCmd(t, t.TempDir(), env, "", sh, script, "run")
		if res.code != 0 {
			t.Fatalf("tcbot-lamp run: exit %d\n%s%s", res.code, res.stdout, res.stderr)
		}
		data, err := os.ReadFile(filepath.Join(state, "tcbot-lamp.txt"))
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			k, _, _ := strings.Cut(l, ":")
			keys = append(keys, k)
		}
		if strings.Join(keys, " ") != "requests errors seconds requests-per-second latency-p50-ms latency-p99-ms" || !strings.Contains(string(data), "\nerrors: 0\n") {
			t.Errorf("tcbot-lamp.txt:\n%s", data)
		}
		if _, err := os.Stat(filepath.Join(state, "tcbot-lamp.failed")); err == nil {
			t.Error("tcbot-lamp.failed exists after a good run")
		}
		if !strings.Contains(res.stdout, "tcbot-lamp: requests-per-second: ") {
			t.Errorf("the result is not echoed for the console:\n%s", res.stdout)
		}
		calls, _ := os.ReadFile(callLog)
		if !strings.Contains(string(calls), "mysqladmin --no-defaults") || !strings.Contains(string(calls), "mysql --user=root") {
			t.Errorf("MariaDB was not waited for and set up; calls:\n%s", calls)
		}
		res = runCmd(t, t.TempDir(), env, "", sh, script, "status")
		if res.code != 0 || res.stdout != string(data) {
			t.Errorf("status: exit %d, %q", res.code, res.stdout)
		}
	})
	t.Run("page without the row fails with a reason", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "<p>database error</p>\n")
		}))
		defer srv.Close()
		script, state, _, env := lampEnv(t, srv.URL+"/tcbot/index.php", "TCBOT_LAMP_WAIT=1\n")
		res := runCmd(t, t.TempDir(), env, "", sh, script, "run")
		if res.code != 1 {
			t.Fatalf("exit %d, want 1\n%s%s", res.code, res.stdout, res.stderr)
		}
		why, err := os.ReadFile(filepath.Join(state, "tcbot-lamp.failed"))
		if err != nil || !strings.Contains(string(why), `did not answer with "item-0200"`) {
			t.Errorf("tcbot-lamp.failed: %q, %v", why, err)
		}
		if _, err := os.Stat(filepath.Join(state, "tcbot-lamp.txt")); err == nil {
			t.Error("a result was written for a failed run")
		}
		res = runCmd(t, t.TempDir(), env, "", sh, script, "status")
		if res.code != 1 || !strings.HasPrefix(res.stdout, "failed: ") {
			t.Errorf("status after a failure: exit %d, %q", res.code, res.stdout)
		}
	})
	t.Run("not at boot when switched off", func(t *testing.T) {
		script, state, _, env := lampEnv(t, "http://127.0.0.1:1/", "TCBOT_LAMP_AT_BOOT=0\n")
		res := runCmd(t, t.TempDir(), env, "", sh, script, "boot")
		if res.code != 0 || !strings.Contains(res.stdout, "not run at boot") {
			t.Errorf("boot with TCBOT_LAMP_AT_BOOT=0: exit %d, %q", res.code, res.stdout)
		}
		if _, err := os.Stat(state); err == nil {
			t.Error("state written although the benchmark was off")
		}
	})
}

// TestPlaceholders: every @NAME@ in a file a recipe installs with sed is
// one that recipe's sed replaces.
func TestPlaceholders(t *testing.T) {
	root := repoRoot(t)
	placeholder := regexp.MustCompile(`@[A-Z]+@`)
	sedExpr := regexp.MustCompile(`-e 's,(@[A-Z]+@),`)
	tests := []struct {
		recipe string
		files  []string
	}{
		{"recipes/oe/meta-tcbot/recipes-lamp/tcbot-lamp/tcbot-lamp.bb", []string{lampFilesDir + "/tcbot-lamp", lampFilesDir + "/tcbot-lamp.init", lampFilesDir + "/tcbot-lamp.service"}},
		{benchRecipeDir + "/tcbot-bench.bb", []string{benchRecipeDir + "/files/tcbot-bench-run"}},
	}
	for _, tc := range tests {
		recipe, err := os.ReadFile(filepath.Join(root, tc.recipe))
		if err != nil {
			t.Fatal(err)
		}
		replaced := map[string]bool{}
		for _, m := range sedExpr.FindAllStringSubmatch(string(recipe), -1) {
			replaced[m[1]] = true
		}
		for _, f := range tc.files {
			data, err := os.ReadFile(filepath.Join(root, f))
			if err != nil {
				t.Fatal(err)
			}
			found := placeholder.FindAllString(string(data), -1)
			if len(found) == 0 {
				t.Errorf("%s: no placeholder at all (the test is stale?)", f)
			}
			for _, p := range found {
				if !replaced[p] {
					t.Errorf("%s uses %s, which %s does not replace", f, p, tc.recipe)
				}
			}
		}
	}
}

// TestScriptSyntax: the layer's shell scripts parse with sh -n, its Python
// (the manifest converter, the testimage case) compiles.
func TestScriptSyntax(t *testing.T) {
	root := repoRoot(t)
	sh, py := need(t, "sh"), need(t, "python3")
	for _, f := range []string{
		lampFilesDir + "/tcbot-lamp", lampFilesDir + "/tcbot-lamp.init",
		benchRecipeDir + "/files/tcbot-bench-run", benchRecipeDir + "/files/tcbot-bench-build.sh",
	} {
		if res := runCmd(t, root, nil, "", sh, "-n", f); res.code != 0 {
			t.Errorf("sh -n %s: %s", f, res.stderr)
		}
	}
	code := "import ast, sys\nfor f in sys.argv[1:]:\n    ast.parse(open(f).read(), f)\n"
	res := runCmd(t, root, nil, "", py, "-c", code,
		benchRecipeDir+"/files/suite2list.py", "recipes/oe/meta-tcbot/lib/oeqa/runtime/cases/tcbot_lamp.py")
	if res.code != 0 {
		t.Errorf("python: %s", res.stderr)
	}
}
