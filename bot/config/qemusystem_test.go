package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestQEMUSystemTarget(t *testing.T) {
	path := writeConfig(t, `repos: [{name: linux, url: https://example.org/linux.git}]
targets:
  - {name: armv8-vm, arch: armv8, executor: qemu-system}
  - {name: armv7-vm, arch: armv7, executor: qemu-system}
  - name: armv8-own
    arch: armv8
    executor: qemu-system
    kernel: kernels/Image
    busybox: /opt/busybox
    memory: 512
    boot_timeout: 2m
    kernel_args: "nokaslr"
    real_time: true
    qemu: /opt/qemu/bin/qemu-system-aarch64
    cpu: max
`)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	v8, v7, own := c.Targets[0], c.Targets[1], c.Targets[2]
	if v8.QEMU != "qemu-system-aarch64" || v8.CPU != "cortex-a57" || v7.QEMU != "qemu-system-arm" || v7.CPU != "cortex-a15" {
		t.Errorf("default emulators: armv8 %s -cpu %s, armv7 %s -cpu %s", v8.QEMU, v8.CPU, v7.QEMU, v7.CPU)
	}
	if v8.Kernel != "" || v8.Memory != 1024 || time.Duration(v8.BootTimeout) != time.Minute {
		t.Errorf("defaults: kernel %q, memory %d, boot_timeout %s", v8.Kernel, v8.Memory, time.Duration(v8.BootTimeout))
	}
	// In-guest timings are noisy: board statistics, with time a verdict
	// metric and boot time informational.
	if v8.Samples != 10 || strings.Join(v8.Informational, ",") != "compile-time,boot-time" {
		t.Errorf("samples %d, informational %v", v8.Samples, v8.Informational)
	}
	if want := filepath.Join(filepath.Dir(path), "kernels", "Image"); own.Kernel != want {
		t.Errorf("kernel %q, want %q (relative to the config)", own.Kernel, want)
	}
	if own.Busybox != "/opt/busybox" || own.Memory != 512 || time.Duration(own.BootTimeout) != 2*time.Minute || own.KernelArgs != "nokaslr" || !own.RealTime || v8.RealTime || own.QEMU != "/opt/qemu/bin/qemu-system-aarch64" || own.CPU != "max" {
		t.Errorf("own settings: %+v", own)
	}
}

func TestQEMUSystemTargetErrors(t *testing.T) {
	tests := []struct {
		name, yaml, key, fix string
	}{
		{
			name: "too little memory",
			yaml: `  - name: vm
    arch: armv8
    executor: qemu-system
    memory: 16  #<`,
			key: "targets[0].memory", fix: "64 to 16384",
		},
		{
			name: "boot timeout that is not a duration",
			yaml: `  - name: vm
    arch: armv7
    executor: qemu-system
    boot_timeout: soon  #<`,
			key: "targets[0].boot_timeout", fix: "not a duration",
		},
		{
			name: "kernel on a qemu-user target",
			yaml: `  - name: vm
    arch: armv8
    executor: qemu-user
    kernel: /boot/Image  #<`,
			key: "targets[0].kernel", fix: "only for executor: qemu-system",
		},
		{
			name: "run_wrapper on a qemu-system target",
			yaml: `  - name: vm
    arch: armv8
    executor: qemu-system
    run_wrapper: [qemu-aarch64]  #<`,
			key: "targets[0].run_wrapper", fix: "only for executor: ssh",
		},
		{
			name: "misspelt key",
			yaml: `  - name: vm
    arch: armv8
    executor: qemu-system
    memroy: 512  #<`,
			key: "memroy", fix: "unknown key",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := "repos: [{name: linux, url: https://example.org/linux.git}]\ntargets:\n" + tc.yaml + "\n"
			path := writeConfig(t, text)
			_, err := Load(path)
			if err == nil {
				t.Fatal("loaded")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.key) || !strings.Contains(msg, tc.fix) {
				t.Errorf("error %q does not name %s or say %q", msg, tc.key, tc.fix)
			}
			if n := lineOf(t, text, "#<"); !hasLine(msg, path, n) {
				t.Errorf("error %q does not give line %d of %s", msg, n, filepath.Base(path))
			}
		})
	}
}
