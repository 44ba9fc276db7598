package forge

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxBody is the longest comment or issue body GitHub accepts, in
// characters (Unicode code points, which is how GitHub counts them).
const MaxBody = 65536

// maxTitle is the longest issue title GitHub accepts, in characters.
const maxTitle = 256

// CapBody returns body as it is if GitHub accepts it, or else cut to fit
// MaxBody characters and ending with a note that says so and where the
// whole is: "… report cut at N characters: the full report is at fullURL"
// (or, without a URL, to see the tcbot dashboard).
//
// The cut keeps whole lines where it can and never falls inside the hidden
// lines at the top (the "<!-- tcbot:... -->" markers and state that find
// the comment again); a code block or <details> section left open by the
// cut is closed, so the note shows.
func CapBody(body, fullURL string) string {
	return capBody(body, fullURL, MaxBody)
}

func capBody(body, fullURL string, limit int) string {
	if utf8.RuneCountInString(body) <= limit {
		return body
	}
	header := hiddenHeader(body)
	note := func(kept int) string {
		if fullURL != "" {
			return fmt.Sprintf("\n\n… report cut at %d characters: the full report is at %s\n", kept, fullURL)
		}
		return fmt.Sprintf("\n\n… cut at %d characters, GitHub's limit: see the tcbot dashboard for the full report\n", kept)
	}
	room := limit - utf8.RuneCountInString(note(limit))
	for {
		kept := cut(body, header, room)
		out := kept + closers(kept) + note(utf8.RuneCountInString(kept))
		over := utf8.RuneCountInString(out) - limit
		if over <= 0 || room <= 0 {
			if over > 0 { // a limit smaller than the note itself
				return string([]rune(out)[:limit])
			}
			return out
		}
		room -= over
	}
}

// hiddenHeader is the length in bytes of body's leading lines that are
// whole HTML comments.
func hiddenHeader(body string) int {
	end := 0
	for end < len(body) {
		line, _, found := strings.Cut(body[end:], "\n")
		t := strings.TrimSpace(line)
		if !strings.HasPrefix(t, "<!--") || !strings.HasSuffix(t, "-->") {
			break
		}
		end += len(line)
		if found {
			end++
		}
	}
	return end
}

// cut returns the longest prefix of body of at most room characters that
// ends a line, keeps the first header bytes whole, and is not much shorter
// than room; failing that, the first room characters.
func cut(body string, header, room int) string {
	if room <= 0 {
		return ""
	}
	p := len(body) // byte offset of character number room
	for i := range body {
		if room == 0 {
			p = i
			break
		}
		room--
	}
	if p <= header {
		return body[:p] // the header alone is too long: nothing to save
	}
	// A line boundary, unless that throws away more than half: one huge
	// line (a pasted log) is better cut inside than dropped.
	if i := strings.LastIndexByte(body[header:p], '\n'); i >= 0 && header+i+1 >= p/2 {
		return body[:header+i+1]
	}
	return body[:p]
}

// closers closes what the end of s leaves open: a fenced code block and
// <details> sections, so that what follows renders as text.
func closers(s string) string {
	var out strings.Builder
	if !strings.HasSuffix(s, "\n") {
		out.WriteString("\n")
	}
	fence := ""
	for line := range strings.Lines(s) {
		t := strings.TrimLeft(line, " ")
		if len(line)-len(t) > 3 {
			continue
		}
		t = strings.TrimRight(t, "\r\n")
		switch {
		case fence == "" && (strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~")):
			fence = t[:len(t)-len(strings.TrimLeft(t, t[:1]))]
		case fence != "" && strings.HasPrefix(t, fence) && strings.Trim(t, fence[:1]+" \t") == "":
			fence = ""
		}
	}
	if fence != "" {
		out.WriteString(fence + "\n")
	}
	for range strings.Count(s, "<details") - strings.Count(s, "</details>") {
		out.WriteString("\n</details>\n")
	}
	if out.Len() == 1 {
		return ""
	}
	return out.String()
}
