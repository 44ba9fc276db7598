package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tcbot/tcbot/bot/recipe"
)

// KernelBuild overrides, for one kernel repository (recipe kernel), how
// its kernel is built: every map is by arch (armv7, armv8), and an arch
// given here replaces the recipe's setting for that arch.
type KernelBuild struct {
	// Config are the make targets that write .config ([defconfig], or
	// [tinyconfig] with a fragment).
	Config map[string][]string `yaml:"config"`
	// Fragment are .config lines merged after Config, then olddefconfig.
	Fragment map[string][]string `yaml:"fragment"`
	// Targets are the make targets that build the image ([Image]).
	Targets map[string][]string `yaml:"targets"`
	// Image is the file they leave, relative to the build directory.
	Image map[string]string `yaml:"image"`
}

// validateKernel checks the kernel: key of repository i.
func (c *Config) validateKernel(i int, r Repo, bad func(line int, key, format string, args ...any)) {
	k := r.Kernel
	if k == nil {
		return
	}
	if r.Toolchain != "host" {
		bad(c.line("repos", i, "toolchain"), fmt.Sprintf("repos[%d].toolchain", i), "%q: a kernel repository is built with fixed compilers: want toolchain: host with host: {armv8: {cc: aarch64-linux-gnu-gcc}, ...}", r.Toolchain)
	}
	err := recipe.CheckKernelBuild(k.Config, k.Fragment, k.Targets, k.Image)
	var ke *recipe.KernelBuildError
	if errors.As(err, &ke) {
		path := []any{"repos", i, "kernel"}
		for _, p := range ke.Key {
			path = append(path, p)
		}
		bad(c.line(path...), fmt.Sprintf("repos[%d].kernel.%s", i, strings.Join(ke.Key, ".")), "%s", ke.Msg)
	}
}
