package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const (
	systemdDir  = "deploy/systemd"
	serveUnit   = "tcbot-serve.service"
	workerUnit  = "tcbot-worker@.service"
	unitBinary  = "/usr/local/bin/tcbot"
	unitsConfig = "/etc/tcbot/tcbot.yaml"
)

// unitFile is a parsed systemd unit: section -> key -> values in order.
type unitFile map[string]map[string][]string

func parseUnit(name string, data []byte) (unitFile, error) {
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	var cont strings.Builder
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if cont.Len() == 0 && (line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";")) {
			continue
		}
		if body, ok := strings.CutSuffix(line, "\\"); ok {
			cont.WriteString(body + " ")
			continue
		}
		cont.WriteString(line)
		line = cont.String()
		cont.Reset()
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.Trim(line, "[]")
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || section == "" {
			return nil, fmt.Errorf("%s:%d: %q is not KEY=value in a section", name, n, line)
		}
		k = strings.TrimSpace(k)
		u[section][k] = append(u[section][k], strings.TrimSpace(v))
	}
	return u, nil
}

func (u unitFile) get(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

func loadUnit(t *testing.T, name string) (unitFile, []byte) {
	t.Helper()
	data := readRepoFile(t, systemdDir+"/"+name)
	u, err := parseUnit(name, data)
	if err != nil {
		t.Fatal(err)
	}
	return u, data
}

// installUnits writes copies of the units into dir with ExecStart pointing
// at the tcbot built for the test (systemd-analyze verify checks that the
// binary exists and is executable), plus instances of the template.
func installUnits(t *testing.T, dir string, mutate func(name string, data []byte) []byte) []string {
	t.Helper()
	bin := tcbotBinary(t)
	var files []string
	for _, name := range []string{serveUnit, workerUnit} {
		data := readRepoFile(t, systemdDir+"/"+name)
		if !bytes.Contains(data, []byte(unitBinary+" ")) {
			t.Fatalf("%s/%s: ExecStart does not run %s", systemdDir, name, unitBinary)
		}
		data = bytes.ReplaceAll(data, []byte(unitBinary+" "), []byte(bin+" "))
		if mutate != nil {
			data = mutate(name, data)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, "@.service") {
			for _, inst := range []string{"armv8-board1", "qemu"} {
				ip := filepath.Join(dir, strings.Replace(name, "@.", "@"+inst+".", 1))
				if err := os.Symlink(name, ip); err != nil {
					t.Fatal(err)
				}
				files = append(files, ip)
			}
		}
		files = append(files, p)
	}
	return files
}

func systemdAnalyze(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("systemd-analyze", args...)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_COLOR=0", "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func needSystemdAnalyze(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
	}
}

// TestSystemdUnitsVerify runs `systemd-analyze verify` on the units (the
// template and two instances), with ExecStart pointing at a real tcbot.
// systemd reports unknown keys and bad values as warnings with exit 0, so
// any output at all fails the test.
func TestSystemdUnitsVerify(t *testing.T) {
	needSystemdAnalyze(t)
	files := installUnits(t, t.TempDir(), nil)
	out, err := systemdAnalyze(t, append([]string{"verify", "--man=no"}, files...)...)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify %s: %v\n%s", strings.Join(files, " "), err, out)
	}
}

// TestSystemdVerifyCatchesBrokenUnits: the same check fails on a
// misspelled key, a bad value and a missing binary, so passing it means
// something.
func TestSystemdVerifyCatchesBrokenUnits(t *testing.T) {
	needSystemdAnalyze(t)
	for _, tc := range []struct{ name, old, new string }{
		{"misspelled key", `(?m)^KillMode=`, "KilMode="},
		{"bad value", `(?m)^ProtectSystem=strict$`, "ProtectSystem=strictest"},
		{"bad section", `(?m)^\[Service\]$`, "[Servce]"},
		{"missing binary", `(?m)^ExecStart=\S+ `, "ExecStart=/nonexistent/tcbot-missing "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			installUnits(t, dir, func(name string, data []byte) []byte {
				if name != serveUnit {
					return data
				}
				re := regexp.MustCompile(tc.old)
				if !re.Match(data) {
					t.Fatalf("%s has no %s to break", serveUnit, tc.old)
				}
				return re.ReplaceAll(data, []byte(tc.new))
			})
			out, err := systemdAnalyze(t, "verify", "--man=no", filepath.Join(dir, serveUnit))
			if err == nil && strings.TrimSpace(out) == "" {
				t.Errorf("systemd-analyze verify passed a unit with a %s", tc.name)
			}
		})
	}
}

var exposureRE = regexp.MustCompile(`Overall exposure level for \S+: (\d+\.\d+)`)

// TestSystemdUnitsSecurity: `systemd-analyze security --offline` rates the
// units' sandboxing; keep it at "OK" or better.
func TestSystemdUnitsSecurity(t *testing.T) {
	needSystemdAnalyze(t)
	dir := t.TempDir()
	installUnits(t, dir, nil)
	for _, name := range []string{serveUnit, "tcbot-worker@qemu.service"} {
		out, err := systemdAnalyze(t, "security", "--offline=yes", "--no-pager", filepath.Join(dir, name))
		m := exposureRE.FindStringSubmatch(out)
		if m == nil {
			t.Errorf("systemd-analyze security %s: %v\n%s", name, err, out)
			continue
		}
		level, _ := strconv.ParseFloat(m[1], 64)
		t.Logf("%s: exposure %.1f", name, level)
		if level > 2.5 {
			t.Errorf("%s: exposure level %.1f, want <= 2.5 (harden it back)\n%s", name, level, out)
		}
	}
}

// parseSystemdTime parses a systemd time span: "360", "6min", "5min 30s".
func parseSystemdTime(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	units := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "sec": time.Second, "m": time.Minute, "min": time.Minute, "h": time.Hour, "hr": time.Hour}
	re := regexp.MustCompile(`^(\d+)\s*([a-z]+)$`)
	var d time.Duration
	for _, part := range strings.Fields(s) {
		m := re.FindStringSubmatch(part)
		if m == nil || units[m[2]] == 0 {
			return 0, fmt.Errorf("time span %q", s)
		}
		n, _ := strconv.Atoi(m[1])
		d += time.Duration(n) * units[m[2]]
	}
	return d, nil
}

// execArgs expands a unit's ExecStart as systemd would for an instance:
// %i, then ${VAR} inside a word and $VAR as a word of its own (split on
// whitespace, dropped when empty), from Environment= and the given
// EnvironmentFile= values, which override them.
func execArgs(u unitFile, instance string, envFile map[string]string) []string {
	env := map[string]string{}
	for _, e := range u["Service"]["Environment"] {
		e = strings.ReplaceAll(e, "%i", instance)
		k, v, _ := strings.Cut(e, "=")
		env[k] = v
	}
	for k, v := range envFile {
		env[k] = v
	}
	var out []string
	for i, w := range strings.Fields(strings.ReplaceAll(u.get("Service", "ExecStart"), "%i", instance)) {
		if i == 0 {
			continue // the binary
		}
		if name, ok := strings.CutPrefix(w, "$"); ok && !strings.HasPrefix(name, "{") {
			out = append(out, strings.Fields(env[name])...)
			continue
		}
		out = append(out, regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`).ReplaceAllStringFunc(w, func(ref string) string {
			return env[ref[2:len(ref)-1]]
		}))
	}
	return out
}

// manyHostsTargets are the targets deploy/config/many-hosts.yaml configures.
func manyHostsTargets(t *testing.T) map[string]bool {
	t.Helper()
	var cfg struct {
		Targets []struct {
			Name string `yaml:"name"`
		} `yaml:"targets"`
	}
	if err := yaml.Unmarshal(readRepoFile(t, "deploy/config/many-hosts.yaml"), &cfg); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, tg := range cfg.Targets {
		out[tg.Name] = true
	}
	return out
}

// TestSystemdUnitsRunTcbot: the units run real tcbot command lines (the
// worker for the documented instances, whose targets many-hosts.yaml
// configures), as the dedicated user, with secrets from an
// EnvironmentFile, restart on failure, and stop by SIGTERM to tcbot alone
// with time to drain.
func TestSystemdUnitsRunTcbot(t *testing.T) {
	bin := tcbotBinary(t)
	sysusers := string(readRepoFile(t, systemdDir+"/tcbot.sysusers.conf"))
	targets := manyHostsTargets(t)
	for _, tc := range []struct {
		unit, instance string
		envFile        map[string]string
		doc            []string // the unit's comments must document this use
	}{
		{unit: serveUnit},
		{unit: serveUnit, envFile: map[string]string{"TCBOT_SERVE_FLAGS": "--targets none"}, doc: []string{"--targets none"}},
		{unit: workerUnit, instance: "armv8-board1", doc: []string{"tcbot-worker@armv8-board1"}},
		{unit: workerUnit, instance: "qemu",
			envFile: map[string]string{"TCBOT_TARGETS": "armv7-qemu,armv8-qemu", "TCBOT_WORKER_FLAGS": "--listen 127.0.0.1:9101"},
			doc:     []string{"tcbot-worker@qemu", "TCBOT_TARGETS=armv7-qemu,armv8-qemu", "TCBOT_WORKER_FLAGS=--listen 127.0.0.1:9101"}},
	} {
		name := tc.unit
		if tc.instance != "" {
			name = strings.Replace(tc.unit, "@.", "@"+tc.instance+".", 1)
		}
		if tc.envFile != nil {
			name += fmt.Sprintf(" with %v", tc.envFile)
		}
		t.Run(name, func(t *testing.T) {
			u, raw := loadUnit(t, tc.unit)
			for _, d := range tc.doc {
				if !bytes.Contains(raw, []byte(d)) {
					t.Errorf("%s does not document %q", tc.unit, d)
				}
			}
			args := execArgs(u, tc.instance, tc.envFile)
			p, err := checkArgs(bin, args)
			if err != nil {
				t.Fatalf("ExecStart %q: %v", args, err)
			}
			if p.flags["config"] != unitsConfig {
				t.Errorf("--config %q, want %s", p.flags["config"], unitsConfig)
			}
			want := map[string]string{"serve": serveUnit, "worker": workerUnit}[strings.Join(p.command, " ")]
			if want != tc.unit {
				t.Errorf("runs tcbot %s", strings.Join(p.command, " "))
			}
			if ts, ok := p.flags["targets"]; ok && ts != "none" {
				for _, tg := range strings.Split(ts, ",") {
					if !targets[tg] {
						t.Errorf("--targets names %q, which deploy/config/many-hosts.yaml does not configure", tg)
					}
				}
			}
			s := func(k string) string { return u.get("Service", k) }
			user := s("User")
			if user == "" || user == "root" {
				t.Errorf("User=%q: run as the dedicated user", user)
			} else if !regexp.MustCompile(`(?m)^u\s+` + regexp.QuoteMeta(user) + `\s`).MatchString(sysusers) {
				t.Errorf("User=%s, which tcbot.sysusers.conf does not create", user)
			}
			if len(u["Service"]["EnvironmentFile"]) == 0 {
				t.Error("no EnvironmentFile= for the secrets")
			}
			for k, want := range map[string]string{"KillSignal": "SIGTERM", "KillMode": "mixed", "Restart": "on-failure"} {
				if got := s(k); got != want {
					t.Errorf("%s=%q, want %s", k, got, want)
				}
			}
			if v := s("MemoryDenyWriteExecute"); v != "" && v != "no" && v != "false" {
				t.Errorf("MemoryDenyWriteExecute=%s breaks QEMU's code generator", v)
			}
			stop, err := parseSystemdTime(s("TimeoutStopSec"))
			if err != nil {
				t.Fatalf("TimeoutStopSec=%q: %v", s("TimeoutStopSec"), err)
			}
			if stop < minDrainGrace {
				t.Errorf("TimeoutStopSec=%v: too short to drain a running measurement (want >= %v)", stop, minDrainGrace)
			}
			if d := p.drain(); d > 0 && stop < d+15*time.Second {
				t.Errorf("TimeoutStopSec=%v leaves no room after --drain %v", stop, d)
			}
		})
	}
}

// TestSysusersCreatesUser: systemd-sysusers, run on a scratch root,
// creates the user the units run as, with its home in the state
// directory and no login shell.
func TestSysusersCreatesUser(t *testing.T) {
	if _, err := exec.LookPath("systemd-sysusers"); err != nil {
		t.Skip("systemd-sysusers is not installed")
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	conf, err := filepath.Abs(repoPath(systemdDir + "/tcbot.sysusers.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("systemd-sysusers", "--root="+root, conf).CombinedOutput(); err != nil {
		t.Fatalf("systemd-sysusers: %v\n%s", err, out)
	}
	passwd, err := os.ReadFile(filepath.Join(root, "etc", "passwd"))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := loadUnit(t, serveUnit)
	user, wd := u.get("Service", "User"), u.get("Service", "WorkingDirectory")
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(user) + `:x:\d+:\d+:[^:]*:` + regexp.QuoteMeta(wd) + `:/usr/sbin/nologin$`)
	if !re.Match(passwd) {
		t.Errorf("systemd-sysusers made no user %s with home %s and no login shell:\n%s", user, wd, passwd)
	}
}
