package layercheck_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcbot/tcbot/bot/oe/layercheck"
)

// repoRoot is the root of this repository (bot/oe/layercheck is three
// levels down).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found from %s: %v", root, err)
	}
	return root
}

// writeTree writes files (slash-separated paths) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// asErrors turns CheckKas's joined error back into its parts.
func asErrors(err error) []error {
	if err == nil {
		return nil
	}
	if u, ok := err.(interface{ Unwrap() []error }); ok {
		return u.Unwrap()
	}
	return []error{err}
}

// wantOne checks that errs holds an *Error at file (suffix) and line whose
// message contains want, and nothing else.
func wantOne(t *testing.T, errs []error, file string, line int, want string) {
	t.Helper()
	if len(errs) == 0 {
		t.Fatalf("no error, want %s:%d: ...%s...", file, line, want)
	}
	found := false
	for _, err := range errs {
		var e *layercheck.Error
		if !errors.As(err, &e) {
			t.Errorf("error %v is not a *layercheck.Error", err)
			continue
		}
		if strings.HasSuffix(e.File, file) && e.Line == line && strings.Contains(e.Msg, want) {
			found = true
		} else {
			t.Errorf("unexpected error: %v", err)
		}
	}
	if !found {
		t.Errorf("want an error at %s:%d containing %q; got %v", file, line, want, errs)
	}
}

func schemaOrSkip(t *testing.T) []byte {
	t.Helper()
	p, err := layercheck.FindKasSchema()
	if err != nil {
		t.Skipf("kas's schema is not installed, schema checks skipped: %v", err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestShipped is the invariant over what this repository ships: the kas
// files, the rendered toolchain includes and the meta-tcbot layer pass
// every check.
func TestShipped(t *testing.T) {
	root := repoRoot(t)
	t.Run("without schema", func(t *testing.T) {
		for _, err := range layercheck.CheckAll(root, "") {
			t.Error(err)
		}
	})
	t.Run("kas schema", func(t *testing.T) {
		p, err := layercheck.FindKasSchema()
		if err != nil {
			t.Skipf("kas's schema is not installed (CI installs kas): %v", err)
		}
		for _, err := range layercheck.CheckAll(root, p) {
			t.Error(err)
		}
		schema := schemaOrSkip(t)
		ymls, _ := filepath.Glob(filepath.Join(root, "recipes/oe/*.yml"))
		if len(ymls) < 4 {
			t.Fatalf("want base.yml and three machine files, got %v", ymls)
		}
		for _, y := range ymls {
			if err := layercheck.CheckKas(y, schema); err != nil {
				t.Errorf("CheckKas: %v", err)
			}
		}
	})
	t.Run("machines", func(t *testing.T) {
		for _, m := range []string{"qemuarm", "qemuarm64", "genericarm64"} {
			data, err := os.ReadFile(filepath.Join(root, "recipes/oe", m+".yml"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), "machine: "+m+"\n") || !strings.Contains(string(data), "- recipes/oe/base.yml") {
				t.Errorf("%s.yml does not include recipes/oe/base.yml and set machine: %s", m, m)
			}
		}
	})
}

func TestFindKasSchema(t *testing.T) {
	saved := layercheck.SchemaPaths
	t.Cleanup(func() { layercheck.SchemaPaths = saved })

	layercheck.SchemaPaths = []string{filepath.Join(t.TempDir(), "nowhere", "schema-kas.json")}
	_, err := layercheck.FindKasSchema()
	if err == nil || !strings.Contains(err.Error(), "apt-get install kas") {
		t.Errorf("without kas: %v, want an error saying apt-get install kas", err)
	}

	dir := t.TempDir()
	fake := filepath.Join(dir, "python3.11", "dist-packages", "kas", "schema-kas.json")
	writeTree(t, dir, map[string]string{"python3.11/dist-packages/kas/schema-kas.json": "{}"})
	layercheck.SchemaPaths = []string{filepath.Join(dir, "python3*", "dist-packages", "kas", "schema-kas.json")}
	got, err := layercheck.FindKasSchema()
	if err != nil || got != fake {
		t.Errorf("FindKasSchema() = %q, %v; want %q", got, err, fake)
	}
}

// validRecipe uses every statement CheckBitbake knows.
const validRecipe = `# A comment, then every kind of statement.
SUMMARY = "all the syntax"
LICENSE = "MIT"
PV = "1.0+git"
SRC_URI = "git://example.org/x.git;branch=main;protocol=https \
           file://a.patch \
           "
SRCREV ?= "0123456789abcdef0123456789abcdef01234567"
WEAK ??= "weak"
NOW := "${PV}"
LIST += "more"
LIST =+ "first"
WORD .= "suffix"
WORD =. "prefix"
SRC_URI:append = " file://b.patch"
SRC_URI:prepend:class-target = "file://c.patch "
RDEPENDS:${PN}:remove = "bash"
SRCREV_machine:pn-linux-yocto:forcevariable = "abc"
do_install[depends] += "virtual/kernel:do_deploy"
QUOTES = 'say "hi"'
INLINE = "${@bb.utils.contains('DISTRO_FEATURES', 'systemd', 'a', 'b', d)}"
export CFLAGS = "-O2"
export PATH
unset OLD
unset OLD[doc]

inherit autotools pkgconfig
require recipes-foo/foo/foo.inc
include optional-${PV}.inc

do_compile() {
	oe_runmake
}

do_install:append() {
	install -d ${D}${bindir}
}

fakeroot do_fakeroot() {
	chown root ${D}
}

python do_report() {
    bb.note("python function")
}

python () {
    d.setVar('X', 'y')
}

python __anonymous () {
    pass
}

def helper(d):
    # a comment in a def
    return d.getVar('PN')

addtask report after do_compile before do_install
addtask other
deltask do_configure
addhandler my_handler
`

func TestCheckBitbakeValid(t *testing.T) {
	dir := t.TempDir()
	class := "EXPORT_FUNCTIONS do_compile\n\ntcbot_do_compile() {\n\t:\n}\n"
	conf := "BBPATH .= \":${LAYERDIR}\"\nBBFILES += \"${LAYERDIR}/recipes-*/*/*.bb \\\n            ${LAYERDIR}/recipes-*/*/*.bbappend\"\n# comment\ninclude conf/extra.inc\nexport FOO = \"bar\"\n"
	writeTree(t, dir, map[string]string{"all.bb": validRecipe, "all.bbappend": validRecipe, "all.inc": validRecipe, "tcbot.bbclass": class, "layer.conf": conf})
	for _, f := range []string{"all.bb", "all.bbappend", "all.inc", "tcbot.bbclass", "layer.conf"} {
		for _, err := range layercheck.CheckBitbake(filepath.Join(dir, f)) {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestCheckBitbakeBroken(t *testing.T) {
	tests := []struct {
		name, file, text string
		line             int
		want             string
	}{
		{"unbalanced quote", "x.bb", "SUMMARY = \"foo\nLICENSE = \"MIT\"\n", 1, "unbalanced quote"},
		{"unbalanced quote after a continuation", "x.bb", "A = \"1\"\nSRC_URI = \"file://a \\\n  file://b\n", 2, "unbalanced quote"},
		{"assignment without operator", "x.bb", "LICENSE = \"MIT\"\nSUMMARY \"foo\"\n", 2, "without an operator"},
		{"value not quoted", "x.bb", "PV = 1.0\n", 1, "not quoted"},
		{"no value", "x.bb", "PV =\n", 1, "has no value"},
		{"text after the closing quote", "x.bb", "FOO = \"bar\" # why\n", 1, "after the closing quote"},
		{"three quotes", "x.bb", "FOO = \"a\"b\"\n", 1, "ambiguous quotes"},
		{"unterminated function", "x.bb", "A = \"1\"\ndo_install() {\n\tinstall -d ${D}\n", 2, "never closed"},
		{"function closed by an indented brace", "x.bb", "do_install() {\n\techo\n  }\n", 1, "never closed"},
		{"unterminated python function", "x.bbclass", "python do_x() {\n    pass\n", 1, "python function do_x is never closed"},
		{"indented statement", "x.bb", "A = \"1\"\n  B = \"2\"\n", 2, "column 1"},
		{"comment inside a continuation", "x.bb", "SRC_URI = \"a \\\n# comment\n b\"\n", 2, "comment inside a multi-line"},
		{"commented line continued into code", "x.bb", "# old \\\nFOO = \"x\"\n", 1, "continues into line 2"},
		{"continuation at end of file", "x.bb", "A = \"1\"\nFOO = \"a \\\n", 2, "ends inside a \\ line continuation"},
		{"old append syntax", "x.bb", "SRC_URI_append = \" file://x\"\n", 1, "old override syntax"},
		{"old package override", "x.bb", "RDEPENDS_${PN} = \"bash\"\n", 1, "write RDEPENDS:${PN}"},
		{"old package function", "x.bb", "pkg_postinst_${PN}() {\n\t:\n}\n", 1, "pkg_postinst:${PN}"},
		{"empty override", "x.bb", "FOO::append = \"x\"\n", 1, "empty override"},
		{"inherit in conf", "layer.conf", "BBPATH .= \":${LAYERDIR}\"\ninherit foo\n", 2, "INHERIT += \"foo\""},
		{"function in conf", "local.conf", "foo() {\n", 1, "not allowed in a .conf"},
		{"addtask in conf", "local.conf", "addtask foo\n", 1, "only allowed in recipes and classes"},
		{"inherit without class", "x.bb", "inherit\n", 1, "inherit without an argument"},
		{"require without file", "x.bb", "require \n", 1, "require without an argument"},
		{"addtask twice before", "x.bb", "addtask a before b before c\n", 1, "given twice"},
		{"addtask junk", "x.bb", "addtask a b\n", 1, "ignores"},
		{"addtask bad name", "x.bb", "addtask do-x\n", 1, "task name"},
		{"EXPORT_FUNCTIONS in a recipe", "x.bb", "EXPORT_FUNCTIONS do_compile\n", 1, "outside a .bbclass"},
		{"unknown statement", "x.bb", "inhert autotools\n", 1, "unparsable line"},
		{"export with junk", "x.bb", "export FOO BAR\n", 1, "export takes one variable"},
		{"bad flag", "x.bb", "do_x[de pends] = \"a\"\n", 1, "bad flag"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, tc.file)
			writeTree(t, dir, map[string]string{tc.file: tc.text})
			wantOne(t, layercheck.CheckBitbake(p), tc.file, tc.line, tc.want)
		})
	}
	t.Run("not a BitBake file", func(t *testing.T) {
		errs := layercheck.CheckBitbake("README.md")
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), "not a BitBake file") {
			t.Errorf("got %v", errs)
		}
	})
}

// goodLayer is a minimal valid layer; tests break one thing at a time.
func goodLayer() map[string]string {
	return map[string]string{
		"conf/layer.conf": `BBPATH .= ":${LAYERDIR}"
BBFILES += "${LAYERDIR}/recipes-*/*/*.bb ${LAYERDIR}/recipes-*/*/*.bbappend"
BBFILE_COLLECTIONS += "demo"
BBFILE_PATTERN_demo = "^${LAYERDIR}/"
BBFILE_PRIORITY_demo = "6"
LAYERSERIES_COMPAT_demo = "kirkstone scarthgap"
DEMO_SRC ?= "${LAYERDIR}/../src"
`,
		"recipes-demo/demo/demo_1.2.bb": `SUMMARY = "demo"
LICENSE = "CLOSED"
FILESEXTRAPATHS:prepend := "${DEMO_SRC}:"
SRC_URI = "file://main.c \
           file://demo.patch \
           file://local.conf \
           file://${BPN}.service \
           file://extra-${PV}.txt \
           file://70_mod_${UNKNOWN}.conf \
"
`,
		"recipes-demo/demo/files/demo.patch":              "",
		"recipes-demo/demo/demo/local.conf":               "Port 8080\n[section]\n",
		"recipes-demo/demo/demo-1.2/demo.service":         "",
		"recipes-demo/demo/files/qemuarm64/extra-1.2.txt": "",
		"recipes-demo/demo/demo_%.bbappend":               "FILESEXTRAPATHS:prepend := \"${THISDIR}/more:\"\nSRC_URI += \"file://more.txt\"\n",
		"recipes-demo/demo/more/more.txt":                 "",
		"recipes-demo/demo/files/sub/not-bitbake.inc":     "#define X 1\n",
		"../src/main.c":                                 "int main(void) { return 0; }\n",
		"recipes-demo/images/demo-image.bb":             "inherit core-image\nIMAGE_INSTALL = \"demo\"\n",
		"recipes-demo/demo/demo-native_1.0.bb":          "SRC_URI = \"file://native.c\"\nFILESEXTRAPATHS:prepend := \"${DEMO_SRC}:\"\n",
		"../src/native.c":                               "",
		"recipes-demo/demo/nativesdk-demo-tools_1.0.bb": "SRC_URI = \"file://tools.txt\"\n",
		"recipes-demo/demo/demo-tools/tools.txt":        "",
		"recipes-demo/demo/glibc-like_2.39.bb":          "require glibc-like.inc\nSRC_URI += \"file://inc.txt\"\n",
		"recipes-demo/demo/glibc-like.inc":              "FILESEXTRAPATHS:prepend := \"${THISDIR}/incfiles:\"\n",
		"recipes-demo/demo/incfiles/inc.txt":            "",
	}
}

func TestCheckLayer(t *testing.T) {
	t.Run("valid", func(t *testing.T) {
		root := t.TempDir()
		writeTree(t, root, relocate(goodLayer()))
		for _, err := range layercheck.CheckLayer(filepath.Join(root, "layer")) {
			t.Error(err)
		}
	})
	tests := []struct {
		name   string
		change func(map[string]string)
		file   string
		line   int
		want   string
	}{
		{"no layer.conf", func(m map[string]string) { delete(m, "conf/layer.conf") }, "layer", 0, "conf/layer.conf is missing"},
		{"missing LAYERSERIES_COMPAT", func(m map[string]string) {
			m["conf/layer.conf"] = strings.Replace(m["conf/layer.conf"], "LAYERSERIES_COMPAT_demo = \"kirkstone scarthgap\"\n", "", 1)
		}, "conf/layer.conf", 3, "LAYERSERIES_COMPAT_demo is missing"},
		{"unknown release series", func(m map[string]string) {
			m["conf/layer.conf"] = strings.Replace(m["conf/layer.conf"], "kirkstone scarthgap", "scarthgap nanbield", 1)
		}, "conf/layer.conf", 6, `"nanbield", not a known release series`},
		{"no collection", func(m map[string]string) {
			m["conf/layer.conf"] = "BBPATH .= \":${LAYERDIR}\"\nBBFILES += \"${LAYERDIR}/recipes-*/*/*.bb ${LAYERDIR}/recipes-*/*/*.bbappend\"\nDEMO_SRC ?= \"${LAYERDIR}/../src\"\n"
		}, "conf/layer.conf", 0, "BBFILE_COLLECTIONS is not set"},
		{"missing SRC_URI file", func(m map[string]string) { delete(m, "recipes-demo/demo/files/demo.patch") }, "recipes-demo/demo/demo_1.2.bb", 4, "file://demo.patch not found"},
		{"missing file from FILESEXTRAPATHS", func(m map[string]string) { delete(m, "../src/main.c") }, "recipes-demo/demo/demo_1.2.bb", 4, "file://main.c not found"},
		{"missing file of an append", func(m map[string]string) { delete(m, "recipes-demo/demo/more/more.txt") }, "recipes-demo/demo/demo_%.bbappend", 2, "file://more.txt not found"},
		{"recipe BBFILES misses", func(m map[string]string) { m["recipes-demo/demo/sub/hidden.bb"] = "LICENSE = \"MIT\"\n" }, "recipes-demo/demo/sub/hidden.bb", 0, "not matched by BBFILES"},
		{"bad recipe syntax", func(m map[string]string) {
			m["recipes-demo/images/demo-image.bb"] = "inherit core-image\nIMAGE_INSTALL = \"demo\n"
		}, "recipes-demo/images/demo-image.bb", 2, "unbalanced quote"},
		{"bad priority", func(m map[string]string) {
			m["conf/layer.conf"] = strings.Replace(m["conf/layer.conf"], `BBFILE_PRIORITY_demo = "6"`, `BBFILE_PRIORITY_demo = "high"`, 1)
		}, "conf/layer.conf", 5, "not a whole number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := goodLayer()
			tc.change(files)
			root := t.TempDir()
			writeTree(t, root, relocate(files))
			wantOne(t, layercheck.CheckLayer(filepath.Join(root, "layer")), tc.file, tc.line, tc.want)
		})
	}
}

// relocate puts a layer's files under layer/ (and ../src beside it).
func relocate(files map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range files {
		if strings.HasPrefix(k, "../") {
			out[strings.TrimPrefix(k, "../")] = v
		} else {
			out["layer/"+k] = v
		}
	}
	return out
}

// kasRepo is a minimal repository with tcbot's layout.
func kasRepo() map[string]string {
	return map[string]string{
		"recipes/oe/base.yml": `header:
  version: 12
distro: poky
target: demo-image
repos:
  this:
    layers:
      recipes/oe/meta-demo:
  poky:
    url: https://git.yoctoproject.org/poky
    refspec: 72983ac391008ebceb45edc7a8f0f6d5f4fe715c
    layers:
      meta:
local_conf_header:
  base: |
    INHERIT += "buildhistory"
`,
		"recipes/oe/qemuarm64.yml": `header:
  version: 12
  includes:
    - recipes/oe/base.yml
machine: qemuarm64
`,
		"recipes/oe/toolchain-gcc.yml.tmpl": `header:
  version: 12
local_conf_header:
  toolchain-gcc: |
    SRCREV_gcc = "{{.Rev}}"
    BASEURI = "{{.URL}}"
`,
		"recipes/oe/meta-demo/conf/layer.conf": `BBPATH .= ":${LAYERDIR}"
BBFILES += "${LAYERDIR}/recipes-*/*/*.bb"
BBFILE_COLLECTIONS += "demo"
BBFILE_PATTERN_demo = "^${LAYERDIR}/"
BBFILE_PRIORITY_demo = "6"
LAYERSERIES_COMPAT_demo = "scarthgap"
`,
	}
}

func TestCheckAllKas(t *testing.T) {
	t.Run("valid", func(t *testing.T) {
		root := t.TempDir()
		writeTree(t, root, kasRepo())
		for _, err := range layercheck.CheckAll(root, "") {
			t.Error(err)
		}
	})
	tests := []struct {
		name   string
		change func(map[string]string)
		file   string
		line   int
		want   string
	}{
		{"include relative to the file", func(m map[string]string) {
			m["recipes/oe/qemuarm64.yml"] = strings.Replace(m["recipes/oe/qemuarm64.yml"], "- recipes/oe/base.yml", "- base.yml", 1)
		}, "recipes/oe/qemuarm64.yml", 4, `write "recipes/oe/base.yml"`},
		{"include not found", func(m map[string]string) {
			m["recipes/oe/qemuarm64.yml"] = strings.Replace(m["recipes/oe/qemuarm64.yml"], "base.yml", "common.yml", 1)
		}, "recipes/oe/qemuarm64.yml", 4, "not found"},
		{"local layer not there", func(m map[string]string) {
			m["recipes/oe/base.yml"] = strings.Replace(m["recipes/oe/base.yml"], "recipes/oe/meta-demo:", "meta-demo:", 1)
		}, "recipes/oe/base.yml", 8, "no layer there"},
		{"branch instead of a commit", func(m map[string]string) {
			m["recipes/oe/base.yml"] = strings.Replace(m["recipes/oe/base.yml"], "72983ac391008ebceb45edc7a8f0f6d5f4fe715c", "scarthgap", 1)
		}, "recipes/oe/base.yml", 11, "not a full commit ID"},
		{"unpinned repository", func(m map[string]string) {
			m["recipes/oe/base.yml"] = strings.Replace(m["recipes/oe/base.yml"], "    refspec: 72983ac391008ebceb45edc7a8f0f6d5f4fe715c\n", "", 1)
		}, "recipes/oe/base.yml", 9, "no refspec"},
		{"format too new for Debian's kas", func(m map[string]string) {
			m["recipes/oe/qemuarm64.yml"] = strings.Replace(m["recipes/oe/qemuarm64.yml"], "version: 12", "version: 14", 1)
		}, "recipes/oe/qemuarm64.yml", 2, "format 12 or older"},
		{"machine without target", func(m map[string]string) {
			m["recipes/oe/base.yml"] = strings.Replace(m["recipes/oe/base.yml"], "target: demo-image\n", "", 1)
		}, "recipes/oe/qemuarm64.yml", 1, "set target"},
		{"bad local.conf in a kas file", func(m map[string]string) {
			m["recipes/oe/base.yml"] = strings.Replace(m["recipes/oe/base.yml"], `INHERIT += "buildhistory"`, `INHERIT += "buildhistory`, 1)
		}, "recipes/oe/base.yml (local_conf_header.base)", 16, "unbalanced quote"},
		{"template unused revision", func(m map[string]string) {
			m["recipes/oe/toolchain-gcc.yml.tmpl"] = strings.Replace(m["recipes/oe/toolchain-gcc.yml.tmpl"], "{{.Rev}}", "HEAD", 1)
		}, "recipes/oe/toolchain-gcc.yml.tmpl", 0, "{{.Rev}} is unused"},
		{"template with an unknown field", func(m map[string]string) {
			m["recipes/oe/toolchain-gcc.yml.tmpl"] += "# {{.Version}}\n"
		}, "recipes/oe/toolchain-gcc.yml.tmpl", 0, "can't evaluate field Version"},
		{"template replacing a base block", func(m map[string]string) {
			m["recipes/oe/toolchain-gcc.yml.tmpl"] = strings.Replace(m["recipes/oe/toolchain-gcc.yml.tmpl"], "toolchain-gcc:", "base:", 1)
		}, "recipes/oe/toolchain-gcc.yml.tmpl", 4, `"base" is also used by recipes/oe/base.yml:15`},
		{"template with bad BitBake", func(m map[string]string) {
			m["recipes/oe/toolchain-gcc.yml.tmpl"] = strings.Replace(m["recipes/oe/toolchain-gcc.yml.tmpl"], `BASEURI = "{{.URL}}"`, `BASEURI "{{.URL}}"`, 1)
		}, "(local_conf_header.toolchain-gcc)", 6, "without an operator"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := kasRepo()
			tc.change(files)
			root := t.TempDir()
			writeTree(t, root, files)
			wantOne(t, layercheck.CheckAll(root, ""), tc.file, tc.line, tc.want)
		})
	}
}

func TestCheckKasSchema(t *testing.T) {
	schema := schemaOrSkip(t)
	good := "header:\n  version: 12\nmachine: qemuarm64\nrepos:\n  poky:\n    url: https://git.yoctoproject.org/poky\n    refspec: 72983ac391008ebceb45edc7a8f0f6d5f4fe715c\n"
	tests := []struct {
		name, text string
		line       int
		want       string
	}{
		{"unknown top-level key (kas 4's overrides)", good + "overrides:\n  repos:\n    poky:\n      commit: abc\n", 8, "/: additional properties 'overrides' not allowed (kas schema keyword additionalProperties)"},
		{"commit is format 14", strings.Replace(good, "refspec:", "commit:", 1), 7, "/repos/poky: additional properties 'commit' not allowed"},
		{"header version too high for the schema", strings.Replace(good, "version: 12", "version: 13", 1), 2, "header.version 13 is newer than the kas that will read it"},
		{"no header", strings.Replace(good, "header:\n  version: 12\n", "", 1), 1, "missing property 'header'"},
		{"target of the wrong type", good + "target: 3\n", 8, "/target:"},
		{"local_conf_header not a mapping", good + "local_conf_header: INHERIT\n", 8, "/local_conf_header: got string, want object"},
		{"bad BitBake in local_conf_header", good + "local_conf_header:\n  x: |\n    A = \"1\"\n    INHERIT += buildstats\n", 11, "not quoted"},
		{"not YAML", "header:\n  version: 12\n machine: x\n", 2, "not YAML"},
		{"not a mapping", "- a\n- b\n", 1, "a kas file is a YAML mapping"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTree(t, dir, map[string]string{"x.yml": tc.text})
			file := "x.yml"
			if strings.Contains(tc.name, "local_conf_header") && strings.Contains(tc.name, "BitBake") {
				file = "x.yml (local_conf_header.x)"
			}
			wantOne(t, asErrors(layercheck.CheckKas(filepath.Join(dir, "x.yml"), schema)), file, tc.line, tc.want)
		})
	}
	t.Run("valid", func(t *testing.T) {
		dir := t.TempDir()
		writeTree(t, dir, map[string]string{"x.yml": good})
		if err := layercheck.CheckKas(filepath.Join(dir, "x.yml"), schema); err != nil {
			t.Error(err)
		}
	})
}

// A newer kas states the newest format it reads in its schema; that
// maximum is used instead of Debian's kas 3.1 limit.
func TestCheckKasSchemaMaximum(t *testing.T) {
	schema := []byte(`{"type": "object", "required": ["header"], "properties": {"header": {"type": "object",
		"properties": {"version": {"anyOf": [{"const": "0.10"}, {"type": "integer", "minimum": 1, "maximum": 23}]}}}}}`)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"new.yml": "header:\n  version: 20\n", "newer.yml": "header:\n  version: 24\n"})
	if err := layercheck.CheckKas(filepath.Join(dir, "new.yml"), schema); err != nil {
		t.Errorf("format 20 against a schema reading 23: %v", err)
	}
	errs := asErrors(layercheck.CheckKas(filepath.Join(dir, "newer.yml"), schema))
	if len(errs) == 0 || !strings.Contains(errors.Join(errs...).Error(), "newer.yml:2:") {
		t.Errorf("format 24 against a schema reading 23: %v", errs)
	}
	if err := layercheck.CheckKas(filepath.Join(dir, "new.yml"), []byte("{")); err == nil {
		t.Error("a broken schema was accepted")
	}
}

func TestTemplates(t *testing.T) {
	root := repoRoot(t)
	for _, c := range []string{"gcc", "binutils", "glibc", "linux"} {
		t.Run(c, func(t *testing.T) {
			name := "recipes/oe/toolchain-" + c + ".yml.tmpl"
			text, err := os.ReadFile(filepath.Join(root, name))
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range layercheck.SampleData(name) {
				out, err := layercheck.RenderTemplate(name, string(text), d)
				if err != nil {
					t.Fatal(err)
				}
				s := string(out)
				var fetch string
				switch {
				case strings.HasPrefix(d.URL, "https://"):
					fetch = "git://" + strings.TrimPrefix(d.URL, "https://") + ";protocol=https"
				case strings.HasPrefix(d.URL, "ssh://"):
					fetch = "git://" + strings.TrimPrefix(d.URL, "ssh://") + ";protocol=ssh"
				case strings.HasPrefix(d.URL, "file://"):
					fetch = "git://" + strings.TrimPrefix(d.URL, "file://") + ";protocol=file"
				case strings.HasPrefix(d.URL, "/"):
					fetch = "git://" + d.URL + ";protocol=file"
				default:
					fetch = d.URL
				}
				if !strings.Contains(s, `"`+fetch+";") {
					t.Errorf("URL %s: the include does not fetch %s:\n%s", d.URL, fetch, s)
				}
				if !strings.Contains(s, d.Rev) || !strings.Contains(s, "nobranch=1") {
					t.Errorf("the include does not pin %s by commit (nobranch=1):\n%s", d.Rev, s)
				}
				if strings.Contains(s, "branch=;") || strings.Contains(s, `= ""`) {
					t.Errorf("branch %q: empty setting in:\n%s", d.Branch, s)
				}
				if strings.Contains(s, "{{") || strings.Contains(s, "<no value>") {
					t.Errorf("unrendered template text in:\n%s", s)
				}
			}
		})
	}
}
