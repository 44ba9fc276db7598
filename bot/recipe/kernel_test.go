package recipe

import (
	"strings"
	"testing"

	"github.com/tcbot/tcbot/recipes"
)

func TestShippedKernelRecipe(t *testing.T) {
	r, err := Load(recipes.FS, "recipes", "kernel")
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != "kernel" || r.Suite != "bench" || r.Kernel == nil {
		t.Fatalf("kind %q suite %q kernel %v", r.Kind, r.Suite, r.Kernel)
	}
	k := r.Kernel
	if k.Image["armv8"] != "arch/arm64/boot/Image" || k.Image["armv7"] != "arch/arm/boot/zImage" {
		t.Errorf("images %v", k.Image)
	}
	// The guest's needs are in both arches' fragments.
	for _, arch := range []string{"armv7", "armv8"} {
		f := strings.Join(k.Fragment[arch], "\n")
		for _, want := range []string{"CONFIG_SERIAL_AMBA_PL011_CONSOLE=y", "CONFIG_BLK_DEV_INITRD=y", "CONFIG_DEVTMPFS=y"} {
			if !strings.Contains(f, want) {
				t.Errorf("%s fragment lacks %s", arch, want)
			}
		}
	}
	if !r.Run.Has("time") || !r.Run.Has("status") || r.Run.Has("instructions") {
		t.Errorf("run metrics %v: want time and status (a booted guest has no instruction counter)", r.Run.Metrics)
	}
}

func TestKernelRecipeErrors(t *testing.T) {
	good := `name: k
kind: kernel
suite: bench
kernel:
  config: {armv8: [defconfig], armv7: [multi_v7_defconfig]}
  targets: {armv8: [Image], armv7: [zImage]}
  image: {armv8: arch/arm64/boot/Image, armv7: arch/arm/boot/zImage}
  fragment: {armv8: ["CONFIG_X=y", "# CONFIG_Y is not set"]}
build: {executor: local, command: ["{cc}", "-o", "{output}", "{sources...}"]}
run: {executor: target, command: ["./{binary}", "{args...}"], metrics: [time, status]}
`
	if _, err := Parse("k.yaml", []byte(good)); err != nil {
		t.Fatalf("good recipe: %v", err)
	}
	for _, tc := range []struct{ name, from, to, want string }{
		{"no kernel section", "kernel:\n  config:", "other:\n  config:", "field other not found"},
		{"an arch without targets", "targets: {armv8: [Image], armv7: [zImage]}", "targets: {armv8: [Image]}", "arch armv7"},
		{"a bad fragment line", `"CONFIG_X=y"`, `"X=y"`, "want CONFIG_NAME=value"},
		{"an image outside the build", "image: {armv8: arch/arm64/boot/Image", "image: {armv8: ../Image", "inside the build directory"},
		{"an unknown arch", "fragment: {armv8:", "fragment: {x86:", "unknown arch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(good, tc.from, tc.to, 1)
			if text == good {
				t.Fatal("replacement did not apply")
			}
			_, err := Parse("k.yaml", []byte(text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}
