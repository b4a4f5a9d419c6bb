package static

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// AssetPrefix is the URL path under which the gateway serves the
// pre-loaded assets (the favicon and the catalogue's images), one exact
// route per file, from memory with an ETag like the pages.
const AssetPrefix = "/assets/"

// maxAsset caps one asset file: pages are meant to stay small, and an
// image the size of a photo album is more likely the wrong file.
const maxAsset = 512 << 10

// faviconFile is the shop's icon. The embedded default can be replaced by
// a favicon.svg in static.templates; every page links it, so a browser
// never asks for /favicon.ico and gets a 404.
const faviconFile = "favicon.svg"

// assetTypes are the content types of the image formats an asset may
// have, chosen by file extension.
var assetTypes = map[string]string{
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".webp": "image/webp",
	".gif":  "image/gif",
	".ico":  "image/x-icon",
}

// asset is one file served from memory under AssetPrefix + name.
type asset struct {
	name  string
	ctype string
	body  []byte
}

// isImageFile reports whether a catalogue image names a file beside the
// catalogue (served as an asset) rather than a URL the page links as is.
func isImageFile(img string) bool {
	if img == "" || strings.HasPrefix(img, "/") || strings.HasPrefix(img, "//") {
		return false
	}
	if u, err := url.Parse(img); err == nil && u.Scheme != "" {
		return false
	}
	return true
}

// loadImages reads the image files the catalogue names, relative to the
// catalogue's directory, and rewrites each product's Image to its asset
// URL. Two products may share one file; two different files may not
// share a base name, since the name is the URL.
func loadImages(ps []Product, catalogue string) ([]asset, error) {
	dir := filepath.Dir(catalogue)
	var out []asset
	byName := map[string]string{} // asset name -> file it came from
	var errs []error
	for i := range ps {
		p := &ps[i]
		if !isImageFile(p.Image) {
			continue
		}
		at := fmt.Sprintf("%s: products[%d].image", keyCatalogue, i)
		file := p.Image
		if !filepath.IsAbs(file) {
			file = filepath.Join(dir, file)
		}
		name := path.Base(filepath.ToSlash(p.Image))
		ctype, ok := assetTypes[strings.ToLower(path.Ext(name))]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: %q: want an .svg, .png, .jpg, .webp or .gif file", at, p.Image))
			continue
		case !validAssetName(name):
			errs = append(errs, fmt.Errorf("%s: %q: the file name must be [A-Za-z0-9_.-]", at, p.Image))
			continue
		case name == faviconFile:
			errs = append(errs, fmt.Errorf("%s: %q: %s is the shop's icon; name the image differently", at, p.Image, faviconFile))
			continue
		}
		p.Image = AssetPrefix + name
		if prev, seen := byName[name]; seen {
			if filepath.Clean(prev) != filepath.Clean(file) {
				errs = append(errs, fmt.Errorf("%s: %q: another image file has the same name %q", at, file, name))
			}
			continue
		}
		body, err := readAsset(file)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", at, err))
			continue
		}
		byName[name] = file
		out = append(out, asset{name: name, ctype: ctype, body: body})
	}
	return out, errors.Join(errs...)
}

func readAsset(file string) ([]byte, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxAsset {
		return nil, fmt.Errorf("%s: %d bytes, at most %d", file, fi.Size(), maxAsset)
	}
	return os.ReadFile(file)
}

// validAssetName keeps asset names plain, so each is one exact route.
func validAssetName(s string) bool {
	if s == "" || len(s) > 128 || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
