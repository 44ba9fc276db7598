package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLAVATarget(t *testing.T) {
	path := writeConfig(t, `repos: [{name: gcc, url: https://example.org/gcc.git}]
targets:
  - name: armv8-lab
    arch: armv8
    executor: lava
    lava:
      url: https://lava.example.org/
      token_env: TCBOT_LAVA_TOKEN
      device_type: qemu
      tags: [fast]
      artifact_listen: 0.0.0.0:8090
      artifact_url: http://tcbot.lab:8090/
      retries: 0
      boot_timeout: 90s
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tg := c.Targets[0]
	if tg.LAVA == nil || tg.LAVA.URL != "https://lava.example.org/" || tg.LAVA.TokenEnv != "TCBOT_LAVA_TOKEN" || tg.LAVA.DeviceType != "qemu" {
		t.Fatalf("lava section: %+v", tg.LAVA)
	}
	if tg.LAVA.Retries == nil || *tg.LAVA.Retries != 0 {
		t.Errorf("retries: 0 must stay 0 (no retries), got %v", tg.LAVA.Retries)
	}
	if time.Duration(tg.LAVA.BootTimeout) != 90*time.Second {
		t.Errorf("boot_timeout %v", time.Duration(tg.LAVA.BootTimeout))
	}
	// Boards' statistics: ~10 samples a side, time is a verdict metric.
	if tg.Samples != 10 || strings.Join(tg.Informational, ",") != "compile-time" {
		t.Errorf("samples %d, informational %v: want 10 and compile-time only, as on SSH boards", tg.Samples, tg.Informational)
	}
}

func TestLAVATargetErrors(t *testing.T) {
	tests := []struct {
		name, yaml, key, fix string
	}{
		{
			name: "lava target without its section",
			yaml: `  - {name: lab, arch: armv8, executor: lava}  #<`,
			key:  "targets[0].lava", fix: "needs lava: {url, token_env, device_type}",
		},
		{
			name: "token written into the config",
			yaml: `  - name: lab
    arch: armv8
    executor: lava
    lava:
      url: https://lava.example.org/
      token_env: 0123456789abcdef-not-a-name  #<
      device_type: qemu`,
			key: "targets[0].lava.token_env", fix: "not an environment variable name",
		},
		{
			name: "url without a scheme",
			yaml: `  - name: lab
    arch: armv8
    executor: lava
    lava:
      url: lava.example.org  #<
      token_env: T
      device_type: qemu`,
			key: "targets[0].lava.url", fix: "want the lab's root URL",
		},
		{
			name: "no device type",
			yaml: `  - name: lab
    arch: armv8
    executor: lava
    lava:  #<
      url: https://lava.example.org/
      token_env: T`,
			key: "targets[0].lava.device_type", fix: "missing",
		},
		{
			name: "artifact url with a free port",
			yaml: `  - name: lab
    arch: armv8
    executor: lava
    lava:
      url: https://lava.example.org/
      token_env: T
      device_type: qemu
      artifact_listen: 0.0.0.0:0
      artifact_url: http://tcbot:8090/  #<`,
			key: "targets[0].lava.artifact_url", fix: "give artifact_listen a fixed port",
		},
		{
			name: "listening everywhere without saying where",
			yaml: `  - name: lab
    arch: armv8
    executor: lava
    lava:
      url: https://lava.example.org/
      token_env: T
      device_type: qemu
      artifact_listen: 0.0.0.0:8090  #<`,
			key: "targets[0].lava.artifact_url", fix: "artifact_url: http://tcbot.example.org:8090/",
		},
		{
			name: "missing job template",
			yaml: `  - name: lab
    arch: armv8
    executor: lava
    lava:
      url: https://lava.example.org/
      token_env: T
      device_type: juno
      job_template: juno.yaml.tmpl  #<`,
			key: "targets[0].lava.job_template", fix: "no such file",
		},
		{
			name: "bad priority",
			yaml: `  - name: lab
    arch: armv8
    executor: lava
    lava: {url: "https://lava.example.org/", token_env: T, device_type: qemu, priority: urgent}  #<`,
			key: "targets[0].lava.priority", fix: "want high, medium, low",
		},
		{
			name: "lava section on another executor",
			yaml: `  - name: lab
    arch: armv8
    executor: qemu-user
    lava: {url: "https://lava.example.org/", token_env: T, device_type: qemu}  #<`,
			key: "targets[0].lava", fix: "only for executor: lava",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := "repos: [{name: gcc, url: https://example.org/gcc.git}]\ntargets:\n" + tc.yaml + "\n"
			path := writeConfig(t, text)
			_, err := Load(path)
			if err == nil {
				t.Fatal("loaded")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.key+":") || !strings.Contains(msg, tc.fix) {
				t.Errorf("error %q does not name %s or say %q", msg, tc.key, tc.fix)
			}
			if n := lineOf(t, text, "#<"); !hasLine(msg, path, n) {
				t.Errorf("error %q does not give line %d of %s", msg, n, filepath.Base(path))
			}
			if strings.Contains(msg, "0123456789abcdef") {
				t.Errorf("error quotes what looks like a token: %q", msg)
			}
		})
	}
}
