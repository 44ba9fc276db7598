// Package recipes embeds the recipe files shipped with tcbot, so the single
// binary carries them; a config's recipes_dir can point at other ones.
package recipes

import "embed"

// FS holds the shipped recipes (*.yaml).
//
//go:embed *.yaml
var FS embed.FS
