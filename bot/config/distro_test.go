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

// TestDistroKernelReproduces: the reproduce line of a glibc repository
// names its kernel (--kernel-url, --kernel-rev), and the standalone config
// made from those flags measures it the same way.
func TestDistroKernelReproduces(t *testing.T) {
	path := writeConfig(t, distroRepos+"    distro: {kernel: {repo: linux, rev: v6.1}}\ntargets:\n  - {name: vm, arch: armv8, executor: qemu-system}\n")
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	rr := c.Repos[1].RunRepo()
	flags := strings.Join(rr.Flags(), " ")
	if want := "--repo-url https://example.org/glibc.git --recipe distro-lamp --toolchain build --build-recipe glibc --kernel-url https://example.org/linux.git --kernel-rev v6.1"; flags != want {
		t.Errorf("flags %q, want %q", flags, want)
	}
	rr.Boot = true
	sc, err := Standalone(t.TempDir(), rr)
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Repos) != 2 || sc.Repos[0].Distro == nil || sc.Repos[0].Distro.Kernel.Repo != sc.Repos[1].Name || sc.Repos[0].Distro.Kernel.Rev != "v6.1" ||
		sc.Repos[1].URL != "https://example.org/linux.git" || sc.Repos[1].Toolchain != "host" || sc.Repos[1].Host["armv8"].CC == "" {
		t.Errorf("standalone repos %+v", sc.Repos)
	}
	rr.KernelRev = ""
	if _, err := Standalone(t.TempDir(), rr); err == nil || !strings.Contains(err.Error(), "--kernel-url and --kernel-rev go together") {
		t.Errorf("--kernel-url without --kernel-rev: %v", err)
	}
}
