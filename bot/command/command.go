// Package command finds tcbot's slash commands in a GitHub comment and
// describes them for `/tcbot help` and the README.
//
// Table is the one list of commands: Parse accepts exactly its names and
// Help renders it, so the help a user reads and the commands the bot obeys
// cannot drift apart.
//
// Parse reads a comment the way GitHub renders it, closely enough that what
// a reader sees as a command is one and what they see as code or a quotation
// is not: a command is a line that starts (after at most three spaces)
// with "/tcbot"; lines in fenced code blocks, indented code blocks, block
// quotes and HTML comments are never commands. Parse is pure and safe for
// concurrent use. It does not decide who may run a command: that needs the
// repository's permissions, which the caller looks up (Spec.NeedsWrite).
package command

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Prefix starts every command. It is case-sensitive.
const Prefix = "/tcbot"

// Spec describes one command.
type Spec struct {
	Name    string // the word after "/tcbot"
	Args    string // argument synopsis for help, "" when it takes none
	Summary string // what it does, one sentence for help
	// NeedsWrite is set for commands only users with write, maintain or
	// admin permission on the repository may run.
	NeedsWrite bool
}

// Table lists every command tcbot obeys, in the order help shows them.
var Table = []Spec{
	{Name: "help", Summary: "list these commands"},
	{Name: "rerun", Args: "[target...] [--base @NAME]", Summary: "measure this pull request again (all targets, or the named ones), against its merge base or a baseline the repository pins", NeedsWrite: true},
	{Name: "ok-to-test", Args: "[sha]", Summary: "allow tcbot to test this pull request from an author without write access; holds for the one head commit you reviewed (the head when you commented, or the one named), never for a later push", NeedsWrite: true},
	{Name: "bisect", Summary: "find the commit of this pull request that causes its regression", NeedsWrite: true},
	{Name: "cancel", Summary: "cancel this pull request's queued and running measurements and bisections", NeedsWrite: true},
	{Name: "accept", Args: "[why...]", Summary: "on a sweep's regression issue: the regression is intended; the branch's baseline moves to the regressed head, and who accepted it and why is recorded", NeedsWrite: true},
}

// Lookup returns the Spec of the named command.
func Lookup(name string) (Spec, bool) {
	for _, s := range Table {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// Command is one command found in a comment.
type Command struct {
	Name string   // a Name from Table
	Args []string // the whitespace-separated words after the name; nil if none
	Line int      // 1-based line of the comment it is on
}

// String returns the command as a user would type it.
func (c Command) String() string {
	return strings.Join(append([]string{Prefix, c.Name}, c.Args...), " ")
}

// Parse returns the commands in a comment body, in order, duplicates
// included. "/tcbot" alone means help. The words after "/tcbot" that name no
// command in Table are returned in unknown, in order, so the caller can say
// so; their lines yield no Command.
//
// The Markdown rules followed are CommonMark's, simplified to what decides
// whether a line is one a reader sees as plain text at the start of a line:
//   - at most three columns of indentation (a tab counts to the next
//     multiple of four); more is an indented code block or a continuation;
//   - fenced code blocks (``` or ~~~, three or more, closed by a run of the
//     same character at least as long) are skipped, also when opened in a
//     top-level list item; an unclosed fence runs to the end of the comment;
//   - lines starting with ">" (block quotes, also nested, and the quoted
//     part of an e-mail reply) are skipped; a line after a quote that does
//     not start with ">" is the author's own text, not a lazy continuation;
//   - HTML comments starting a line, up to the line holding "-->", are
//     skipped: GitHub does not show them, so they must not act;
//   - CRLF and LF line endings are both accepted.
func Parse(body string) (cmds []Command, unknown []string) {
	body = strings.TrimPrefix(body, "\ufeff")
	var (
		fence       *fence // the open fenced code block, if any
		htmlComment bool   // inside an HTML comment block
	)
	for i, line := range strings.Split(body, "\n") {
		line = strings.TrimSuffix(line, "\r")
		lineNo := i + 1

		if htmlComment {
			if strings.Contains(line, "-->") {
				htmlComment = false
			}
			continue
		}
		if fence != nil {
			if fence.closedBy(line) {
				fence = nil
				continue
			}
			if !fence.endsContainer(line) {
				continue
			}
			// The list item holding the fence ended, and the fence with it:
			// this line is read as any other.
			fence = nil
		}

		width, rest := indentation(line)
		if width > 3 {
			continue // indented code, or the continuation of something else
		}
		if f := openFence(width, rest); f != nil {
			fence = f
			continue
		}
		if strings.HasPrefix(rest, "<!--") {
			htmlComment = !strings.Contains(rest[len("<!--"):], "-->")
			continue
		}
		// Block quotes (rest starts with '>') and everything else that does
		// not start with the prefix fall through here.
		after, ok := strings.CutPrefix(rest, Prefix)
		if !ok {
			continue
		}
		if after != "" {
			if r, _ := utf8.DecodeRuneInString(after); !unicode.IsSpace(r) {
				continue // "/tcbotx", "/tcbot/..." and the like
			}
		}
		words := strings.Fields(after)
		if len(words) == 0 {
			cmds = append(cmds, Command{Name: "help", Line: lineNo})
			continue
		}
		if _, ok := Lookup(words[0]); !ok {
			unknown = append(unknown, words[0])
			continue
		}
		c := Command{Name: words[0], Line: lineNo}
		if len(words) > 1 {
			c.Args = words[1:]
		}
		cmds = append(cmds, c)
	}
	return cmds, unknown
}

// indentation returns the width of line's leading blanks, with tabs
// advancing to the next multiple of four as in CommonMark, and the rest of
// the line.
func indentation(line string) (width int, rest string) {
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case ' ':
			width++
		case '\t':
			width += 4 - width%4
		default:
			return width, line[i:]
		}
	}
	return width, ""
}

// fence is an open fenced code block.
type fence struct {
	char   byte // '`' or '~'
	length int  // length of the opening run
	// container is the content column of the list item the fence was opened
	// in, 0 at top level. The fence's lines are indented at least this far;
	// a less indented line ends the item and the fence.
	container int
}

// openFence reports the fence that a line opens, given its indentation
// width (at most 3) and the rest of the line, or nil. A fence may follow the
// marker of a top-level list item ("- ```", "1. ~~~").
func openFence(width int, rest string) *fence {
	container := 0
	if n, m := listMarker(rest); n > 0 {
		container = width + n + m
		rest = rest[n+m:]
	}
	if rest == "" || (rest[0] != '`' && rest[0] != '~') {
		return nil
	}
	c := rest[0]
	length := runLength(rest, c)
	if length < 3 {
		return nil
	}
	// A backtick fence's info string may not hold a backtick: "```x```" on
	// one line is inline code, not a fence.
	if c == '`' && strings.IndexByte(rest[length:], '`') >= 0 {
		return nil
	}
	return &fence{char: c, length: length, container: container}
}

// listMarker returns the length of a list item marker at the start of s
// ("-", "*", "+", or one to nine digits and "." or ")") and of the spaces
// after it (one to four), or zeros if s does not start with one.
func listMarker(s string) (marker, spaces int) {
	switch {
	case s == "":
		return 0, 0
	case s[0] == '-' || s[0] == '*' || s[0] == '+':
		marker = 1
	default:
		digits := 0
		for digits < len(s) && digits < 9 && s[digits] >= '0' && s[digits] <= '9' {
			digits++
		}
		if digits == 0 || digits >= len(s) || (s[digits] != '.' && s[digits] != ')') {
			return 0, 0
		}
		marker = digits + 1
	}
	for marker+spaces < len(s) && s[marker+spaces] == ' ' && spaces < 4 {
		spaces++
	}
	if spaces == 0 {
		return 0, 0
	}
	return marker, spaces
}

// closedBy reports whether line closes the fence: at most three columns
// past the fence's container, a run of its character at least as long as
// the opening one, and nothing else but blanks.
func (f *fence) closedBy(line string) bool {
	width, rest := indentation(line)
	if width > f.container+3 || rest == "" || rest[0] != f.char {
		return false
	}
	n := runLength(rest, f.char)
	return n >= f.length && strings.TrimRight(rest[n:], " \t") == ""
}

// endsContainer reports whether line, inside the fence, is a non-blank line
// indented less than the list item the fence was opened in.
func (f *fence) endsContainer(line string) bool {
	if f.container == 0 {
		return false
	}
	width, rest := indentation(line)
	return rest != "" && width < f.container
}

func runLength(s string, c byte) int {
	n := 0
	for n < len(s) && s[n] == c {
		n++
	}
	return n
}

// Help returns the commands as a Markdown table, for `/tcbot help` replies
// and the README.
func Help() string {
	var b strings.Builder
	b.WriteString("| command | does | who may use it |\n| --- | --- | --- |\n")
	for _, s := range Table {
		usage := Prefix + " " + s.Name
		if s.Args != "" {
			usage += " " + s.Args
		}
		who := "anyone"
		if s.NeedsWrite {
			who = "write, maintain or admin"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", usage, escapeCell(s.Summary), who)
	}
	return b.String()
}

// escapeCell keeps a table cell in its column.
func escapeCell(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}
