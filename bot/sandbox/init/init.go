// Package sandboxinit holds the source of tcbot's sandbox init program (init.c),
// which bot/sandbox builds with the host's C compiler on first use.
package sandboxinit

import _ "embed"

// Source is init.c.
//
//go:embed init.c
var Source []byte
