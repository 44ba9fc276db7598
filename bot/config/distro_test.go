package config

import (
	"strings"
	"testing"
)

const distroRepos = `repos:
  - name: linux
    url: https://example.org/linux.git
    recipe: distro-lamp
    toolchain: host
    host: {armv8: {cc: aarch64-linux-gnu-gcc}}
  - name: glibc
    url: https://example.org/glibc.git
    recipe: distro-lamp
    toolchain: build
    build: {recipe: glibc}
`

func TestDistroKernelOfALibraryRepo(t *testing.T) {
	path := writeConfig(t, distroRepos+"    distro: {kernel: {repo: linux, rev: v6.1}}\ntargets:\n  - {name: vm, arch: armv8, executor: qemu-system}\n")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := c.Repos[1].Distro; d == nil || d.Kernel.Repo != "linux" || d.Kernel.Rev != "v6.1" {
		t.Errorf("distro settings %+v", d)
	}
}

func TestDistroKernelErrors(t *testing.T) {
	for _, tc := range []struct{ name, distro, key, fix string }{
		{"no kernel repository", "    distro: {kernel: {rev: v6.1}}  #<", "repos[1].distro.kernel.repo", "name the kernel repository"},
		{"an unknown kernel repository", "    distro:\n      kernel:\n        repo: linus  #<\n        rev: v6.1", "repos[1].distro.kernel.repo", `"linus": not another repository of this config (it has linux)`},
		{"itself as the kernel", "    distro:\n      kernel:\n        repo: glibc  #<\n        rev: v6.1", "repos[1].distro.kernel.repo", "not another repository"},
		{"no revision", "    distro:\n      kernel:  #<\n        repo: linux", "repos[1].distro.kernel.rev", "the same for base and head"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := distroRepos + tc.distro + "\ntargets:\n  - {name: vm, arch: armv8, executor: qemu-system}\n"
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
				t.Errorf("error %q does not name line %d", msg, n)
			}
		})
	}
}
