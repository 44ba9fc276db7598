// Package benchmarks embeds tcbot's benchmark suite (the C sources, the
// shared header and the manifest suite.yaml) and the source of the QEMU
// instruction-counting plugin, so the single tcbot binary can build and
// run them anywhere. A config's benchmarks_dir can point at another copy.
package benchmarks

import "embed"

// FS holds suite.yaml, *.c, *.h, plugin/*.{c,h} and the LAMP load
// generator loadgen/*.c (the meta-tcbot layer builds it into the image).
//
//go:embed suite.yaml *.c *.h plugin/*.c plugin/*.h loadgen/*.c
var FS embed.FS
