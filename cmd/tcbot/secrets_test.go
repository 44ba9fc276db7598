package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sandboxTestConfig = `repos: [{name: r, url: /nonexistent, github: a/b}]
targets: [{name: armv8-qemu, arch: armv8, executor: qemu-user}]
`

func TestConfigCheckSaysWhichSandbox(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name, extra string
		want        []string
		not         string
	}{
		{"bubblewrap by default", "", []string{"sandbox: bubblewrap: 8GiB address space per process, 1024 processes"}, "warning"},
		{"none warns", "sandbox: none\n", []string{"sandbox: none", "warning: sandbox: none: pull requests bring code (compilers, configure scripts, benchmarks)", "serve and worker refuse"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := filepath.Join(dir, "tcbot.yaml")
			os.WriteFile(cfg, []byte(sandboxTestConfig+tt.extra), 0o644)
			code, stdout, stderr := tcbot(t, "config", "check", "--config", cfg)
			if code != 0 {
				t.Fatalf("exit %d: %s%s", code, stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout does not say %q:\n%s", w, stdout)
				}
			}
			if tt.not != "" && strings.Contains(stdout, tt.not) {
				t.Errorf("stdout says %q:\n%s", tt.not, stdout)
			}
		})
	}
}

// serve refuses, before it starts anything, to run pull requests' code
// without a sandbox, and to read secrets from files every user may read.
func TestServeRefusals(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	os.WriteFile(token, []byte("ghp_test\n"), 0o644)
	os.Chmod(token, 0o644)
	t.Setenv("TCBOT_R_SECRET", "s")
	for _, tt := range []struct {
		name, config string
		want         []string
	}{
		{"sandbox none with pull requests", sandboxTestConfig + "sandbox: none\ngithub: {token_env: TCBOT_R_TOKEN, webhook_secret_env: TCBOT_R_SECRET}\n",
			[]string{"sandbox: none", "user, environment and network", "trust: all"}},
		{"a token file every user may read", sandboxTestConfig + "github: {token_file: token, webhook_secret_env: TCBOT_R_SECRET}\n",
			[]string{"github.token_file", "chmod 600 " + token}},
		{"a webhook secret file that is not there", sandboxTestConfig + "github: {token_env: TCBOT_R_TOKEN, webhook_secret_file: missing}\n",
			[]string{"webhook_secret_file", "the file " + filepath.Join(dir, "missing")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := filepath.Join(dir, "tcbot.yaml")
			os.WriteFile(cfg, []byte(tt.config), 0o644)
			code, stdout, stderr := tcbot(t, "serve", "--config", cfg)
			if code != 1 || stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q: want a refusal", code, stdout, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q does not say %q", stderr, w)
				}
			}
			if strings.Contains(stderr, "ghp_test") {
				t.Errorf("stderr shows the token: %q", stderr)
			}
		})
	}
}
