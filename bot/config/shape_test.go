package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const (
	shapeRepos   = "repos:\n  - name: gcc\n    url: https://example.org/gcc.git\n"
	shapeTargets = "targets:\n  - {name: a, arch: armv8, executor: qemu-user}\n"
)

// Issue 10, finding 8: values that used to be replaced by defaults without
// a word, and a type error that named neither the file nor the key. Each
// wrong value must be an error giving FILE:LINE: KEY: and the form the key
// wants; the line holding it is marked "#<".
func TestWrongValuesAreErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		key  string // the key, as the message names it
		want string // the expected form the message gives
	}{
		// The cases of the issue.
		{"reconcile without a unit", shapeRepos + shapeTargets + "reconcile: 10  #<\n", "reconcile", `"10" has no unit: want a duration such as 5m or 90s`},
		{"negative reconcile", shapeRepos + shapeTargets + "reconcile: -5m  #<\n", "reconcile", `"-5m" is negative: want a duration such as 5m or 90s`},
		{"poll as a list turns polling off", "repos:\n  - name: gcc\n    url: https://example.org/gcc.git\n    poll: [1]  #<\n" + shapeTargets, "repos[0].poll", "a list is not a duration: want a duration such as 5m or 90s, or 0 for no polling"},
		{"negative jobs", shapeRepos + shapeTargets + "jobs: -4  #<\n", "jobs", "-4 is negative: want a positive whole number such as 4"},
		{"negative samples", shapeRepos + "targets:\n  - {name: a, arch: armv8, executor: qemu-user, samples: -3}  #<\n", "targets[0].samples", "-3 is negative: want a whole number from 1 to 1000, such as 10"},
		{"jobs as a word", shapeRepos + shapeTargets + "jobs: two  #<\n", "jobs", `"two" is not a number: want a positive whole number such as 4`},

		// Every other kind of key.
		{"zero jobs", shapeRepos + shapeTargets + "jobs: 0  #<\n", "jobs", "0 is too small (at least 1): want a positive whole number such as 4"},
		{"jobs quoted", shapeRepos + shapeTargets + "jobs: \"4\"  #<\n", "jobs", `"4" is quoted text: write 4 without quotes`},
		{"workers not whole", shapeRepos + shapeTargets + "workers: 1.5  #<\n", "workers", "1.5 is not a whole number: want a positive whole number such as 4"},
		{"workers as a list", shapeRepos + shapeTargets + "workers: [2]  #<\n", "workers", "a list where one value belongs: want a positive whole number such as 4"},
		{"zero reconcile", shapeRepos + shapeTargets + "reconcile: 0s  #<\n", "reconcile", `"0s" is zero: want a duration such as 5m or 90s`},
		{"poll in words", "repos:\n  - name: gcc\n    url: https://example.org/gcc.git\n    poll: hourly  #<\n" + shapeTargets, "repos[0].poll", `"hourly" is not a duration`},
		{"negative poll", "repos:\n  - name: gcc\n    url: https://example.org/gcc.git\n    poll: -1m  #<\n" + shapeTargets, "repos[0].poll", `"-1m" is negative`},
		{"branches not a list", "repos:\n  - name: gcc\n    url: https://example.org/gcc.git\n    branches: main  #<\n" + shapeTargets, "repos[0].branches", `"main" is not a list: want a list of branch names such as [main]`},
		{"url as a list", "repos:\n  - name: gcc\n    url: [https://example.org/gcc.git]  #<\n" + shapeTargets, "repos[0].url", "a list where one value belongs: want a single value"},
		{"host compiler as a list", "repos:\n  - name: gcc\n    url: https://example.org/gcc.git\n    toolchain: host\n    host:\n      armv8: {cc: [gcc]}  #<\n" + shapeTargets, "repos[0].host.armv8.cc", "a list where one value belongs"},
		{"samples too many", shapeRepos + "targets:\n  - {name: a, arch: armv8, executor: qemu-user, samples: 5000}  #<\n", "targets[0].samples", "5000 is too large (at most 1000)"},
		{"timeout without a unit", shapeRepos + "targets:\n  - {name: a, arch: armv8, executor: qemu-user, timeout: 300}  #<\n", "targets[0].timeout", `"300" has no unit: want a duration such as 5m or 90s`},
		{"informational not a list", shapeRepos + "targets:\n  - {name: a, arch: armv8, executor: qemu-user, informational: time}  #<\n", "targets[0].informational", `"time" is not a list: want a list of metrics such as [time, compile-time]`},
		{"qemu-system memory in words", shapeRepos + "targets:\n  - {name: a, arch: armv8, executor: qemu-system, memory: lots}  #<\n", "targets[0].memory", `"lots" is not a number: want the guest's memory in MiB, 64 to 16384`},
		{"qemu-system boot_timeout zero", shapeRepos + "targets:\n  - {name: a, arch: armv8, executor: qemu-system, boot_timeout: 0}  #<\n", "targets[0].boot_timeout", `"0" is zero: want a duration such as 60s or 2m`},
		{"real_time not a boolean", shapeRepos + "targets:\n  - {name: a, arch: armv8, executor: qemu-system, real_time: sometimes}  #<\n", "targets[0].real_time", `"sometimes" is not true or false: want true or false`},
		{"ssh port out of range", shapeRepos + "targets:\n  - name: b\n    arch: armv8\n    executor: ssh\n    ssh: {host: b, user: u, key_file: k, known_hosts: h, port: 70000}  #<\n", "targets[0].ssh.port", "70000 is too large (at most 65535): want a TCP port from 1 to 65535"},
		{"ssh max_load negative", shapeRepos + "targets:\n  - name: b\n    arch: armv8\n    executor: ssh\n    ssh: {host: b, user: u, key_file: k, known_hosts: h, max_load: -1}  #<\n", "targets[0].ssh.max_load", "-1 is negative: want a load average such as 2"},
		{"lava retries too many", shapeRepos + "targets:\n  - name: l\n    arch: armv8\n    executor: lava\n    lava: {url: 'https://lava.example.org/', token_env: T, device_type: qemu, retries: 11}  #<\n", "targets[0].lava.retries", "11 is too large (at most 10): want a whole number from 0 to 10"},
		{"lava memory negative", shapeRepos + "targets:\n  - name: l\n    arch: armv8\n    executor: lava\n    lava: {url: 'https://lava.example.org/', token_env: T, device_type: qemu, memory: -1}  #<\n", "targets[0].lava.memory", "-1 is negative: want the guest's RAM in MiB"},
		{"lava boot_timeout without a unit", shapeRepos + "targets:\n  - name: l\n    arch: armv8\n    executor: lava\n    lava:\n      url: https://lava.example.org/\n      token_env: T\n      device_type: qemu\n      boot_timeout: 180  #<\n", "targets[0].lava.boot_timeout", `"180" has no unit: want a duration such as 3m`},
		{"lava tags not a list", shapeRepos + "targets:\n  - name: l\n    arch: armv8\n    executor: lava\n    lava: {url: 'https://lava.example.org/', token_env: T, device_type: qemu, tags: fast}  #<\n", "targets[0].lava.tags", `"fast" is not a list: want a list of device tags`},
		{"min_effect in words", shapeRepos + shapeTargets + "compare: {min_effect: small}  #<\n", "compare.min_effect", `"small" is not a number: want a percentage such as 2`},
		{"threshold in words", shapeRepos + shapeTargets + "compare:\n  thresholds:\n    instructions: tiny  #<\n", "compare.thresholds.instructions", `"tiny" is not a number: want a percentage from 0 to 100 per metric`},
		{"github not a mapping", shapeRepos + shapeTargets + "github: yes  #<\n", "github", `"yes" is not a mapping: want keys such as {token_env: NAME`},
		{"targets not a list", shapeRepos + "targets: armv8-qemu  #<\n", "targets", `"armv8-qemu" is not a list: want a list of targets such as [{name: armv8-qemu`},
		{"sweep repos not a list", shapeRepos + shapeTargets + "sweeps:\n  - {name: n, schedule: '@daily', repos: gcc}  #<\n", "sweeps[0].repos", `"gcc" is not a list: want a list of repository names such as [gcc]`},
		{"sandbox memory without a unit it knows", shapeRepos + shapeTargets + "sandbox_limits: {memory: 8 lots}  #<\n", "sandbox_limits.memory", `"8 lots" has an unknown unit "lots": want a size such as 8GiB, 512MiB or 4G, or a number of bytes`},
		{"sandbox memory in bytes meant as GiB", shapeRepos + shapeTargets + "sandbox_limits:\n  memory: 8  #<\n", "sandbox_limits.memory", "8 is too small (at least 64MiB)"},
		{"sandbox processes negative", shapeRepos + shapeTargets + "sandbox_limits:\n  processes: -1  #<\n", "sandbox_limits.processes", "-1 is negative: want a positive whole number such as 1024"},
		{"misspelt key", shapeRepos + shapeTargets + "sandbox_limit: {memory: 8GiB}  #<\n", "sandbox_limit", "unknown key (did you mean sandbox_limits?)"},
		{"misspelt nested key", shapeRepos + "targets:\n  - name: l\n    arch: armv8\n    executor: lava\n    lava:\n      url: https://lava.example.org/\n      token_env: T\n      tokn_file: /etc/t  #<\n      device_type: qemu\n", "targets[0].lava.tokn_file", "unknown key (did you mean token_file?)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.yaml)
			_, err := Load(path)
			if err == nil {
				t.Fatalf("Load succeeded, want an error for\n%s", tt.yaml)
			}
			msg := err.Error()
			line := lineOf(t, tt.yaml, "#<")
			if loc := fmt.Sprintf("%s:%d: %s: ", path, line, tt.key); !strings.Contains(msg, loc+tt.want) {
				t.Errorf("error does not say %q:\n%s", loc+tt.want, msg)
			}
		})
	}
}

// The example of the issue, at its line 19.
func TestTypeErrorNamesFileLineAndKey(t *testing.T) {
	text := shapeRepos + shapeTargets + strings.Repeat("# padding\n", 13) + "jobs: two\n"
	path := writeConfig(t, text)
	_, err := Load(path)
	want := path + `:19: jobs: "two" is not a number: want a positive whole number such as 4`
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}
}

// A type error no longer stops decoding: the problems after it are all
// reported, the shape errors with the others, in the order of the file.
func TestWrongValuesReportedWithEveryOtherError(t *testing.T) {
	text := `jobs: two
repos:
  - name: gcc
    poll: [1]
targets:
  - {name: a, arch: arm64, executor: qemu-user, samples: -3}
reconcile: 10
compare: {fdr: 2}
`
	path := writeConfig(t, text)
	_, err := Load(path)
	if err == nil {
		t.Fatal("Load succeeded")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		path + ":1: jobs: ",
		path + ":3: repos[0].url: ",
		path + ":4: repos[0].poll: ",
		path + ":6: targets[0].samples: ",
		path + ":6: targets[0].arch: ",
		path + ":7: reconcile: ",
		path + ":8: compare.fdr: ",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%s", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("error %d = %q, want it to start %q", i, lines[i], w)
		}
	}
}

// Valid values of every form still load, to what they say.
func TestValuesOfEveryForm(t *testing.T) {
	text := shapeRepos + `    poll: 0
    branches: [main, next]
targets:
  - {name: a, arch: armv8, executor: qemu-user, samples: 1000, timeout: 1h30m}
  - name: b
    arch: armv8
    executor: ssh
    ssh: {host: b, user: u, key_file: k, known_hosts: h, port: 2222, max_load: 0.5}
jobs: 1
workers: 64
reconcile: 90s
compare: {min_effect: 0, thresholds: {instructions: 0}}
sandbox_limits: {memory: 512MiB, processes: 1}
`
	c, err := Load(writeConfig(t, text))
	if err != nil {
		t.Fatal(err)
	}
	if c.Jobs != 1 || c.Workers != 64 || time.Duration(c.Reconcile) != 90*time.Second || c.Repos[0].Poll != 0 {
		t.Errorf("jobs %d, workers %d, reconcile %v, poll %v", c.Jobs, c.Workers, time.Duration(c.Reconcile), time.Duration(c.Repos[0].Poll))
	}
	if tg := c.Targets[0]; tg.Samples != 1000 || time.Duration(tg.Timeout) != 90*time.Minute {
		t.Errorf("target %+v", tg)
	}
	if s := c.Targets[1].SSH; s.Port != 2222 || s.MaxLoad != 0.5 {
		t.Errorf("ssh %+v", s)
	}
	if c.SandboxLimits != (SandboxLimits{Memory: 512 << 20, Processes: 1}) {
		t.Errorf("sandbox_limits %+v", c.SandboxLimits)
	}
}

func TestParseByteSize(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want ByteSize
		err  string
	}{
		{"8GiB", 8 << 30, ""},
		{"512MiB", 512 << 20, ""},
		{"4G", 4 << 30, ""},
		{"4g", 4 << 30, ""},
		{"2GB", 2e9, ""},
		{"1.5GiB", 3 << 29, ""},
		{"8 GiB", 8 << 30, ""},
		{"1048576", 1 << 20, ""},
		{"100K", 100 << 10, ""},
		{"1TiB", 1 << 40, ""},
		{"-1GiB", 0, "negative"},
		{"8 lots", 0, `unknown unit "lots"`},
		{"GiB", 0, "not a size"},
		{"", 0, "not a size"},
		{"1e30", 0, "too large"},
	} {
		got, err := ParseByteSize(tt.in)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseByteSize(%q) = %d, %v; want an error saying %q", tt.in, got, err, tt.err)
		}
	}
	for b, want := range map[ByteSize]string{8 << 30: "8GiB", 512 << 20: "512MiB", 1536 << 20: "1536MiB", 1000: "1000"} {
		if b.String() != want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(b), b.String(), want)
		}
	}
}
