package command

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    []Command
		unknown []string
	}{
		{
			name: "one command",
			body: "/tcbot rerun",
			want: []Command{{Name: "rerun", Line: 1}},
		},
		{
			name: "command with targets",
			body: "Looks noisy.\n/tcbot rerun armv8-qemu  armv7-qemu\nThanks",
			want: []Command{{Name: "rerun", Args: []string{"armv8-qemu", "armv7-qemu"}, Line: 2}},
		},
		{
			name: "trailing text is args",
			body: "/tcbot ok-to-test looks fine to me",
			want: []Command{{Name: "ok-to-test", Args: []string{"looks", "fine", "to", "me"}, Line: 1}},
		},
		{
			name: "prefix alone means help",
			body: "/tcbot",
			want: []Command{{Name: "help", Line: 1}},
		},
		{
			name: "prefix alone with trailing blanks means help",
			body: "hi\n/tcbot \t \n",
			want: []Command{{Name: "help", Line: 2}},
		},
		{
			name: "two commands",
			body: "/tcbot ok-to-test\n\n/tcbot rerun armv7-qemu\n",
			want: []Command{{Name: "ok-to-test", Line: 1}, {Name: "rerun", Args: []string{"armv7-qemu"}, Line: 3}},
		},
		{
			name: "duplicates kept in order",
			body: "/tcbot rerun\n/tcbot cancel\n/tcbot rerun",
			want: []Command{{Name: "rerun", Line: 1}, {Name: "cancel", Line: 2}, {Name: "rerun", Line: 3}},
		},
		{
			name:    "unknown command",
			body:    "/tcbot frobnicate now",
			unknown: []string{"frobnicate"},
		},
		{
			name:    "unknown and known commands",
			body:    "/tcbot Rerun\n/tcbot bisect\n/tcbot retest",
			want:    []Command{{Name: "bisect", Line: 2}},
			unknown: []string{"Rerun", "retest"},
		},
		{
			name: "crlf",
			body: "Please\r\n/tcbot rerun armv8-qemu\r\n/tcbot\r\n",
			want: []Command{{Name: "rerun", Args: []string{"armv8-qemu"}, Line: 2}, {Name: "help", Line: 3}},
		},
		{
			name: "up to three spaces of indentation",
			body: " /tcbot rerun\n   /tcbot cancel",
			want: []Command{{Name: "rerun", Line: 1}, {Name: "cancel", Line: 2}},
		},
		{
			name: "indented code block",
			body: "Run this:\n\n    /tcbot rerun\n\n\t/tcbot cancel\n  \t/tcbot bisect\n",
		},
		{
			name: "indented code block at start",
			body: "    /tcbot rerun\n/tcbot cancel",
			want: []Command{{Name: "cancel", Line: 2}},
		},
		{
			name: "command in a fenced block",
			body: "Try:\n```\n/tcbot rerun\n```\n/tcbot cancel",
			want: []Command{{Name: "cancel", Line: 5}},
		},
		{
			name: "fence with info string",
			body: "```markdown\n/tcbot rerun\n```",
		},
		{
			name: "tilde fence",
			body: "~~~\n/tcbot rerun\n~~~\n/tcbot bisect",
			want: []Command{{Name: "bisect", Line: 4}},
		},
		{
			name: "closing fence must use the opening character",
			body: "~~~\n/tcbot rerun\n```\n/tcbot cancel\n~~~\n/tcbot bisect",
			want: []Command{{Name: "bisect", Line: 6}},
		},
		{
			name: "closing fence must be at least as long",
			body: "`````\n```\n/tcbot rerun\n````\n/tcbot cancel\n``````\n/tcbot bisect",
			want: []Command{{Name: "bisect", Line: 7}},
		},
		{
			name: "closing fence with text after it does not close",
			body: "```\n``` not a close\n/tcbot rerun\n```\n/tcbot cancel",
			want: []Command{{Name: "cancel", Line: 5}},
		},
		{
			name: "indented fence",
			body: "   ```\n/tcbot rerun\n  ```\n/tcbot cancel",
			want: []Command{{Name: "cancel", Line: 4}},
		},
		{
			name: "fence in a code block opens nothing",
			body: "    ```\n/tcbot rerun",
			want: []Command{{Name: "rerun", Line: 2}},
		},
		{
			name: "unterminated fence ignores the rest",
			body: "/tcbot ok-to-test\n```\n/tcbot rerun\n\n/tcbot cancel\n",
			want: []Command{{Name: "ok-to-test", Line: 1}},
		},
		{
			name: "inline code spanning a line is no fence",
			body: "```/tcbot rerun```\n/tcbot cancel",
			want: []Command{{Name: "cancel", Line: 2}},
		},
		{
			name: "fence in a list item",
			body: "- run\n  ```\n  /tcbot rerun\n  ```\n/tcbot cancel",
			want: []Command{{Name: "cancel", Line: 5}},
		},
		{
			name: "fence opened on a list item's line",
			body: "1. ```\n   /tcbot rerun\n   ```\n/tcbot cancel",
			want: []Command{{Name: "cancel", Line: 4}},
		},
		{
			name: "list item ending ends its fence",
			body: "- ```\n  /tcbot rerun\n/tcbot cancel",
			want: []Command{{Name: "cancel", Line: 3}},
		},
		{
			name: "command in a block quote",
			body: "> /tcbot rerun\n>/tcbot cancel\n   > /tcbot bisect",
		},
		{
			name: "nested block quote",
			body: "> > /tcbot rerun\n> >\n> > /tcbot cancel",
		},
		{
			name: "command quoted in a reply",
			body: "> Could someone run\n> /tcbot rerun armv7-qemu\n\nSure:\n/tcbot rerun armv8-qemu",
			want: []Command{{Name: "rerun", Args: []string{"armv8-qemu"}, Line: 5}},
		},
		{
			name: "e-mail reply",
			body: "Done.\n\nOn Mon, 3 Jun 2024 at 10:12, Jane Doe <jane@example.org> wrote:\n> /tcbot rerun\n>\n> > /tcbot bisect\n",
		},
		{
			name: "fence inside a quote",
			body: "> ```\n> /tcbot rerun\n> ```\n/tcbot cancel",
			want: []Command{{Name: "cancel", Line: 4}},
		},
		{
			name: "inline code mid-line",
			body: "You can type `/tcbot rerun` to measure again.\n`/tcbot cancel` too",
		},
		{
			name: "not at line start",
			body: "please /tcbot rerun\n- /tcbot cancel\n\\/tcbot bisect",
		},
		{
			name: "prefix needs a word break",
			body: "/tcbotx rerun\n/tcbot/rerun\n/tcbot-rerun\n/TCBOT rerun",
		},
		{
			name: "tab after prefix",
			body: "/tcbot\trerun\tarmv7-qemu",
			want: []Command{{Name: "rerun", Args: []string{"armv7-qemu"}, Line: 1}},
		},
		{
			name: "html comment",
			body: "<!-- hidden\n/tcbot rerun\n-->\n/tcbot cancel\n<!-- /tcbot bisect -->\n/tcbot ok-to-test",
			want: []Command{{Name: "cancel", Line: 4}, {Name: "ok-to-test", Line: 6}},
		},
		{
			name: "byte order mark",
			body: "\ufeff/tcbot rerun",
			want: []Command{{Name: "rerun", Line: 1}},
		},
		{
			name: "empty",
			body: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, unknown := Parse(tt.body)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q) commands:\n got %v\nwant %v", tt.body, got, tt.want)
			}
			if !reflect.DeepEqual(unknown, tt.unknown) {
				t.Errorf("Parse(%q) unknown = %q, want %q", tt.body, unknown, tt.unknown)
			}
		})
	}
}

func TestTable(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range Table {
		if s.Name == "" || strings.IndexFunc(s.Name, unicode.IsSpace) >= 0 {
			t.Errorf("bad command name %q", s.Name)
		}
		if seen[s.Name] {
			t.Errorf("command %q listed twice", s.Name)
		}
		seen[s.Name] = true
		if s.Summary == "" {
			t.Errorf("command %q has no summary", s.Name)
		}
		// Each command in the table must be one Parse accepts.
		got, unknown := Parse(Prefix + " " + s.Name)
		if len(got) != 1 || got[0].Name != s.Name || unknown != nil {
			t.Errorf("Parse(%q) = %v, %q", Prefix+" "+s.Name, got, unknown)
		}
	}
	// DESIGN.md names these; help is open to everyone, the rest need write
	// permission.
	for _, name := range []string{"help", "rerun", "ok-to-test", "bisect", "cancel"} {
		s, ok := Lookup(name)
		if !ok {
			t.Errorf("command %q missing from Table", name)
			continue
		}
		if s.NeedsWrite != (name != "help") {
			t.Errorf("%s: NeedsWrite = %v", name, s.NeedsWrite)
		}
	}
	if _, ok := Lookup("frobnicate"); ok {
		t.Error(`Lookup("frobnicate") found a command`)
	}
}

func TestHelp(t *testing.T) {
	got := Help()
	golden := filepath.Join("testdata", "help.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("Help() differs from %s (run go test -update if intended):\n%s", golden, got)
	}
	// Every command in the table appears in help, and help's own commands
	// are ones Parse would ignore, so a bot that posts help cannot command
	// itself.
	for _, s := range Table {
		if !strings.Contains(got, "`"+Prefix+" "+s.Name) {
			t.Errorf("help does not mention %s", s.Name)
		}
	}
	if cmds, unknown := Parse(got); cmds != nil || unknown != nil {
		t.Errorf("Parse(Help()) = %v, %q; want nothing", cmds, unknown)
	}
}

func TestCommandString(t *testing.T) {
	c := Command{Name: "rerun", Args: []string{"armv7-qemu", "armv8-qemu"}}
	if got, want := c.String(), "/tcbot rerun armv7-qemu armv8-qemu"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	cmds, _ := Parse(c.String())
	if len(cmds) != 1 || !reflect.DeepEqual(cmds[0].Args, c.Args) {
		t.Errorf("Parse(String()) = %v", cmds)
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"/tcbot rerun armv8-qemu",
		"/tcbot",
		"> /tcbot rerun\n/tcbot cancel",
		"```\n/tcbot rerun\n```\n/tcbot bisect",
		"~~~~\r\n/tcbot rerun\r\n~~~\r\n",
		"- ```\n  /tcbot rerun\n/tcbot ok-to-test",
		"<!--\n/tcbot rerun\n-->",
		"    /tcbot rerun\n\t/tcbot cancel",
		"/tcbot frobnicate\n/tcbot\u00a0rerun",
		"1) ~~~\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		cmds, unknown := Parse(body)
		lines := strings.Count(body, "\n") + 1
		last := 0
		for _, c := range cmds {
			if _, ok := Lookup(c.Name); !ok {
				t.Fatalf("command %q is not in Table", c.Name)
			}
			if c.Line < 1 || c.Line > lines || c.Line < last {
				t.Fatalf("command %v: line %d out of order or outside 1..%d", c, c.Line, lines)
			}
			last = c.Line
			if c.Args != nil && len(c.Args) == 0 {
				t.Fatalf("command %v: empty non-nil args", c)
			}
			for _, a := range c.Args {
				if a == "" || strings.IndexFunc(a, unicode.IsSpace) >= 0 {
					t.Fatalf("command %v: bad arg %q", c, a)
				}
			}
		}
		for _, u := range unknown {
			if _, ok := Lookup(u); ok || u == "" {
				t.Fatalf("unknown %q is a command or empty", u)
			}
		}
		// A comment quoted in a reply commands nothing.
		quoted := "> " + strings.ReplaceAll(body, "\n", "\n> ")
		if cmds, unknown := Parse(quoted); cmds != nil || unknown != nil {
			t.Fatalf("quoted comment gave %v, %q", cmds, unknown)
		}
	})
}
