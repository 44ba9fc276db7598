package config

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// RunRepo is what `tcbot run --repo-url` is told of a repository instead
// of its config entry: each field a flag of the same name.
type RunRepo struct {
	URL string // --repo-url
	// Recipe defaults to bench, Toolchain to manifest.
	Recipe    string // --recipe
	Toolchain string // --toolchain
	// Build is the toolchain recipe of toolchain build (gcc, binutils,
	// glibc, llvm): --build-recipe.
	Build string // --build-recipe
	// Component is what the repository is to an OpenEmbedded build
	// (recipe oe-lamp): --component.
	Component string // --component
	// KernelURL and KernelRev are the kernel a distro-lamp image boots
	// when the repository is not the kernel (distro.kernel):
	// --kernel-url, --kernel-rev.
	KernelURL, KernelRev string
	// Boot: the recipe boots the kernel it builds (kernel, distro-lamp),
	// so the targets are the standard qemu-system ones. Not a flag: the
	// caller knows it from the recipe.
	Boot bool
}

// RunRepo is how a user's `tcbot run --repo-url` measures r as this
// config does. Host compilers are the standard cross compilers there
// (Arches), whatever r's host: says.
func (r *Repo) RunRepo() RunRepo {
	rr := RunRepo{URL: r.URL, Recipe: r.Recipe, Toolchain: r.Toolchain, Component: r.Component}
	if r.Toolchain == "build" && r.Build != nil {
		rr.Build = r.Build.Recipe
	}
	if r.Distro != nil {
		rr.KernelURL, rr.KernelRev = r.Distro.kernelURL, r.Distro.Kernel.Rev
	}
	return rr
}

// Flags are the flags of `tcbot run` that say rr, leaving out defaults.
func (rr RunRepo) Flags() []string {
	args := []string{"--repo-url", rr.URL}
	if rr.Recipe != "" && rr.Recipe != "bench" {
		args = append(args, "--recipe", rr.Recipe)
	}
	if rr.Toolchain != "" && rr.Toolchain != "manifest" {
		args = append(args, "--toolchain", rr.Toolchain)
	}
	if rr.Build != "" {
		args = append(args, "--build-recipe", rr.Build)
	}
	if rr.Component != "" {
		args = append(args, "--component", rr.Component)
	}
	if rr.KernelURL != "" {
		args = append(args, "--kernel-url", rr.KernelURL, "--kernel-rev", rr.KernelRev)
	}
	return args
}

// StandaloneTargets are the targets of a standalone config: the standard
// qemu-user ones, which need nothing but QEMU and the cross compilers.
var StandaloneTargets = []string{"armv7-qemu", "armv8-qemu"}

// StandaloneBootTargets are those of a recipe that boots its kernel: the
// standard qemu-system guests.
var StandaloneBootTargets = []string{"armv7-vm", "armv8-vm"}

// Standalone is the config of `tcbot run --repo-url` without a config
// file: one repository by URL (named after its last path element), the
// standard qemu-user targets armv7-qemu and armv8-qemu, and workdir (with
// its SQLite database) for everything else. It is what a report's
// reproduce line runs on a user's own machine. Errors name the flags.
func Standalone(workdir string, rr RunRepo) (*Config, error) {
	if strings.TrimSpace(rr.URL) == "" {
		return nil, fmt.Errorf("--repo-url is empty: want the repository's URL or path")
	}
	if rr.Recipe == "" {
		rr.Recipe = "bench"
	}
	if rr.Toolchain == "" {
		rr.Toolchain = "manifest"
	}
	if toolchainKindOf(rr.Toolchain) == nil {
		return nil, fmt.Errorf("--toolchain %q: want %s", rr.Toolchain, toolchainNames())
	}
	switch {
	case rr.Toolchain == "build" && rr.Build == "":
		return nil, fmt.Errorf("--toolchain build needs --build-recipe: the toolchain recipe that builds %s (gcc, binutils, glibc, llvm)", rr.URL)
	case rr.Toolchain != "build" && rr.Build != "":
		return nil, fmt.Errorf("--build-recipe %s goes with --toolchain build (the toolchain is %s)", rr.Build, rr.Toolchain)
	}
	if (rr.KernelURL == "") != (rr.KernelRev == "") {
		return nil, fmt.Errorf("--kernel-url and --kernel-rev go together: the kernel repository and the revision the image boots (recipe distro-lamp, a repository that is not the kernel)")
	}
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	text := "workdir: " + q(workdir) + "\nrepos:\n  - name: " + q(repoName(rr.URL)) + "\n    url: " + q(rr.URL) +
		"\n    recipe: " + q(rr.Recipe) + "\n    toolchain: " + q(rr.Toolchain) + "\n"
	if rr.Build != "" {
		text += "    build: {recipe: " + q(rr.Build) + "}\n"
	}
	if rr.Component != "" {
		text += "    component: " + q(rr.Component) + "\n"
	}
	// The standard cross compilers of this machine.
	var arches []string
	for a := range Arches {
		arches = append(arches, a)
	}
	sort.Strings(arches)
	host := "    host:\n"
	for _, a := range arches {
		host += "      " + a + ": {cc: " + q(Arches[a].CC) + "}\n"
	}
	if rr.Toolchain == "host" {
		text += host
	}
	if rr.KernelURL != "" {
		// The kernel every boot uses: a second repository.
		kname := repoName(rr.KernelURL)
		if kname == repoName(rr.URL) {
			kname += "-kernel"
		}
		text += "    distro: {kernel: {repo: " + q(kname) + ", rev: " + q(rr.KernelRev) + "}}\n" +
			"  - name: " + q(kname) + "\n    url: " + q(rr.KernelURL) + "\n    recipe: " + q(rr.Recipe) + "\n    toolchain: host\n" + host
	}
	text += "targets:\n"
	if rr.Boot {
		for _, t := range StandaloneBootTargets {
			text += "  - {name: " + t + ", arch: " + strings.TrimSuffix(t, "-vm") + ", executor: qemu-system}\n"
		}
	} else {
		for _, t := range StandaloneTargets {
			text += "  - {name: " + t + ", arch: " + strings.TrimSuffix(t, "-qemu") + ", executor: qemu-user}\n"
		}
	}
	c, err := Parse(filepath.Join(workdir, "tcbot.yaml"), []byte(text))
	if err != nil {
		// The file is made up: say which flag is wrong, not its line.
		return nil, fmt.Errorf("tcbot run --repo-url %s: %w", strings.Join(rr.Flags()[1:], " "), err)
	}
	return c, nil
}

// repoName names a repository after its URL's last path element, as a
// config name: lower-case letters, digits, '.', '_' and '-'.
func repoName(url string) string {
	base := strings.TrimSuffix(filepath.Base(strings.TrimRight(url, "/")), ".git")
	if i := strings.LastIndexAny(base, ":"); i >= 0 {
		base = base[i+1:]
	}
	var b strings.Builder
	for _, r := range strings.ToLower(base) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	name := strings.TrimLeft(b.String(), "._-")
	if name == "" {
		return "repo"
	}
	return name
}
