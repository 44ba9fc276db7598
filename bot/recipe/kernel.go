package recipe

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/tcbot/tcbot/bot/result"
)

// KernelStage describes how a kernel repository's revision becomes a
// bootable kernel (kind: kernel): kbuild with O= (the checkout stays
// clean), ARCH= the target's and CROSS_COMPILE= from the repository's
// host compiler. Every map is by arch (armv7, armv8). A repository's
// kernel: key overrides any of them.
type KernelStage struct {
	// Config are the make targets that write .config ([defconfig]).
	Config map[string][]string `yaml:"config"`
	// Fragment are .config lines ("CONFIG_X=y", "# CONFIG_Y is not set")
	// merged after Config, then make olddefconfig.
	Fragment map[string][]string `yaml:"fragment"`
	// Targets are the make targets that build the image ([Image]).
	Targets map[string][]string `yaml:"targets"`
	// Image is the file the targets leave, relative to the build
	// directory (arch/arm64/boot/Image).
	Image map[string]string `yaml:"image"`
	// Env is the exact environment of make (nothing is inherited).
	Env     map[string]string `yaml:"env"`
	Timeout string            `yaml:"timeout"`
	// Metrics of the kernel and its boot: kernel-size, boot-time,
	// status.
	Metrics []string `yaml:"metrics"`
}

// FragmentLineRE matches a line of a .config fragment.
var FragmentLineRE = regexp.MustCompile(`^(CONFIG_[A-Za-z0-9_]+=.*|# CONFIG_[A-Za-z0-9_]+ is not set)$`)

// KernelBuildError is a problem with one key of kernel build settings.
type KernelBuildError struct {
	// Key is the path below the settings ("fragment", "armv8").
	Key []string
	Msg string
}

func (e *KernelBuildError) Error() string { return strings.Join(e.Key, ".") + ": " + e.Msg }

// CheckKernelBuild checks per-arch kernel build settings (from a recipe
// or a repository's kernel: key); a problem is a *KernelBuildError.
func CheckKernelBuild(config, fragment, targets map[string][]string, image map[string]string) error {
	bad := func(msg string, key ...string) error { return &KernelBuildError{Key: key, Msg: msg} }
	for _, m := range []struct {
		name string
		arch []string
	}{{"config", keys(config)}, {"fragment", keys(fragment)}, {"targets", keys(targets)}, {"image", keys(image)}} {
		for _, a := range m.arch {
			if a != "armv7" && a != "armv8" {
				return bad("unknown arch: want armv7 or armv8", m.name, a)
			}
		}
	}
	for a, list := range config {
		if len(list) == 0 {
			return bad("empty: name the make targets that write .config, e.g. [defconfig]", "config", a)
		}
	}
	for a, list := range targets {
		if len(list) == 0 {
			return bad("empty: name the make targets that build the image, e.g. [Image]", "targets", a)
		}
	}
	for a, lines := range fragment {
		for _, l := range lines {
			if !FragmentLineRE.MatchString(l) {
				return bad(fmt.Sprintf("%q: want CONFIG_NAME=value or \"# CONFIG_NAME is not set\"", l), "fragment", a)
			}
		}
	}
	for a, p := range image {
		if p == "" || path.IsAbs(p) || path.Clean(p) != p || strings.HasPrefix(p, "..") {
			return bad(fmt.Sprintf("%q: want a path inside the build directory, e.g. arch/arm64/boot/Image", p), "image", a)
		}
	}
	return nil
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// checkKernel checks a kind: kernel recipe: its suite stages (the
// benchmarks run in the booted kernel) and its kernel stage.
func checkKernel(path string, r *Recipe) error {
	bad := func(key, format string, a ...any) error {
		return fmt.Errorf("%s: %s: %s", path, key, fmt.Sprintf(format, a...))
	}
	k := r.Kernel
	if k == nil {
		return bad("kernel", "missing: a kernel recipe needs kernel.config, kernel.targets and kernel.image for each arch")
	}
	for _, arch := range []string{"armv7", "armv8"} {
		if len(k.Config[arch]) == 0 || len(k.Targets[arch]) == 0 || k.Image[arch] == "" {
			return bad("kernel", "arch %s: want kernel.config, kernel.targets and kernel.image for it", arch)
		}
	}
	if err := CheckKernelBuild(k.Config, k.Fragment, k.Targets, k.Image); err != nil {
		return fmt.Errorf("%s: kernel.%w", path, err)
	}
	if k.Timeout != "" {
		if _, err := time.ParseDuration(k.Timeout); err != nil {
			return bad("kernel.timeout", "%q is not a duration (e.g. 2h)", k.Timeout)
		}
	}
	for _, m := range k.Metrics {
		if _, ok := result.LookupMetric(m); !ok {
			return bad("kernel.metrics", "unknown metric %q", m)
		}
	}
	return nil
}
