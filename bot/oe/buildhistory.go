package oe

import (
	"regexp"
	"strings"
)

// Buildhistory files (meta/classes/buildhistory.bbclass in
// openembedded-core): image-info.txt and the per-recipe and per-package
// "latest" files are "KEY = VALUE" lines, written by
// buildhistory_get_imageinfo, write_recipehistory and write_pkghistory; an
// empty value is written as "KEY = ". installed-package-sizes.txt is the
// output of `oe-pkgdata-util read-value PKGSIZE -n` turned into
// "SIZE\tKiB\tPACKAGE" lines, sizes rounded to the nearest KiB, sorted
// largest first.

// ImageInfo is an image's buildhistory image-info.txt.
type ImageInfo struct {
	// Vars holds every KEY = VALUE line (DISTRO, IMAGE_INSTALL, ...).
	Vars map[string]string
	// SizeKiB is IMAGESIZE: `du -ks` of the image's root filesystem.
	SizeKiB int64
}

// SizeBytes is the image size in bytes.
func (i ImageInfo) SizeBytes() int64 { return i.SizeKiB * 1024 }

// RecipeInfo is a recipe's buildhistory "latest" file,
// buildhistory/packages/<arch>/<PN>/latest.
type RecipeInfo struct {
	Vars map[string]string
	// PE is the epoch, "" when the file has none (epoch 0).
	PE, PV, PR string
	// Packages are the packages the recipe makes (PACKAGES).
	Packages []string
}

// PF is the recipe's PF as bitbake.conf forms it from PN:
// ${PN}-${EXTENDPE}${PV}-${PR}, EXTENDPE being "${PE}_" for a positive
// epoch. Buildstats names its recipe directories by PF.
func (r RecipeInfo) PF(pn string) string {
	e := ""
	if r.PE != "" && strings.Trim(r.PE, "0") != "" {
		e = r.PE + "_"
	}
	return pn + "-" + e + r.PV + "-" + r.PR
}

// PackageInfo is a package's buildhistory "latest" file,
// buildhistory/packages/<arch>/<PN>/<package>/latest.
type PackageInfo struct {
	Vars       map[string]string
	PE, PV, PR string
	// PKG is the runtime name when the package is renamed (debian.bbclass
	// turns glibc into libc6); "" when it is not.
	PKG string
	// Size is PKGSIZE, the installed size in bytes.
	Size     int64
	RDepends string
}

// InstalledPackage is one line of installed-package-sizes.txt.
type InstalledPackage struct {
	Name    string // runtime package name, as installed in the image
	SizeKiB int64  // PKGSIZE rounded to the nearest KiB
}

var varName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// keyValues is a parsed KEY = VALUE file.
type keyValues struct {
	vals  map[string]string
	lines map[string]int
}

// parseKeyValues reads a buildhistory KEY = VALUE file. Blank lines are
// skipped (image-info.txt has one when bitbake wrote no variables); a line
// without "=", a malformed name or a name set twice is an error.
func parseKeyValues(file string, data []byte) (keyValues, error) {
	ls, err := splitLines(file, data)
	if err != nil {
		return keyValues{}, err
	}
	kv := keyValues{vals: make(map[string]string), lines: make(map[string]int)}
	for _, l := range ls {
		if strings.TrimSpace(l.text) == "" {
			continue
		}
		k, v, ok := strings.Cut(l.text, "=")
		if !ok {
			return keyValues{}, errorf(file, l.n, "want KEY = VALUE, got %s", quoteShort(l.text))
		}
		k = strings.TrimSpace(k)
		if !varName.MatchString(k) {
			return keyValues{}, errorf(file, l.n, "malformed variable name %s (want KEY = VALUE)", quoteShort(k))
		}
		if first, dup := kv.lines[k]; dup {
			return keyValues{}, errorf(file, l.n, "%s set again (first at line %d)", k, first)
		}
		kv.vals[k] = strings.Trim(v, " \t\r")
		kv.lines[k] = l.n
	}
	if len(kv.vals) == 0 {
		return keyValues{}, errorf(file, 0, "no KEY = VALUE lines")
	}
	return kv, nil
}

// require returns the value of a variable the file must have.
func (kv keyValues) require(file, key, why string) (string, error) {
	v, ok := kv.vals[key]
	if !ok {
		return "", errorf(file, 0, "no %s line%s", key, why)
	}
	if v == "" {
		return "", errorf(file, kv.lines[key], "%s is empty", key)
	}
	return v, nil
}

// ParseImageInfo parses an image's image-info.txt. IMAGESIZE is required:
// buildhistory writes it last, so a file without it was cut short.
func ParseImageInfo(file string, data []byte) (ImageInfo, error) {
	kv, err := parseKeyValues(file, data)
	if err != nil {
		return ImageInfo{}, err
	}
	s, err := kv.require(file, "IMAGESIZE", " (buildhistory writes it last: was the image build interrupted?)")
	if err != nil {
		return ImageInfo{}, err
	}
	n, ok := parseCount(s, maxKiB)
	if !ok {
		return ImageInfo{}, errorf(file, kv.lines["IMAGESIZE"], "IMAGESIZE %s is not a size in KiB (a whole number)", quoteShort(s))
	}
	return ImageInfo{Vars: kv.vals, SizeKiB: n}, nil
}

// ParseRecipeLatest parses a recipe's buildhistory "latest" file; PV and
// PR are required.
func ParseRecipeLatest(file string, data []byte) (RecipeInfo, error) {
	kv, err := parseKeyValues(file, data)
	if err != nil {
		return RecipeInfo{}, err
	}
	r := RecipeInfo{Vars: kv.vals, PE: kv.vals["PE"], Packages: strings.Fields(kv.vals["PACKAGES"])}
	if r.PV, err = kv.require(file, "PV", ""); err != nil {
		return RecipeInfo{}, err
	}
	if r.PR, err = kv.require(file, "PR", ""); err != nil {
		return RecipeInfo{}, err
	}
	if err := checkVersionField(file, kv, "PE", "PV", "PR"); err != nil {
		return RecipeInfo{}, err
	}
	return r, nil
}

// ParsePackageLatest parses a package's buildhistory "latest" file; PV,
// PR and PKGSIZE (bytes) are required.
func ParsePackageLatest(file string, data []byte) (PackageInfo, error) {
	kv, err := parseKeyValues(file, data)
	if err != nil {
		return PackageInfo{}, err
	}
	p := PackageInfo{Vars: kv.vals, PE: kv.vals["PE"], PKG: kv.vals["PKG"], RDepends: kv.vals["RDEPENDS"]}
	if p.PV, err = kv.require(file, "PV", ""); err != nil {
		return PackageInfo{}, err
	}
	if p.PR, err = kv.require(file, "PR", ""); err != nil {
		return PackageInfo{}, err
	}
	if err := checkVersionField(file, kv, "PE", "PV", "PR", "PKG"); err != nil {
		return PackageInfo{}, err
	}
	s, err := kv.require(file, "PKGSIZE", " (write_pkghistory always writes one)")
	if err != nil {
		return PackageInfo{}, err
	}
	n, ok := parseCount(s, maxBytes)
	if !ok {
		return PackageInfo{}, errorf(file, kv.lines["PKGSIZE"], "PKGSIZE %s is not a size in bytes (a whole number)", quoteShort(s))
	}
	p.Size = n
	return p, nil
}

// checkVersionField rejects whitespace inside names and versions, which
// are single words in bitbake and would otherwise make a PF that matches
// nothing.
func checkVersionField(file string, kv keyValues, keys ...string) error {
	for _, k := range keys {
		if v := kv.vals[k]; strings.ContainsAny(v, " \t") {
			return errorf(file, kv.lines[k], "%s %s contains whitespace", k, quoteShort(v))
		}
	}
	return nil
}

// ParseInstalledPackageSizes parses an image's installed-package-sizes.txt:
// "SIZE\tKiB\tPACKAGE" lines. Every image installs at least one package, so
// an empty list is an error, as is any unit but KiB or a package listed
// twice.
func ParseInstalledPackageSizes(file string, data []byte) ([]InstalledPackage, error) {
	ls, err := splitLines(file, data)
	if err != nil {
		return nil, err
	}
	var pkgs []InstalledPackage
	seen := make(map[string]int)
	for _, l := range ls {
		f := strings.Fields(l.text)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, errorf(file, l.n, "want SIZE KiB PACKAGE, got %s", quoteShort(l.text))
		}
		n, ok := parseCount(f[0], maxKiB)
		if !ok {
			return nil, errorf(file, l.n, "size %s of %s is not a whole number of KiB", quoteShort(f[0]), f[2])
		}
		if f[1] != "KiB" {
			return nil, errorf(file, l.n, "unknown unit %s for %s (buildhistory writes KiB)", quoteShort(f[1]), f[2])
		}
		if first, dup := seen[f[2]]; dup {
			return nil, errorf(file, l.n, "package %s listed again (first at line %d)", f[2], first)
		}
		seen[f[2]] = l.n
		pkgs = append(pkgs, InstalledPackage{Name: f[2], SizeKiB: n})
	}
	if len(pkgs) == 0 {
		return nil, errorf(file, 0, "lists no package (an image installs at least one)")
	}
	return pkgs, nil
}

// parseBuildID reads the MACHINE from the first line of an image's
// build-id.txt, "${MACHINE}: ${IMAGE_BASENAME} configured for ${DISTRO}
// ${DISTRO_VERSION}".
func parseBuildID(file string, data []byte) (machine, image string, err error) {
	ls, err := splitLines(file, data)
	if err != nil {
		return "", "", err
	}
	if len(ls) == 0 {
		return "", "", errorf(file, 0, "empty file")
	}
	m, rest, ok := strings.Cut(ls[0].text, ": ")
	img, _, ok2 := strings.Cut(rest, " configured for ")
	if !ok || !ok2 || m == "" || img == "" || strings.ContainsAny(m, " \t") || strings.ContainsAny(img, " \t") {
		return "", "", errorf(file, 1, "want \"MACHINE: IMAGE configured for DISTRO VERSION\", got %s", quoteShort(ls[0].text))
	}
	return m, img, nil
}
