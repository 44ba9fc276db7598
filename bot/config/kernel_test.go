package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestKernelRepo(t *testing.T) {
	path := writeConfig(t, `repos:
  - name: linux
    url: https://example.org/linux.git
    recipe: kernel
    toolchain: host
    host: {armv8: {cc: aarch64-linux-gnu-gcc}}
    kernel:
      config: {armv8: [tinyconfig]}
      fragment: {armv8: ["CONFIG_PRINTK=y", "# CONFIG_MODULES is not set"]}
      targets: {armv8: [Image]}
      image: {armv8: arch/arm64/boot/Image}
targets:
  - {name: armv8-vm, arch: armv8, executor: qemu-system}
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	k := c.Repos[0].Kernel
	if k == nil || k.Config["armv8"][0] != "tinyconfig" || len(k.Fragment["armv8"]) != 2 || k.Image["armv8"] != "arch/arm64/boot/Image" {
		t.Errorf("kernel settings %+v", k)
	}
}

func TestKernelRepoErrors(t *testing.T) {
	for _, tc := range []struct{ name, repo, key, fix string }{
		{"a fragment line that is not a config line", `    toolchain: host
    host: {armv8: {cc: aarch64-linux-gnu-gcc}}
    kernel:
      fragment:
        armv8: [PRINTK=y]  #<`, "repos[0].kernel.fragment.armv8", "want CONFIG_NAME=value"},
		{"a kernel built with a toolchain under test", `    toolchain: manifest  #<
    kernel: {config: {armv8: [defconfig]}}`, "repos[0].toolchain", "want toolchain: host"},
		{"an image outside the build directory", `    toolchain: host
    host: {armv8: {cc: aarch64-linux-gnu-gcc}}
    kernel:
      image:
        armv8: /boot/Image  #<`, "repos[0].kernel.image.armv8", "inside the build directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := "repos:\n  - name: linux\n    url: https://example.org/linux.git\n    recipe: kernel\n" + tc.repo + "\ntargets:\n  - {name: vm, arch: armv8, executor: qemu-system}\n"
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
		})
	}
}
