package progress

import (
	"bytes"
	"strings"
	"testing"
)

func TestPlainLinesWhenNotATerminal(t *testing.T) {
	var buf bytes.Buffer
	r := New(&buf)
	if _, ok := r.(*lines); !ok {
		t.Fatalf("a buffer got %T, want plain lines", r)
	}
	r.Start("build", 3)
	for i := 0; i < 3; i++ {
		r.Step("x")
	}
	r.Finish()
	out := buf.String()
	if !strings.HasPrefix(out, "build: 3 steps\n") || !strings.Contains(out, "build: 3/3 done in") {
		t.Errorf("output %q", out)
	}
	if strings.Contains(out, "\r") || strings.Contains(out, "\033") {
		t.Errorf("plain output holds terminal control characters: %q", out)
	}
}

func TestBarRedrawsOneLine(t *testing.T) {
	var buf bytes.Buffer
	b := &bar{w: &buf}
	b.Start("run", 4)
	b.Step("a")
	b.Step("b")
	if !strings.Contains(buf.String(), "[###############...............] 2/4 b") {
		t.Errorf("bar at half way: %q", buf.String())
	}
	b.Finish()
	if !strings.HasSuffix(buf.String(), "\n") || strings.Count(buf.String(), "\n") != 1 {
		t.Errorf("a bar writes one final line: %q", buf.String())
	}
}
