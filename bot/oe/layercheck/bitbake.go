package layercheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// What BitBake accepts is modelled on its own parser (bitbake 2.8, the
// scarthgap release: lib/bb/parse/parse_py/ConfHandler.py and BBHandler.py):
// a file is read line by line, trailing whitespace is dropped, lines ending
// in a backslash are joined to the next, and every joined statement must
// start in column 1 and be one of the statements below. A value must be
// quoted, and the closing quote must end the line: BitBake has no
// end-of-line comments.

// syntax says which statements a file may hold.
type syntax int

const (
	syntaxRecipe syntax = iota // .bb, .bbappend, .inc
	syntaxClass                // .bbclass: a recipe file that may EXPORT_FUNCTIONS
	syntaxConf                 // .conf, and kas's local_conf_header / bblayers_conf_header
)

func syntaxOf(path string) (syntax, bool) {
	switch filepath.Ext(path) {
	case ".bb", ".bbappend", ".inc":
		return syntaxRecipe, true
	case ".bbclass":
		return syntaxClass, true
	case ".conf":
		return syntaxConf, true
	}
	return 0, false
}

// CheckBitbake checks the syntax of one BitBake file (.bb, .bbappend,
// .bbclass, .inc or .conf) the way BitBake's parser reads it. Each error
// is an *Error naming the file and line. It checks syntax only: variables
// are not expanded and included files are not read.
func CheckBitbake(path string) []error {
	kind, ok := syntaxOf(path)
	if !ok {
		return []error{&Error{File: path, Msg: "not a BitBake file (want .bb, .bbappend, .bbclass, .inc or .conf)"}}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return []error{&Error{File: path, Msg: err.Error()}}
	}
	return checkSource(path, string(data), 1, kind)
}

// statement is one joined logical line.
type statement struct {
	line int // where it starts
	text string
}

// checkSource checks text whose first line is line first of file.
func checkSource(file, text string, first int, kind syntax) []error {
	var errs []error
	bad := func(line int, format string, args ...any) {
		errs = append(errs, &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	var (
		inFunc         bool // shell or python function with braces
		funcName       string
		funcLine       int
		funcPython     bool
		inDef          bool // python def block
		residue        []string
		residueLine    int
		residueComment bool
	)
	lines := strings.Split(text, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, raw := range lines {
		n := first + i
		s := strings.TrimRight(raw, " \t\r\f\v")
		if inFunc {
			if s == "}" {
				inFunc = false
			}
			continue
		}
		if inDef {
			if s == "" || s[0] == '#' || s[0] == ' ' || s[0] == '\t' {
				continue
			}
			inDef = false
		}
		if s != "" && s[0] == '#' && len(residue) > 0 && !residueComment {
			bad(n, "comment inside a multi-line statement that starts at line %d: BitBake refuses this; move the comment above the statement", residueLine)
			continue
		}
		if len(residue) > 0 && residueComment && (s == "" || s[0] != '#') {
			bad(residueLine, "comment ends with \\ and so continues into line %d, which is not a comment: BitBake cannot tell whether it is all a comment", n)
			residue = nil
		}
		if strings.HasSuffix(s, "\\") {
			if len(residue) == 0 {
				residueLine = n
				residueComment = s[0] == '#'
			}
			residue = append(residue, s[:len(s)-1])
			continue
		}
		st := statement{line: n, text: s}
		if len(residue) > 0 {
			st = statement{line: residueLine, text: strings.Join(residue, "") + s}
			residue = nil
		}
		if st.text == "" || st.text[0] == '#' {
			continue
		}
		switch r := checkStatement(st, kind); r.kind {
		case stmtFunc:
			inFunc, funcName, funcLine, funcPython = true, r.name, st.line, r.python
			if r.msg != "" {
				bad(st.line, "%s", r.msg)
			}
		case stmtDef:
			inDef = true
		case stmtBad:
			bad(st.line, "%s", r.msg)
		}
	}
	last := first + len(lines) - 1
	if inFunc {
		what := "shell function"
		if funcPython {
			what = "python function"
		}
		bad(funcLine, "%s %s is never closed: it ends at a line holding only } in column 1 (reached the end at line %d)", what, funcName, last)
	}
	if len(residue) > 0 {
		bad(residueLine, "the file ends inside a \\ line continuation")
	}
	return errs
}

type stmtKind int

const (
	stmtOK stmtKind = iota
	stmtFunc
	stmtDef
	stmtBad
)

type stmtResult struct {
	kind   stmtKind
	name   string // function name
	python bool
	msg    string // the problem (stmtBad), or a problem of a function that still opens (stmtFunc)
}

var (
	funcRestRE    = regexp.MustCompile(`^([\w.\-+{}$:]+)?\s*\(\s*\)\s*\{$`)
	defRE         = regexp.MustCompile(`^def\s+(\w+).*:`)
	wordsRE       = regexp.MustCompile(`^(EXPORT_FUNCTIONS|addtask|deltask|addhandler|inherit|inherit_defer|include|require|addpylib|unset|export)(\s+(.*))?$`)
	taskNameRE    = regexp.MustCompile(`^\w+$`)
	exportRE      = regexp.MustCompile(`^export\s+[a-zA-Z0-9\-_+.${}/~]+$`)
	unsetRE       = regexp.MustCompile(`^unset\s+[a-zA-Z0-9\-_+.${}/~]+$`)
	unsetFlagRE   = regexp.MustCompile(`^unset\s+[a-zA-Z0-9\-_+.${}/~]+\[[a-zA-Z0-9\-_+.][a-zA-Z0-9\-_+.@]+\]$`)
	addpylibRE    = regexp.MustCompile(`^addpylib\s+(.+)\s+(.+)`)
	threeQuotesRE = map[byte]*regexp.Regexp{
		'"':  regexp.MustCompile(`^"[^"]*"[^"]*"$`),
		'\'': regexp.MustCompile(`^'[^']*'[^']*'$`),
	}
	// looseAssignRE finds what was meant as an assignment, to explain why
	// it is not one.
	looseAssignRE = regexp.MustCompile(`^(export\s+)?([a-zA-Z0-9\-_+.${}/~:]+)(\[[^\]]*\])?\s*(\?\?=|\?=|:=|\+=|=\+|=\.|\.=|=)\s*(.*)$`)
	varNameRE     = regexp.MustCompile(`^[a-zA-Z0-9\-_+.${}/~:]+$`)
	flagNameRE    = regexp.MustCompile(`^[a-zA-Z0-9\-_+.][a-zA-Z0-9\-_+.@]*$`)
	oldPkgVarRE   = regexp.MustCompile(`^(RDEPENDS|RRECOMMENDS|RSUGGESTS|RPROVIDES|RREPLACES|RCONFLICTS|FILES|ALLOW_EMPTY|CONFFILES|INITSCRIPT_NAME|INITSCRIPT_PARAMS|SYSTEMD_SERVICE|SYSTEMD_AUTO_ENABLE|SUMMARY|DESCRIPTION|LICENSE|INSANE_SKIP|PKG|pkg_postinst|pkg_postrm|pkg_preinst|pkg_prerm|pkg_postinst_ontarget)_\$\{PN\}`)
)

// checkStatement classifies one joined statement.
func checkStatement(st statement, kind syntax) stmtResult {
	s := st.text
	bad := func(format string, args ...any) stmtResult {
		return stmtResult{kind: stmtBad, msg: fmt.Sprintf(format, args...)}
	}
	if s[0] == ' ' || s[0] == '\t' {
		return bad("statement does not start in column 1: BitBake reads %q as an unparsable line (a missing \\ on the line before, or a function's } indented?)", short(strings.TrimSpace(s)))
	}
	if kind != syntaxConf {
		if name, python, ok := funcStart(s); ok {
			r := stmtResult{kind: stmtFunc, name: name, python: python}
			if oldPkgVarRE.MatchString(name) {
				r.msg = fmt.Sprintf("old override syntax in function name %s: write %s", name, strings.Replace(name, "_${PN}", ":${PN}", 1))
			}
			return r
		}
		if defRE.MatchString(s) {
			return stmtResult{kind: stmtDef}
		}
	}
	if a, ok := parseAssignment(s); ok {
		return checkAssignment(a)
	}
	if m := wordsRE.FindStringSubmatch(s); m != nil {
		word, arg := m[1], strings.TrimSpace(m[3])
		recipeOnly := map[string]bool{"EXPORT_FUNCTIONS": true, "addtask": true, "deltask": true, "addhandler": true, "inherit": true, "inherit_defer": true}
		if kind == syntaxConf && recipeOnly[word] {
			if word == "inherit" {
				return bad("inherit is not allowed in a .conf file: write INHERIT += \"%s\"", arg)
			}
			return bad("%s is only allowed in recipes and classes, not in a .conf file", word)
		}
		if arg == "" && word != "export" && word != "unset" {
			return bad("%s without an argument", word)
		}
		switch word {
		case "EXPORT_FUNCTIONS":
			if kind != syntaxClass {
				return bad("EXPORT_FUNCTIONS outside a .bbclass: only classes export functions")
			}
		case "addtask":
			return checkAddtask(s)
		case "addpylib":
			if kind != syntaxConf || !addpylibRE.MatchString(s) {
				return bad("addpylib belongs in a layer's conf/layer.conf and takes a directory and a module name")
			}
		case "export":
			if !exportRE.MatchString(s) {
				return bad("export takes one variable name (or an assignment with a quoted value): %q", short(s))
			}
		case "unset":
			if !unsetRE.MatchString(s) && !unsetFlagRE.MatchString(s) {
				return bad("unset takes one variable name or VAR[flag]: %q", short(s))
			}
		}
		return stmtResult{}
	}
	return explain(s, kind)
}

// funcStart recognises "[python] [fakeroot] name() {" and "python () {".
func funcStart(s string) (name string, python, ok bool) {
	rest := s
	for {
		if strings.HasPrefix(rest, "python") && len(rest) > 6 && (isSpace(rest[6]) || rest[6] == '(') {
			python = true
			rest = strings.TrimLeft(rest[6:], " \t")
			continue
		}
		if strings.HasPrefix(rest, "fakeroot") && len(rest) > 8 && isSpace(rest[8]) {
			rest = strings.TrimLeft(rest[8:], " \t")
			continue
		}
		break
	}
	m := funcRestRE.FindStringSubmatch(rest)
	if m == nil {
		return "", false, false
	}
	name = m[1]
	if name == "" {
		name = "__anonymous"
	}
	return name, python, true
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '\v'
}

func checkAddtask(s string) stmtResult {
	f := strings.Fields(s)
	if !taskNameRE.MatchString(f[1]) {
		return stmtResult{kind: stmtBad, msg: fmt.Sprintf("addtask: task name %q must be letters, digits and _", f[1])}
	}
	seen := map[string]bool{}
	var cur string
	n := 0
	for _, w := range f[2:] {
		if w == "before" || w == "after" {
			if seen[w] {
				return stmtResult{kind: stmtBad, msg: fmt.Sprintf("addtask %s: %q given twice; BitBake uses only one, list all tasks after a single %q", f[1], w, w)}
			}
			if cur != "" && n == 0 {
				return stmtResult{kind: stmtBad, msg: fmt.Sprintf("addtask %s: %q names no task", f[1], cur)}
			}
			seen[w], cur, n = true, w, 0
			continue
		}
		if cur == "" {
			return stmtResult{kind: stmtBad, msg: fmt.Sprintf("addtask %s: BitBake ignores %q: want before/after followed by task names", f[1], strings.Join(f[2:], " "))}
		}
		n++
	}
	if cur != "" && n == 0 {
		return stmtResult{kind: stmtBad, msg: fmt.Sprintf("addtask %s: %q names no task", f[1], cur)}
	}
	return stmtResult{}
}

// assignment is "[export] VAR[flag] op 'value'" as BitBake parses it.
type assignment struct {
	export bool
	name   string // with overrides, e.g. SRC_URI:append:class-target
	flag   string
	op     string // =, ?=, ??=, :=, +=, =+, .=, =.
	value  string // without the quotes
}

// ops in the order BitBake's regular expression tries them.
var ops = []string{":=", "??=", "?=", "+=", "=+", "=.", ".=", "="}

func isVarChar(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || strings.IndexByte("-_+.${}/~:", b) >= 0
}

// parseAssignment reproduces BitBake's __config_regexp__ (a lazy variable
// name, an optional [flag], an operator, a value in matching quotes that
// end the line, and not exactly three quotes of that kind).
func parseAssignment(s string) (assignment, bool) {
	try := func(s string, export bool) (assignment, bool) {
		for i := 1; i <= len(s) && isVarChar(s[i-1]); i++ {
			name, rest := s[:i], s[i:]
			for _, withFlag := range []bool{true, false} {
				r, flag := rest, ""
				if withFlag {
					if !strings.HasPrefix(r, "[") {
						continue
					}
					end := strings.IndexByte(r, ']')
					if end < 0 || !flagNameRE.MatchString(r[1:end]) {
						continue
					}
					flag, r = r[1:end], r[end+1:]
				}
				r = strings.TrimLeft(r, " \t\n\r\f\v")
				for _, op := range ops {
					if !strings.HasPrefix(r, op) {
						continue
					}
					v := strings.TrimLeft(r[len(op):], " \t\n\r\f\v")
					if len(v) < 2 || (v[0] != '"' && v[0] != '\'') || v[len(v)-1] != v[0] {
						continue
					}
					if threeQuotesRE[v[0]].MatchString(v) {
						continue
					}
					return assignment{export: export, name: name, flag: flag, op: op, value: v[1 : len(v)-1]}, true
				}
			}
		}
		return assignment{}, false
	}
	if strings.HasPrefix(s, "export") && len(s) > 6 && isSpace(s[6]) {
		if a, ok := try(strings.TrimLeft(s[6:], " \t"), true); ok {
			return a, true
		}
	}
	return try(s, false)
}

func checkAssignment(a assignment) stmtResult {
	if !strings.HasPrefix(a.name, "__anon_") {
		for _, kw := range []string{"_append", "_prepend", "_remove"} {
			if strings.Contains(a.name, kw) {
				return stmtResult{kind: stmtBad, msg: fmt.Sprintf("old override syntax in %s: BitBake 2 stops at %s; write %s", a.name, kw, strings.Replace(a.name, kw, ":"+kw[1:], 1))}
			}
		}
	}
	if oldPkgVarRE.MatchString(a.name) {
		return stmtResult{kind: stmtBad, msg: fmt.Sprintf("old override syntax in %s: write %s", a.name, strings.Replace(a.name, "_${PN}", ":${PN}", 1))}
	}
	for _, part := range strings.Split(a.name, ":")[1:] {
		if part == "" {
			return stmtResult{kind: stmtBad, msg: fmt.Sprintf("empty override in %s (a doubled or trailing :)", a.name)}
		}
	}
	return stmtResult{}
}

// explain says why a statement is not BitBake.
func explain(s string, kind syntax) stmtResult {
	bad := func(format string, args ...any) stmtResult {
		return stmtResult{kind: stmtBad, msg: fmt.Sprintf(format, args...)}
	}
	if m := looseAssignRE.FindStringSubmatch(s); m != nil {
		name, flag, v := m[2], m[3], m[5]
		if flag != "" && !flagNameRE.MatchString(flag[1:len(flag)-1]) {
			return bad("bad flag name %s on %s", flag, name)
		}
		switch {
		case v == "":
			return bad("%s has no value: write %s %s \"\"", name, name, m[4])
		case v[0] != '"' && v[0] != '\'':
			return bad("the value of %s is not quoted: write %s %s \"%s\"", name, name, m[4], short(v))
		}
		q := v[0]
		if end := strings.LastIndexByte(v, q); end > 0 && end < len(v)-1 {
			return bad("text after the closing quote of %s's value: %q (BitBake has no end-of-line comments; put a comment on its own line)", name, short(v[end+1:]))
		}
		if len(v) >= 2 && v[len(v)-1] == q {
			return bad("ambiguous quotes in %s's value: three %c characters; use the other kind of quote around the value", name, q)
		}
		return bad("unbalanced quote: %s's value opens with %c and never closes it (a missing \\ at the end of a line, or a missing quote)", name, q)
	}
	f := strings.Fields(s)
	if len(f) >= 2 && varNameRE.MatchString(f[0]) && (f[1][0] == '"' || f[1][0] == '\'') {
		return bad("assignment to %s without an operator: use =, ?=, ??=, :=, +=, =+, .= or =.", f[0])
	}
	if kind == syntaxConf && strings.HasSuffix(s, "{") && strings.Contains(s, "(") {
		return bad("function definitions are not allowed in a .conf file")
	}
	return bad("unparsable line %q: not an assignment with a quoted value, a function, or an inherit/include/require/export/unset/addtask/deltask statement", short(s))
}

func short(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}
