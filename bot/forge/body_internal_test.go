package forge

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzCapBody checks capBody's promises with a small limit: the result
// fits, a body that fits is left alone, the hidden lines at the top are
// kept whole, and valid UTF-8 stays valid.
func FuzzCapBody(f *testing.F) {
	f.Add("<!-- tcbot:report -->\n<!-- tcbot:state head=1 verdict=regression -->\n"+strings.Repeat("| a | é |\n", 80), "https://x/changes/1", 400)
	f.Add(strings.Repeat("x", 1000), "", 300)
	f.Add("<details>\n```\n"+strings.Repeat("😀 line\n", 100), "u", 250)
	f.Add("<!-- a -->\r\n<!-- b -->"+strings.Repeat("\n", 500), "", 200)
	f.Fuzz(func(t *testing.T, body, url string, limit int) {
		if limit < 0 || limit > 5000 || len(url) > 100 {
			return
		}
		got := capBody(body, url, limit)
		if n := utf8.RuneCountInString(got); n > limit {
			t.Fatalf("%d characters, over the limit %d", n, limit)
		}
		if utf8.RuneCountInString(body) <= limit {
			if got != body {
				t.Fatalf("a body that fits was changed: %q -> %q", body, got)
			}
			return
		}
		if h := hiddenHeader(body); utf8.RuneCountInString(body[:h])+len(url)+300 < limit && !strings.HasPrefix(got, body[:h]) {
			t.Fatalf("the hidden lines %q were not kept: %q", body[:h], got)
		}
		if utf8.ValidString(body) && utf8.ValidString(url) && !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 from valid: %q", got)
		}
	})
}
