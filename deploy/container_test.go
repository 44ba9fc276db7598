package deploy

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const containerfile = "deploy/container/Containerfile"

// instruction is one Containerfile instruction, continuation lines joined.
type instruction struct {
	line  int
	cmd   string            // upper case: FROM, RUN, COPY, ...
	flags map[string]string // --from=build, --interval=30s, ...
	args  string            // the rest, flags removed
}

// execForm returns the JSON array of an exec-form instruction.
func (in instruction) execForm() ([]string, error) {
	var v []string
	if err := json.Unmarshal([]byte(in.args), &v); err != nil {
		return nil, fmt.Errorf("%s:%d: %s is not in exec form (a JSON array): %v", containerfile, in.line, in.cmd, err)
	}
	return v, nil
}

type stage struct {
	name, from string // from with ARG defaults substituted
	line       int
	instrs     []instruction
}

var knownInstructions = map[string]bool{
	"FROM": true, "RUN": true, "CMD": true, "LABEL": true, "EXPOSE": true, "ENV": true, "ADD": true,
	"COPY": true, "ENTRYPOINT": true, "VOLUME": true, "USER": true, "WORKDIR": true, "ARG": true,
	"ONBUILD": true, "STOPSIGNAL": true, "HEALTHCHECK": true, "SHELL": true,
}

var argRefRE = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// parseContainerfile parses the Dockerfile syntax the Containerfile uses:
// comments, backslash continuations, instructions with --flags, global
// ARGs substituted into FROM, and stages.
func parseContainerfile(data []byte) ([]stage, error) {
	var instrs []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if body, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), "\\"); ok {
			cur.WriteString(body)
			cur.WriteString(" ")
			continue
		}
		cur.WriteString(line)
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			continue
		}
		word, rest, _ := strings.Cut(text, " ")
		in := instruction{line: start, cmd: strings.ToUpper(word), flags: map[string]string{}}
		if !knownInstructions[in.cmd] {
			return nil, fmt.Errorf("%s:%d: unknown instruction %s", containerfile, start, word)
		}
		rest = strings.TrimSpace(rest)
		for strings.HasPrefix(rest, "--") {
			f, r, _ := strings.Cut(rest, " ")
			k, v, _ := strings.Cut(strings.TrimPrefix(f, "--"), "=")
			in.flags[k] = v
			rest = strings.TrimSpace(r)
		}
		in.args = rest
		instrs = append(instrs, in)
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("%s:%d: the file ends inside a continued instruction", containerfile, start)
	}
	global := map[string]string{}
	var stages []stage
	for _, in := range instrs {
		switch {
		case in.cmd == "ARG" && len(stages) == 0:
			k, v, _ := strings.Cut(in.args, "=")
			global[k] = v
		case in.cmd == "FROM":
			f := strings.Fields(in.args)
			st := stage{line: in.line, from: argRefRE.ReplaceAllStringFunc(f[0], func(ref string) string {
				return global[argRefRE.FindStringSubmatch(ref)[1]]
			})}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			} else if len(f) != 1 {
				return nil, fmt.Errorf("%s:%d: FROM %s: want IMAGE [AS NAME]", containerfile, in.line, in.args)
			}
			stages = append(stages, st)
		case len(stages) == 0:
			return nil, fmt.Errorf("%s:%d: %s before the first FROM", containerfile, in.line, in.cmd)
		default:
			stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
		}
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("%s: no FROM", containerfile)
	}
	return stages, nil
}

func loadContainerfile(t *testing.T) []stage {
	t.Helper()
	stages, err := parseContainerfile(readRepoFile(t, containerfile))
	if err != nil {
		t.Fatal(err)
	}
	return stages
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.instrs {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

func (s stage) last(cmd string) (instruction, bool) {
	all := s.all(cmd)
	if len(all) == 0 {
		return instruction{}, false
	}
	return all[len(all)-1], true
}

// runsMatching returns the shell commands (split on && and ;) of a
// stage's RUN instructions that match re.
func (s stage) runsMatching(re *regexp.Regexp) []string {
	var out []string
	for _, in := range s.all("RUN") {
		for _, part := range regexp.MustCompile(`&&|;`).Split(in.args, -1) {
			if part = strings.Join(strings.Fields(part), " "); re.MatchString(part) {
				out = append(out, part)
			}
		}
	}
	return out
}

// copyInstr is a COPY instruction: from a stage (from != "") or from the
// build context.
type copyInstr struct {
	from, dst string
	srcs      []string
	line      int
}

func (s stage) copies() []copyInstr {
	var out []copyInstr
	for _, in := range s.all("COPY") {
		f := strings.Fields(in.args)
		if len(f) < 2 {
			continue
		}
		out = append(out, copyInstr{from: in.flags["from"], dst: f[len(f)-1], srcs: f[:len(f)-1], line: in.line})
	}
	return out
}

var (
	goBuildRE = regexp.MustCompile(`\bgo build\b`)
	pluginRE  = regexp.MustCompile(`\bcc\b.*insncount\.c`)
)

// containerfileUID is the numeric user the image runs as.
func containerfileUID(t *testing.T) int64 {
	t.Helper()
	stages := loadContainerfile(t)
	u, ok := stages[len(stages)-1].last("USER")
	if !ok {
		t.Fatalf("%s: the runtime stage sets no USER", containerfile)
	}
	name, _, _ := strings.Cut(u.args, ":")
	uid, err := strconv.ParseInt(name, 10, 64)
	if err != nil {
		t.Fatalf("%s:%d: USER %s: use a numeric uid, so Kubernetes can check runAsNonRoot", containerfile, u.line, u.args)
	}
	return uid
}

// containerfilePlugin is where the image installs the QEMU plugin.
func containerfilePlugin(t *testing.T) string {
	t.Helper()
	stages := loadContainerfile(t)
	for _, c := range stages[len(stages)-1].copies() {
		for _, s := range c.srcs {
			if strings.HasSuffix(s, "insncount.so") {
				return c.dst
			}
		}
	}
	t.Fatalf("%s: the runtime stage copies no insncount.so", containerfile)
	return ""
}

// goVersion is go.mod's language version, major.minor.
func goVersion(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(readRepoFile(t, "go.mod"))
	if m == nil {
		t.Fatal("go.mod: no go directive")
	}
	return string(m[1])
}

// TestContainerfileStages: a Go stage on go.mod's Go version builds a
// static tcbot, a stage builds the plugin, and the runtime stage on
// debian:bookworm-slim copies both from earlier stages, installs what
// tcbot runs, and runs tcbot as a non-root user under an init that
// forwards SIGTERM, with a health check on a path tcbot serves.
func TestContainerfileStages(t *testing.T) {
	stages := loadContainerfile(t)
	names := map[string]int{}
	for i, s := range stages {
		if s.name != "" {
			names[s.name] = i
		}
	}
	var goStage, pluginStage = -1, -1
	for i, s := range stages {
		if len(s.runsMatching(goBuildRE)) > 0 {
			goStage = i
		}
		if len(s.runsMatching(pluginRE)) > 0 {
			pluginStage = i
		}
	}
	if goStage < 0 || pluginStage < 0 {
		t.Fatalf("%s: want a stage that runs go build (found: %v) and one that compiles insncount.c (found: %v)", containerfile, goStage >= 0, pluginStage >= 0)
	}
	if want := "golang:" + goVersion(t); !strings.HasPrefix(stages[goStage].from, want) {
		t.Errorf("%s:%d: the Go stage is FROM %s; go.mod wants Go %s (%s...)", containerfile, stages[goStage].line, stages[goStage].from, goVersion(t), want)
	}
	for _, cmd := range stages[goStage].runsMatching(goBuildRE) {
		if !strings.Contains(cmd, "CGO_ENABLED=0") {
			t.Errorf("%s: %q: build with CGO_ENABLED=0 for a static binary", containerfile, cmd)
		}
	}
	rt := stages[len(stages)-1]
	if rt.from != "debian:bookworm-slim" {
		t.Errorf("%s:%d: the runtime stage is FROM %s, want debian:bookworm-slim", containerfile, rt.line, rt.from)
	}
	if goStage == len(stages)-1 {
		t.Errorf("%s: the runtime stage must not be the Go build stage", containerfile)
	}
	if pluginStage != len(stages)-1 && stages[pluginStage].from != rt.from {
		t.Errorf("%s: the plugin is built FROM %s but runs on %s: build it against the runtime's glibc", containerfile, stages[pluginStage].from, rt.from)
	}

	// COPY --from names earlier stages; the runtime gets tcbot and the plugin.
	gotBin, gotPlugin := false, false
	for i, s := range stages {
		for _, c := range s.copies() {
			if c.from == "" {
				continue
			}
			j, ok := names[c.from]
			if !ok {
				if n, err := strconv.Atoi(c.from); err == nil {
					j, ok = n, true
				}
			}
			if !ok || j >= i {
				t.Errorf("%s:%d: COPY --from=%s does not name an earlier stage", containerfile, c.line, c.from)
				continue
			}
			if i == len(stages)-1 && j == goStage && c.dst == "/usr/local/bin/tcbot" {
				gotBin = true
			}
			if i == len(stages)-1 && j == pluginStage {
				gotPlugin = true
			}
		}
	}
	if !gotBin {
		t.Errorf("%s: the runtime stage does not copy tcbot from the Go stage to /usr/local/bin/tcbot", containerfile)
	}
	if !gotPlugin {
		t.Errorf("%s: the runtime stage does not copy the plugin from its build stage", containerfile)
	}

	// What tcbot runs: the packages make deps installs on a host, less the
	// build tools (the image builds nothing natively).
	installed := aptPackages(rt)
	for _, p := range hostPackages(t) {
		if !slices.Contains(installed, p) {
			t.Errorf("%s: the runtime stage does not install %s (deploy/install-deps.sh installs it on hosts)", containerfile, p)
		}
	}

	// Non-root.
	if uid := containerfileUID(t); uid == 0 {
		t.Errorf("%s: USER is root", containerfile)
	}

	// Entrypoint: an init that reaps the compilers' orphans and forwards
	// SIGTERM, then tcbot; CMD a real tcbot command line.
	ep, ok := rt.last("ENTRYPOINT")
	if !ok {
		t.Fatalf("%s: no ENTRYPOINT", containerfile)
	}
	epArgs, err := ep.execForm()
	if err != nil {
		t.Fatal(err)
	}
	if len(epArgs) == 0 || epArgs[len(epArgs)-1] != "/usr/local/bin/tcbot" {
		t.Errorf("%s:%d: ENTRYPOINT %q must end in /usr/local/bin/tcbot", containerfile, ep.line, epArgs)
	}
	if len(epArgs) < 2 || !strings.Contains(epArgs[0], "tini") {
		t.Errorf("%s:%d: ENTRYPOINT %q: run tcbot under tini (PID 1 must reap orphans and forward SIGTERM)", containerfile, ep.line, epArgs)
	}
	if !slices.Contains(aptPackages(rt), "tini") {
		t.Errorf("%s: ENTRYPOINT uses tini but the runtime stage does not install it", containerfile)
	}
	cmd, ok := rt.last("CMD")
	if !ok {
		t.Fatalf("%s: no CMD", containerfile)
	}
	cmdArgs, err := cmd.execForm()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checkArgs(tcbotBinary(t), cmdArgs); err != nil {
		t.Errorf("%s:%d: CMD %q: %v", containerfile, cmd.line, cmdArgs, err)
	}
	if ss, ok := rt.last("STOPSIGNAL"); !ok || ss.args != "SIGTERM" {
		t.Errorf("%s: STOPSIGNAL SIGTERM (tcbot drains on SIGTERM)", containerfile)
	}

	// Health check on a path tcbot serves.
	hc, ok := rt.last("HEALTHCHECK")
	if !ok {
		t.Fatalf("%s: no HEALTHCHECK", containerfile)
	}
	env := map[string]string{}
	for _, e := range rt.all("ENV") {
		k, v, _ := strings.Cut(e.args, "=")
		env[k] = strings.Trim(v, `"`)
	}
	probe := argRefRE.ReplaceAllStringFunc(hc.args, func(ref string) string { return env[argRefRE.FindStringSubmatch(ref)[1]] })
	found := false
	for _, p := range probePaths {
		if strings.Contains(probe, p) {
			found = true
		}
	}
	if !found {
		t.Errorf("%s:%d: HEALTHCHECK %s requests none of tcbot's probe paths %v", containerfile, hc.line, probe, probePaths)
	}
	if !strings.HasPrefix(hc.args, "CMD ") {
		t.Errorf("%s:%d: HEALTHCHECK: want CMD ...", containerfile, hc.line)
	}
	if fields := strings.Fields(strings.TrimPrefix(hc.args, "CMD ")); len(fields) == 0 || !slices.Contains(aptPackages(rt), fields[0]) {
		t.Errorf("%s:%d: HEALTHCHECK runs %q, which the runtime stage does not install", containerfile, hc.line, fields)
	}
}

// aptPackages lists what a stage's apt-get install lines install.
func aptPackages(s stage) []string {
	var out []string
	for _, cmd := range s.runsMatching(regexp.MustCompile(`apt-get install`)) {
		_, rest, _ := strings.Cut(cmd, "apt-get install")
		for _, w := range strings.Fields(rest) {
			if !strings.HasPrefix(w, "-") {
				out = append(out, w)
			}
		}
	}
	return out
}

// hostPackages are the Debian packages deploy/install-deps.sh installs for
// tcbot to run, less the native build tools.
func hostPackages(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, m := range regexp.MustCompile(`need="\$need ([^"]+)"`).FindAllStringSubmatch(string(readRepoFile(t, "deploy/install-deps.sh")), -1) {
		for _, p := range strings.Fields(m[1]) {
			switch {
			case strings.HasPrefix(p, "$"), p == "gcc", p == "libc6-dev", p == "make":
				continue
			}
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("deploy/install-deps.sh: found no packages")
	}
	return out
}

// TestContainerfileRuntimePackagesExist asks this Debian 12 machine's apt
// whether every package the image installs exists in bookworm.
func TestContainerfileRuntimePackagesExist(t *testing.T) {
	osr, _ := os.ReadFile("/etc/os-release")
	if !regexp.MustCompile(`(?m)^VERSION_CODENAME=bookworm$`).Match(osr) {
		t.Skip("not Debian 12 (bookworm): apt here does not describe the image's package set")
	}
	if _, err := exec.LookPath("apt-cache"); err != nil {
		t.Skip("no apt-cache")
	}
	for i, s := range loadContainerfile(t) {
		if !strings.HasPrefix(s.from, "debian:bookworm") {
			continue
		}
		pkgs := aptPackages(s)
		// One apt-cache call: it prints the packages it knows.
		out, _ := exec.Command("apt-cache", append([]string{"show", "--no-all-versions"}, pkgs...)...).CombinedOutput()
		known := map[string]bool{}
		for _, m := range regexp.MustCompile(`(?m)^Package: (\S+)$`).FindAllSubmatch(out, -1) {
			known[string(m[1])] = true
		}
		for _, p := range pkgs {
			if !known[p] {
				t.Errorf("%s: stage %d (%s) installs %s, which apt on Debian 12 does not know", containerfile, i, s.name, p)
			}
		}
	}
}

// TestContainerfileCopySources: every file the build stages COPY from the
// context exists, passes the ignore file, and together they hold every
// package and embedded file cmd/tcbot is built from.
func TestContainerfileCopySources(t *testing.T) {
	stages := loadContainerfile(t)
	ignore := readRepoFile(t, "deploy/container/Containerfile.dockerignore")
	var allowed []string
	for _, line := range strings.Split(string(ignore), "\n") {
		line = strings.TrimSpace(line)
		if p, ok := strings.CutPrefix(line, "!"); ok {
			allowed = append(allowed, strings.TrimSuffix(p, "/"))
		} else if line != "" && !strings.HasPrefix(line, "#") && line != "*" {
			t.Errorf("Containerfile.dockerignore: %q: keep it an allow-list (* then !path lines)", line)
		}
	}
	var goSources []string
	for _, s := range stages {
		builds := len(s.runsMatching(goBuildRE)) > 0
		for _, c := range s.copies() {
			if c.from != "" {
				continue
			}
			for _, src := range c.srcs {
				clean := strings.TrimSuffix(filepath.ToSlash(filepath.Clean(src)), "/")
				if _, err := os.Stat(repoPath(clean)); err != nil {
					t.Errorf("%s:%d: COPY %s: not in the repository", containerfile, c.line, src)
				}
				ok := false
				for _, a := range allowed {
					if clean == a || strings.HasPrefix(clean, a+"/") {
						ok = true
					}
				}
				if !ok {
					t.Errorf("%s:%d: COPY %s: Containerfile.dockerignore leaves it out of the build context", containerfile, c.line, src)
				}
				if builds {
					goSources = append(goSources, clean)
				}
			}
		}
	}
	for _, need := range []string{"go.mod", "go.sum"} {
		if !slices.Contains(goSources, need) {
			t.Errorf("%s: the Go stage does not copy %s", containerfile, need)
		}
	}
	// What the build needs: the module's packages of cmd/tcbot and their
	// embedded files, as go list sees them for a cgo-free linux build.
	cmd := exec.Command("go", "list", "-deps", "-f", `{{if .Module}}{{if .Module.Main}}{{.Dir}}{{range .EmbedFiles}} {{$.Dir}}/{{.}}{{end}}{{end}}{{end}}`, "./cmd/tcbot")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, p)
		if err != nil {
			t.Fatal(err)
		}
		rel = filepath.ToSlash(rel)
		covered := false
		for _, s := range goSources {
			if rel == s || strings.HasPrefix(rel, s+"/") {
				covered = true
			}
		}
		if !covered {
			t.Errorf("%s: the Go stage does not copy %s, which go build ./cmd/tcbot needs", containerfile, rel)
		}
	}
}

// TestStaticBuildNeedsNoCgo: the image's CGO_ENABLED=0 build is the same
// program as a host build: no package outside the standard library uses
// cgo, and every package builds without it.
func TestStaticBuildNeedsNoCgo(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-e", "-f", `{{.ImportPath}} {{.Standard}} {{len .CgoFiles}} {{if .Error}}{{.Error}}{{end}}`, "./cmd/tcbot")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOOS=linux")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.SplitN(line, " ", 4)
		if len(f) < 3 {
			continue
		}
		if f[1] == "false" && f[2] != "0" {
			t.Errorf("%s uses cgo: the container's CGO_ENABLED=0 build would leave it out or fail", f[0])
		}
	}
	cmd = exec.Command("go", "list", "-deps", "-e", "-f", `{{if .Error}}{{.ImportPath}}: {{.Error}}{{end}}`, "./cmd/tcbot")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("with CGO_ENABLED=0:\n%s", s)
	}
}

// makeRecipe returns the first command line of a Makefile rule.
func makeRecipe(t *testing.T, target string) string {
	t.Helper()
	lines := strings.Split(string(readRepoFile(t, "Makefile")), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, target+":") {
			for _, r := range lines[i+1:] {
				if !strings.HasPrefix(r, "\t") {
					break
				}
				r = strings.TrimSpace(r)
				if strings.HasPrefix(r, "@") {
					continue
				}
				return r
			}
		}
	}
	t.Fatalf("Makefile: no rule %s with a command", target)
	return ""
}

// normalizeBuild turns a build command into comparable words: variable
// assignments in front and the -o output dropped, make's variables
// replaced by the commands they default to.
func normalizeBuild(cmd string) []string {
	var out []string
	words := strings.Fields(cmd)
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case len(out) == 0 && regexp.MustCompile(`^[A-Z_]+=`).MatchString(w):
			continue
		case w == "-o":
			i++
			continue
		case w == "$(GO)":
			w = "go"
		case w == "$(CC)":
			w = "cc"
		}
		out = append(out, w)
	}
	return out
}

// TestContainerfileBuildsLikeMakefile: the image builds tcbot and the
// plugin with the Makefile's commands, and the plugin command really
// produces a QEMU plugin here.
func TestContainerfileBuildsLikeMakefile(t *testing.T) {
	stages := loadContainerfile(t)
	var goCmds, ccCmds []string
	for _, s := range stages {
		goCmds = append(goCmds, s.runsMatching(goBuildRE)...)
		ccCmds = append(ccCmds, s.runsMatching(pluginRE)...)
	}
	for _, tc := range []struct {
		name, makeTarget string
		cmds             []string
	}{
		{"tcbot", "$(BIN)", goCmds},
		{"plugin", "$(PLUGIN)", ccCmds},
	} {
		want := normalizeBuild(makeRecipe(t, tc.makeTarget))
		if len(tc.cmds) != 1 {
			t.Errorf("%s: %d commands build the %s, want 1", containerfile, len(tc.cmds), tc.name)
			continue
		}
		if got := normalizeBuild(tc.cmds[0]); !slices.Equal(got, want) {
			t.Errorf("%s builds the %s with\n  %q\nbut the Makefile with\n  %q", containerfile, tc.name, got, want)
		}
	}
	if len(ccCmds) != 1 {
		return
	}
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no cc to run the plugin build")
	}
	// Run the image's plugin command on a copy of what its stage copies.
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "benchmarks", "plugin"), os.DirFS(repoPath("benchmarks/plugin"))); err != nil {
		t.Fatal(err)
	}
	words := strings.Fields(ccCmds[0])
	var so string
	for i, w := range words {
		if w == "-o" && i+1 < len(words) {
			so = filepath.Join(dir, "out", filepath.Base(words[i+1]))
			words[i+1] = so
		}
	}
	if err := os.MkdirAll(filepath.Dir(so), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cc := exec.CommandContext(ctx, words[0], words[1:]...)
	cc.Dir = dir
	if out, err := cc.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(words, " "), err, out)
	}
	f, err := elf.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Type != elf.ET_DYN {
		t.Errorf("%s is %v, want a shared object", so, f.Type)
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, s := range syms {
		if s.Section != elf.SHN_UNDEF {
			exported[s.Name] = true
		}
	}
	for _, want := range []string{"qemu_plugin_install", "qemu_plugin_version"} {
		if !exported[want] {
			t.Errorf("the plugin does not export %s, which QEMU looks up", want)
		}
	}
}
