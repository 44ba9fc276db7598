package layercheck

import (
	"strings"
	"testing"
)

// FuzzCheckBitbake: the checker reads files from anywhere (a layer under
// review, a kas file's local.conf text): whatever it is given, it returns
// errors with lines inside the text and never panics.
func FuzzCheckBitbake(f *testing.F) {
	seeds := []string{
		"",
		"SUMMARY = \"x\"\n",
		"SRC_URI = \"a \\\n  b\"\n",
		"do_install() {\n\t:\n}\n",
		"python () {\n    pass\n}\n",
		"def f(d):\n    return 1\n\nA = 'b'\n",
		"FOO = \"bar\n",
		"addtask a after b before c\n",
		"export A = \"1\"\nunset B[doc]\n",
		"# c \\\nX = \"1\"\n",
		"x\\",
		"\\\n\\\n",
		"A[=\"\"\n",
		"python\t(){\n}",
		"fakeroot python do_x() {\n",
		"inherit ${@'a' if d else 'b'}\n",
		"FOO:${PN}:append = \"${@'}'}\"\n",
	}
	for _, s := range seeds {
		f.Add(s, uint8(0))
		f.Add(s, uint8(2))
	}
	f.Fuzz(func(t *testing.T, text string, k uint8) {
		kind := syntax(k % 3)
		lines := strings.Count(text, "\n") + 1
		for _, err := range checkSource("fuzz", text, 1, kind) {
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("error %v is not an *Error", err)
			}
			if e.Line < 1 || e.Line > lines {
				t.Fatalf("error at line %d of a %d-line text: %v", e.Line, lines, e)
			}
			if e.Msg == "" {
				t.Fatal("empty message")
			}
		}
		// The static evaluation used for layers must not panic either.
		for _, st := range statements(text) {
			if a, ok := parseAssignment(st.text); ok {
				newVars(nil).assign(a)
			}
		}
		_ = dropPython(text)
	})
}
