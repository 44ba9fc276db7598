// Package measuretest provides a tiny benchmark suite and toolchain
// repository for tests that need real builds and real QEMU runs in a
// second or two: two benchmarks, and toolchain manifests whose macros make
// one of them slower (SLOW), wrong (WRONG) or not compile (BROKEN).
package measuretest

import (
	"fmt"
	"os"
	"path/filepath"
)

// A two-benchmark suite small enough to measure in seconds. Macros set by
// the toolchain manifest of each commit make "loop" slower (SLOW), wrong
// (WRONG) or not compile (BROKEN); "steady" uses none of them, so its
// binary stays byte-identical.
const loopC = `#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
int main(int argc, char **argv) {
	if (argc < 2) return 2;
	uint64_t n = strtoull(argv[1], 0, 10), s = 0;
	for (uint64_t i = 0; i < n; i++) {
		s = s * 31 + i;
#ifdef SLOW
		for (volatile int k = 0; k < 2; k++);
#endif
	}
#ifdef WRONG
	s ^= 1;
#endif
#ifdef BROKEN
#error broken on purpose
#endif
	printf("checksum: %016llx\n", (unsigned long long)s);
	return 0;
}
`

const steadyC = `#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
int main(int argc, char **argv) {
	if (argc < 2) return 2;
	uint64_t n = strtoull(argv[1], 0, 10), s = 1;
	for (uint64_t i = 0; i < n; i++) s = s * 7 + (i ^ (s >> 3));
	printf("checksum: %016llx\n", (unsigned long long)s);
	return 0;
}
`

// LoopSum is the checksum of loop.c for n.
func LoopSum(n uint64) uint64 {
	var s uint64
	for i := uint64(0); i < n; i++ {
		s = s*31 + i
	}
	return s
}

// SteadySum is the checksum of steady.c for n.
func SteadySum(n uint64) uint64 {
	s := uint64(1)
	for i := uint64(0); i < n; i++ {
		s = s*7 + (i ^ (s >> 3))
	}
	return s
}

// Manifest is a tcbot-toolchain.yaml adding extra to both arches' flags.
func Manifest(extra string) string {
	return fmt.Sprintf(`armv7: {cc: arm-linux-gnueabihf-gcc, cflags: "-O2 %s"}
armv8: {cc: aarch64-linux-gnu-gcc, cflags: "-O2 %s"}
`, extra, extra)
}

// WriteSuite writes the suite (suite.yaml, loop.c, steady.c) into dir.
func WriteSuite(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"loop.c":   loopC,
		"steady.c": steadyC,
		"suite.yaml": fmt.Sprintf(`suite: bench
version: 1
benchmarks:
  - {name: loop, sources: [loop.c], args: ["300000"], checksum: "%016x"}
  - {name: steady, sources: [steady.c], args: ["200000"], checksum: "%016x"}
`, LoopSum(300000), SteadySum(200000)),
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			return err
		}
	}
	return nil
}
