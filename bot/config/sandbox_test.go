package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestSandboxKeys(t *testing.T) {
	c, err := Load(writeConfig(t, designExample))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sandbox != "bubblewrap" || c.Trust != "" || c.SandboxLimits != (SandboxLimits{Memory: 8 << 30, Processes: 1024}) {
		t.Errorf("defaults: sandbox %q, trust %q, limits %+v; want bubblewrap, none, 8GiB and 1024", c.Sandbox, c.Trust, c.SandboxLimits)
	}
	c, err = Load(writeConfig(t, designExample+"sandbox: none\ntrust: all\nsandbox_limits: {memory: 4G, processes: 200}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Sandbox != "none" || c.Trust != "all" || c.SandboxLimits != (SandboxLimits{Memory: 4 << 30, Processes: 200}) {
		t.Errorf("sandbox %q, trust %q, limits %+v", c.Sandbox, c.Trust, c.SandboxLimits)
	}
	if c, err = Load(writeConfig(t, designExample+"sandbox_limits: {memory: 1073741824}\n")); err != nil || c.SandboxLimits.Memory != 1<<30 || c.SandboxLimits.Processes != 1024 {
		t.Errorf("memory in bytes: %+v, %v", c.SandboxLimits, err)
	}
}

func TestSandboxErrors(t *testing.T) {
	for _, tt := range []struct{ name, yaml, key, want string }{
		{"unknown sandbox", "sandbox: docker  #<\n", "sandbox", `"docker": want bubblewrap (the default) or none`},
		{"trust other than all", "sandbox: none\ntrust: me  #<\n", "trust", `"me": the only value is all`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			text := designExample + tt.yaml
			path := writeConfig(t, text)
			_, err := Load(path)
			if want := fmt.Sprintf("%s:%d: %s: %s", path, lineOf(t, text, "#<"), tt.key, tt.want); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v, want %q", err, want)
			}
		})
	}
}

func TestCheckUntrusted(t *testing.T) {
	noGitHub := strings.Replace(designExample, "    github: owner/name", "", 1)
	tests := []struct {
		name  string
		yaml  string
		serve bool
		ok    bool
	}{
		{"bubblewrap serving pull requests", designExample, true, true},
		{"none serving pull requests", designExample + "sandbox: none  #<\n", true, false},
		{"none serving pull requests of trusted authors", designExample + "sandbox: none\ntrust: all\n", true, true},
		{"none without pull requests", noGitHub + "sandbox: none\n", true, true},
		{"none for tcbot run", designExample + "sandbox: none\n", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.yaml)
			c, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			err = c.CheckUntrusted(tt.serve)
			if tt.ok {
				if err != nil {
					t.Errorf("CheckUntrusted(%v) = %v, want nil", tt.serve, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckUntrusted(%v) = nil, want a refusal", tt.serve)
			}
			for _, want := range []string{
				fmt.Sprintf("%s:%d: sandbox: none", path, lineOf(t, tt.yaml, "#<")),
				"toolchain (owner/name)",
				"compilers, configure scripts, benchmarks",
				"user, environment and network",
				"use sandbox: bubblewrap",
				"trust: all if every pull request author is trusted",
			} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("refusal %q does not say %q", err, want)
				}
			}
		})
	}
}

func TestSandboxSummaryAndWarning(t *testing.T) {
	c, err := Load(writeConfig(t, designExample))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.SandboxSummary(); got != "sandbox: bubblewrap: 8GiB address space per process, 1024 processes" {
		t.Errorf("summary %q", got)
	}
	if w := c.SandboxWarning(); w != "" {
		t.Errorf("warning with bubblewrap: %q", w)
	}
	c, err = Load(writeConfig(t, designExample+"sandbox: none\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.SandboxSummary(); !strings.HasPrefix(got, "sandbox: none") {
		t.Errorf("summary %q", got)
	}
	w := c.SandboxWarning()
	for _, want := range []string{"warning: sandbox: none", "compilers, configure scripts, benchmarks", "serve and worker refuse", "toolchain (owner/name)"} {
		if !strings.Contains(w, want) {
			t.Errorf("warning %q does not say %q", w, want)
		}
	}
}
