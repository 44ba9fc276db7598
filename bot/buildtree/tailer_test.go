package buildtree

import (
	"fmt"
	"strings"
	"testing"
)

// TestTailerKeepsTheFirstError: a parallel build's first compiler error,
// scrolled far above its last lines, ends the tail.
func TestTailerKeepsTheFirstError(t *testing.T) {
	tl := &tailer{max: 3}
	fmt.Fprintf(tl, "gcc -c a.c\nmalloc.c:3291:3: error: 'this_does_not_compile' undeclared\nb.c:1:1: error: later\n")
	for i := 0; i < 10; i++ {
		fmt.Fprintf(tl, "make[2]: Leaving directory 'd%d'\n", i)
	}
	lines := strings.Split(tl.String(), "\n")
	if len(lines) != 4 || lines[3] != "first error: malloc.c:3291:3: error: 'this_does_not_compile' undeclared" || lines[2] != "make[2]: Leaving directory 'd9'" {
		t.Errorf("tail %q", lines)
	}
	clean := &tailer{max: 3}
	fmt.Fprintf(clean, "all fine\n")
	if clean.String() != "all fine" {
		t.Errorf("a tail without errors: %q", clean.String())
	}
}
