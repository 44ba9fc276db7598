// Package recipes embeds the recipe files shipped with tcbot, so the single
// binary carries them; a config's recipes_dir can point at other ones.
package recipes

import "embed"

// FS holds the shipped recipes (*.yaml) and the OpenEmbedded tree they
// use (oe/: kas project files, include templates, the meta-tcbot layer),
// and the toolchain recipes (toolchain/: gcc, binutils, glibc, llvm).
//
//go:embed *.yaml oe toolchain
var FS embed.FS
