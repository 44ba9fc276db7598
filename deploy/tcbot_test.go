package deploy

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// repoRoot is the repository root, relative to this package's directory
// (where go test runs its tests).
const repoRoot = ".."

func repoPath(rel string) string { return filepath.Join(repoRoot, filepath.FromSlash(rel)) }

func readRepoFile(t *testing.T, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(repoPath(rel))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

// TestMain removes the tcbot binary the tests build.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// tcbotBinary builds cmd/tcbot of this checkout once per test binary (the
// build cache makes it quick after `make build`) and returns its path.
func tcbotBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "tcbot-deploy-test-")
		if buildErr != nil {
			return
		}
		bin := filepath.Join(buildDir, "tcbot")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/tcbot")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/tcbot: %v\n%s", err, out)
			return
		}
		buildBin = bin
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// cliCommand is what `tcbot <path...> --help` says about one command.
type cliCommand struct {
	path        []string
	subcommands map[string]bool
	flags       map[string]string // name -> value type ("" for a boolean flag)
}

var (
	helpMu    sync.Mutex
	helpCache = map[string]*cliCommand{}
)

var (
	helpFlagRE = regexp.MustCompile(`^\s+(?:-\w, )?--([a-z0-9][a-z0-9-]*)(?: ([A-Za-z0-9]+))?(?:\s{2,}|$)`)
	helpCmdRE  = regexp.MustCompile(`^\s+([a-z0-9][a-z0-9-]*)\s{2,}`)
)

// helpOf runs `tcbot <path...> --help` and parses cobra's help text. A
// path naming no command is an error.
func helpOf(bin string, path []string) (*cliCommand, error) {
	key := strings.Join(path, " ")
	helpMu.Lock()
	defer helpMu.Unlock()
	if c, ok := helpCache[key]; ok {
		return c, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append(append([]string{}, path...), "--help")...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("tcbot %s --help: %v: %s", key, err, strings.TrimSpace(string(out)))
	}
	c := &cliCommand{path: path, subcommands: map[string]bool{}, flags: map[string]string{}}
	section := ""
	usage := ""
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasSuffix(line, ":") && !strings.HasPrefix(line, " "):
			section = line
			continue
		case strings.TrimSpace(line) == "":
			section = ""
			continue
		}
		switch section {
		case "Usage:":
			if usage == "" {
				usage = strings.TrimSpace(line)
			}
		case "Available Commands:":
			if m := helpCmdRE.FindStringSubmatch(line); m != nil {
				c.subcommands[m[1]] = true
			}
		case "Flags:", "Global Flags:":
			if m := helpFlagRE.FindStringSubmatch(line); m != nil {
				c.flags[m[1]] = m[2]
			}
		}
	}
	// cobra answers `tcbot config nosuch --help` with the help of `tcbot
	// config`: the usage line tells which command answered.
	if want := strings.Join(append([]string{"tcbot"}, path...), " "); usage != want && !strings.HasPrefix(usage, want+" ") {
		return nil, fmt.Errorf("tcbot has no command %q (its help answers for %q)", key, usage)
	}
	helpCache[key] = c
	return c, nil
}

// parsedArgs is a tcbot command line checked against the binary's help.
type parsedArgs struct {
	command []string          // e.g. [config check]
	flags   map[string]string // flag -> value ("true" for booleans)
}

// checkArgs checks that args (what follows "tcbot") name a real command
// and only flags that command has, with durations that parse.
func checkArgs(bin string, args []string) (*parsedArgs, error) {
	p := &parsedArgs{flags: map[string]string{}}
	cmd, err := helpOf(bin, nil)
	if err != nil {
		return nil, err
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			if cmd.subcommands[a] {
				p.command = append(p.command, a)
				if cmd, err = helpOf(bin, p.command); err != nil {
					return nil, err
				}
				continue
			}
			return nil, fmt.Errorf("%s has no subcommand %q (it has %s)", strings.Join(append([]string{"tcbot"}, p.command...), " "), a, keys(cmd.subcommands))
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") {
			return nil, fmt.Errorf("tcbot %s: use long flags in deployment files, not %q", strings.Join(p.command, " "), a)
		}
		typ, ok := cmd.flags[name]
		if !ok {
			return nil, fmt.Errorf("tcbot %s has no flag --%s (it has %s)", strings.Join(p.command, " "), name, keys(cmd.flags))
		}
		switch {
		case typ == "" && !hasValue:
			value = "true"
		case !hasValue:
			if i+1 >= len(args) {
				return nil, fmt.Errorf("tcbot %s: --%s needs a %s value", strings.Join(p.command, " "), name, typ)
			}
			i++
			value = args[i]
		}
		if typ == "duration" {
			if _, err := time.ParseDuration(value); err != nil {
				return nil, fmt.Errorf("tcbot %s: --%s %q: %v", strings.Join(p.command, " "), name, value, err)
			}
		}
		p.flags[name] = value
	}
	if len(p.command) == 0 {
		return nil, fmt.Errorf("tcbot %s: no subcommand", strings.Join(args, " "))
	}
	if len(cmd.subcommands) > 0 {
		return nil, fmt.Errorf("tcbot %s needs a subcommand: %s", strings.Join(p.command, " "), keys(cmd.subcommands))
	}
	return p, nil
}

// drain is the --drain a command line gives, or 0.
func (p *parsedArgs) drain() time.Duration {
	d, _ := time.ParseDuration(p.flags["drain"])
	return d
}

func keys[V any](m map[string]V) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, ", ")
}

// TestCheckArgs makes sure the command-line check itself rejects what it
// must, so a passing deployment test means something.
func TestCheckArgs(t *testing.T) {
	bin := tcbotBinary(t)
	for _, tc := range []struct {
		name string
		args []string
		want string // "" = accepted
	}{
		{"config check", []string{"config", "check", "--config", "/etc/tcbot/tcbot.yaml"}, ""},
		{"serve with a drain", []string{"serve", "--config", "x.yaml", "--drain=5m"}, ""},
		{"unknown subcommand", []string{"frobnicate", "--config", "x"}, `tcbot has no subcommand "frobnicate"`},
		{"unknown nested subcommand", []string{"config", "frob"}, `tcbot config has no subcommand "frob"`},
		{"unknown flag", []string{"serve", "--confg", "x"}, "has no flag --confg"},
		{"bad duration", []string{"serve", "--drain", "5 minutes"}, "--drain"},
		{"missing value", []string{"serve", "--config"}, "needs a string value"},
		{"group without subcommand", []string{"config"}, "needs a subcommand"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkArgs(bin, tc.args)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("rejected: %v", err)
			case tc.want != "" && err == nil:
				t.Errorf("accepted; want an error containing %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}
