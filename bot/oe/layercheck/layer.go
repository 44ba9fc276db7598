package layercheck

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Series are the Yocto Project release series a layer may declare in
// LAYERSERIES_COMPAT: the LTS releases and those after scarthgap.
var Series = []string{"kirkstone", "scarthgap", "styhead", "walnascar", "whinlatter"}

// CheckLayer checks a BitBake layer directory: conf/layer.conf exists and
// declares a collection (BBFILE_COLLECTIONS) with its BBFILE_PATTERN,
// BBFILE_PRIORITY and a LAYERSERIES_COMPAT naming known release series;
// BBFILES finds every recipe and append file; every BitBake file in the
// layer parses (CheckBitbake); and every file:// source of a recipe exists
// in the directories BitBake searches (${BP}/, ${BPN}/, files/ beside the
// recipe, and FILESEXTRAPATHS where they can be worked out without
// BitBake, including variables set in layer.conf).
func CheckLayer(dir string) []error {
	var errs []error
	bad := func(file string, line int, format string, args ...any) {
		errs = append(errs, &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	dir = filepath.Clean(dir)
	conf := filepath.Join(dir, "conf", "layer.conf")
	if _, err := os.Stat(conf); err != nil {
		bad(dir, 0, "not a layer: conf/layer.conf is missing")
		return errs
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != dir {
			return filepath.SkipDir
		}
		if !d.IsDir() && isBitbakeFile(dir, p) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		bad(dir, 0, "%v", err)
		return errs
	}
	sort.Strings(files)
	for _, f := range files {
		errs = append(errs, CheckBitbake(f)...)
	}

	// layer.conf: a static evaluation with LAYERDIR set, as BitBake
	// expands it right after reading the file.
	lc := newVars(map[string]string{"LAYERDIR": dir, "LAYERDIR_RE": regexp.QuoteMeta(dir)})
	lines := lc.load(conf)
	lc.expandLayerDir(dir)
	collections := strings.Fields(lc.get("BBFILE_COLLECTIONS"))
	if len(collections) == 0 {
		bad(conf, 0, "BBFILE_COLLECTIONS is not set: the layer declares no collection")
	}
	for _, c := range collections {
		if lc.get("BBFILE_PATTERN_"+c) == "" {
			bad(conf, lines["BBFILE_COLLECTIONS"], "BBFILE_PATTERN_%s is not set", c)
		}
		if p := lc.get("BBFILE_PRIORITY_" + c); p == "" {
			bad(conf, lines["BBFILE_COLLECTIONS"], "BBFILE_PRIORITY_%s is not set", c)
		} else if _, err := strconv.Atoi(p); err != nil {
			bad(conf, lines["BBFILE_PRIORITY_"+c], "BBFILE_PRIORITY_%s = %q is not a whole number", c, p)
		}
		compat := "LAYERSERIES_COMPAT_" + c
		if _, ok := lc.set[compat]; !ok {
			bad(conf, lines["BBFILE_COLLECTIONS"], "%s is missing: BitBake refuses (or warns about) a layer that does not say which release series it works with", compat)
			continue
		}
		names := strings.Fields(lc.get(compat))
		if len(names) == 0 {
			bad(conf, lines[compat], "%s is empty", compat)
		}
		for _, s := range names {
			if !contains(Series, s) {
				bad(conf, lines[compat], "%s names %q, not a known release series (%s)", compat, s, strings.Join(Series, " "))
			}
		}
	}
	patterns := strings.Fields(lc.get("BBFILES"))
	// BBFILES_DYNAMIC: "collection:pattern", read when that layer is there.
	for _, entry := range strings.Fields(lc.get("BBFILES_DYNAMIC")) {
		if _, p, ok := strings.Cut(entry, ":"); ok {
			patterns = append(patterns, p)
		}
	}
	if len(patterns) == 0 {
		bad(conf, 0, "BBFILES is not extended: BitBake finds no recipe in this layer")
	}
	for _, f := range files {
		ext := filepath.Ext(f)
		if ext != ".bb" && ext != ".bbappend" || strings.HasPrefix(rel(dir, f), "lib/") {
			continue // lib/ holds Python, and templates for tools
		}
		found := false
		for _, p := range patterns {
			if ok, _ := filepath.Match(p, f); ok {
				found = true
				break
			}
		}
		if !found && len(patterns) > 0 {
			bad(f, 0, "not matched by BBFILES (%s): BitBake would never read it", strings.Join(patterns, " "))
		}
		errs = append(errs, checkSources(f, lc, dir)...)
	}
	return errs
}

// isBitbakeFile tells BitBake's files in a layer from the sources its
// recipes ship (a recipe's files/ may hold an application's foo.conf or a
// C .inc): .conf and .inc under conf/ (layer, machine and distro
// configuration), classes, recipes and appends anywhere, and an .inc
// beside a recipe, append or class.
func isBitbakeFile(layer, p string) bool {
	r, err := filepath.Rel(layer, p)
	if err != nil {
		return false
	}
	inConf := strings.HasPrefix(filepath.ToSlash(r), "conf/")
	switch filepath.Ext(p) {
	case ".bb", ".bbappend", ".bbclass":
		return true
	case ".conf":
		return inConf
	case ".inc":
		if inConf {
			return true
		}
		for _, pat := range []string{"*.bb", "*.bbappend", "*.bbclass"} {
			if m, _ := filepath.Glob(filepath.Join(filepath.Dir(p), pat)); len(m) > 0 {
				return true
			}
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// vars is a static stand-in for BitBake's datastore: plain assignments and
// the appending operators, ${VAR} expansion, no overrides, no Python.
type vars struct {
	set  map[string]string
	weak map[string]string
}

func newVars(init map[string]string) *vars {
	v := &vars{set: map[string]string{}, weak: map[string]string{}}
	for k, x := range init {
		v.set[k] = x
	}
	return v
}

var refRE = regexp.MustCompile(`\$\{([A-Za-z0-9_\-+.]+)\}`)

// expand replaces ${VAR} with known values; unknown references stay.
func (v *vars) expand(s string) string {
	for i := 0; i < 10 && strings.Contains(s, "${"); i++ {
		next := refRE.ReplaceAllStringFunc(s, func(ref string) string {
			if x, ok := v.lookup(ref[2 : len(ref)-1]); ok {
				return x
			}
			return ref
		})
		if next == s {
			break
		}
		s = next
	}
	return s
}

// expandLayerDir does what BitBake does after reading a layer.conf:
// every reference to ${LAYERDIR} (and ${LAYERDIR_RE}) is replaced by its
// value in place, since LAYERDIR means another layer for the next file.
func (v *vars) expandLayerDir(dir string) {
	r := strings.NewReplacer("${LAYERDIR}", dir, "${LAYERDIR_RE}", regexp.QuoteMeta(dir))
	for _, m := range []map[string]string{v.set, v.weak} {
		for k, x := range m {
			m[k] = r.Replace(x)
		}
	}
}

func (v *vars) lookup(name string) (string, bool) {
	if x, ok := v.set[name]; ok {
		return x, true
	}
	x, ok := v.weak[name]
	return x, ok
}

func (v *vars) get(name string) string {
	x, _ := v.lookup(name)
	return v.expand(x)
}

// assign applies one assignment; name may carry :append/:prepend (applied
// here, since this evaluation knows no later assignments) or other
// overrides (ignored: they depend on the build).
func (v *vars) assign(a assignment) {
	if a.flag != "" {
		return
	}
	base, ovr, _ := strings.Cut(a.name, ":")
	val := a.value
	switch ovr {
	case "":
	case "append":
		v.set[base] = v.set[base] + val
		return
	case "prepend":
		v.set[base] = val + v.set[base]
		return
	default:
		return
	}
	cur, isSet := v.set[base]
	switch a.op {
	case "=":
		v.set[base] = val
	case ":=":
		v.set[base] = v.expand(val)
	case "?=":
		if !isSet {
			v.set[base] = val
		}
	case "??=":
		v.weak[base] = val
	case "+=":
		v.set[base] = strings.TrimPrefix(cur+" "+val, " ")
	case "=+":
		v.set[base] = strings.TrimSuffix(val+" "+cur, " ")
	case ".=":
		v.set[base] = cur + val
	case "=.":
		v.set[base] = val + cur
	}
}

// load evaluates a file's assignments and returns where each variable was
// last assigned.
func (v *vars) load(path string) map[string]int {
	lines := map[string]int{}
	data, err := os.ReadFile(path)
	if err != nil {
		return lines
	}
	for _, st := range statements(string(data)) {
		if a, ok := parseAssignment(st.text); ok {
			v.assign(a)
			base, _, _ := strings.Cut(a.name, ":")
			lines[base] = st.line
		}
	}
	return lines
}

// statements joins a file's continuation lines (functions are skipped).
func statements(text string) []statement {
	var out []statement
	var residue []string
	start := 0
	inFunc, inDef := false, false
	for i, raw := range strings.Split(text, "\n") {
		s := strings.TrimRight(raw, " \t\r\f\v")
		if inFunc {
			inFunc = s != "}"
			continue
		}
		if inDef {
			if s == "" || s[0] == '#' || s[0] == ' ' || s[0] == '\t' {
				continue
			}
			inDef = false
		}
		if strings.HasSuffix(s, "\\") {
			if len(residue) == 0 {
				start = i + 1
			}
			residue = append(residue, s[:len(s)-1])
			continue
		}
		st := statement{line: i + 1, text: s}
		if len(residue) > 0 {
			st = statement{line: start, text: strings.Join(residue, "") + s}
			residue = nil
		}
		if st.text == "" || st.text[0] == '#' {
			continue
		}
		if _, _, ok := funcStart(st.text); ok {
			inFunc = true
			continue
		}
		if defRE.MatchString(st.text) {
			inDef = true
			continue
		}
		out = append(out, st)
	}
	return out
}

// recipeName splits a recipe file name into PN and PV (name_version.bb).
func recipeName(file string) (pn, pv string) {
	base := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(file), ".bbappend"), ".bb")
	pn, pv, ok := strings.Cut(base, "_")
	if !ok || pv == "%" {
		pv = "1.0"
	}
	return pn, pv
}

// dropPython removes ${@...} expressions (with nested braces) from a value.
func dropPython(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "${@")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		depth, end := 0, -1
		for j := i + 1; j < len(s); j++ {
			if s[j] == '{' {
				depth++
			} else if s[j] == '}' {
				depth--
				if depth == 0 {
					end = j
					break
				}
			}
		}
		if end < 0 {
			return b.String()
		}
		b.WriteByte(' ')
		s = s[end+1:]
	}
}

// checkSources checks that each file:// source of a recipe exists.
func checkSources(recipe string, layer *vars, layerDir string) []error {
	pn, pv := recipeName(recipe)
	dir := filepath.Dir(recipe)
	v := newVars(nil)
	for k, x := range layer.set {
		v.set[k] = x
	}
	for k, x := range layer.weak {
		v.weak[k] = x
	}
	for k, x := range map[string]string{"PN": pn, "BPN": basePN(pn), "PV": pv, "P": "${PN}-${PV}", "BP": "${BPN}-${PV}", "FILE_DIRNAME": dir} {
		v.set[k] = x
	}
	delete(v.set, "LAYERDIR")
	c := &sourceCollector{v: v, layerDir: layerDir, seen: map[string]bool{}}
	c.read(recipe, 0)
	search := append(c.extra, filepath.Join(dir, v.get("BP")), filepath.Join(dir, v.get("BPN")), filepath.Join(dir, "files"))
	var errs []error
	for _, s := range c.sources {
		p := v.expand(s.path)
		if strings.Contains(p, "${") {
			continue // depends on the build (PHP_MAJOR_VERSION, MACHINE, ...)
		}
		if filepath.IsAbs(p) {
			if _, err := os.Stat(p); err != nil {
				errs = append(errs, &Error{File: s.file, Line: s.line, Msg: fmt.Sprintf("SRC_URI file://%s does not exist", p)})
			}
			continue
		}
		if !foundIn(search, p) {
			errs = append(errs, &Error{File: s.file, Line: s.line, Msg: fmt.Sprintf("SRC_URI file://%s not found in %s", p, strings.Join(search, ", "))})
		}
	}
	return errs
}

// basePN is BPN: PN without the suffixes and prefix of class extensions.
func basePN(pn string) string {
	for _, suffix := range []string{"-cross-canadian", "-crosssdk", "-cross", "-native", "-initial", "-intermediate"} {
		pn = strings.TrimSuffix(pn, suffix)
	}
	return strings.TrimPrefix(pn, "nativesdk-")
}

type uriSource struct {
	path, file string
	line       int
}

// sourceCollector reads a recipe and the files it requires or includes
// from the same layer, in order, for SRC_URI and FILESEXTRAPATHS.
type sourceCollector struct {
	v        *vars
	layerDir string
	seen     map[string]bool
	sources  []uriSource
	extra    []string
}

var includeRE = regexp.MustCompile(`^(require|include)\s+(.+)$`)

func (c *sourceCollector) read(file string, depth int) {
	if depth > 8 || c.seen[file] {
		return
	}
	c.seen[file] = true
	data, err := os.ReadFile(file)
	if err != nil {
		return
	}
	c.v.set["THISDIR"] = filepath.Dir(file)
	for _, st := range statements(string(data)) {
		if m := includeRE.FindStringSubmatch(st.text); m != nil {
			for _, name := range strings.Fields(c.v.expand(m[2])) {
				if strings.Contains(name, "${") {
					continue
				}
				for _, cand := range []string{filepath.Join(filepath.Dir(file), name), filepath.Join(c.layerDir, name)} {
					if _, err := os.Stat(cand); err == nil {
						c.read(cand, depth+1)
						c.v.set["THISDIR"] = filepath.Dir(file)
						break
					}
				}
			}
			continue
		}
		a, ok := parseAssignment(st.text)
		if !ok || a.flag != "" {
			continue
		}
		base, _, _ := strings.Cut(a.name, ":")
		switch base {
		case "PV", "BPN":
			if !strings.Contains(a.name, ":") && !strings.Contains(a.value, "${@") {
				c.v.set[base] = c.v.expand(a.value)
			}
		case "FILESEXTRAPATHS":
			for _, p := range strings.Split(c.v.expand(a.value), ":") {
				if p != "" && p != "__default" && !strings.Contains(p, "${") {
					c.extra = append(c.extra, p)
				}
			}
		case "SRC_URI":
			for _, tok := range strings.Fields(dropPython(a.value)) {
				if strings.HasPrefix(tok, "file://") {
					p, _, _ := strings.Cut(strings.TrimPrefix(tok, "file://"), ";")
					c.sources = append(c.sources, uriSource{p, file, st.line})
				}
			}
		default:
			if !strings.Contains(a.name, ":") {
				c.v.assign(a)
			}
		}
	}
}

// foundIn reports whether p is in one of dirs or in an override
// subdirectory of one (files/qemuarm64/p), as BitBake's FILESPATH allows.
func foundIn(dirs []string, p string) bool {
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, p)); err == nil {
			return true
		}
		if m, _ := filepath.Glob(filepath.Join(d, "*", p)); len(m) > 0 {
			return true
		}
	}
	return false
}
