package static

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
)

// page is what Serve needs to answer for one key without rendering or
// formatting anything: both ETags and both sizes are computed at Load.
// body and gz are set only for hot pages; cold pages are read from
// bigcache under bodyKey and gzKey.
type page struct {
	etag, etagGz []byte // quoted strong ETags; etagGz nil without a gzip variant
	size, gzSize int
	body, gz     []byte
	bodyKey      string
	gzKey        string
	ctype        []byte // Content-Type; nil is an HTML page
}

// newPage computes the validators and the gzip variant of body.
//
// The gzip variant has its own ETag ("<hash>-gz"): a strong validator
// must differ between representations that differ in content coding
// (RFC 9110 8.8.3), and Vary: Accept-Encoding keeps caches from mixing
// them. Both are derived from the hash of the uncompressed body, so they
// stay stable across restarts and instances for the same page.
func newPage(id string, body []byte) (*page, []byte, error) {
	sum := sha256.Sum256(body)
	tag := make([]byte, 0, 36)
	tag = append(tag, '"')
	tag = hex.AppendEncode(tag, sum[:16])
	p := &page{
		etag:    append(append([]byte(nil), tag...), '"'),
		size:    len(body),
		bodyKey: "p:" + id,
		gzKey:   "pz:" + id,
	}
	gz, err := gzipBytes(body)
	if err != nil {
		return nil, nil, err
	}
	if len(gz) >= len(body) {
		return p, nil, nil // not worth a variant
	}
	p.etagGz = append(tag, `-gz"`...)
	p.gzSize = len(gz)
	return p, gz, nil
}

// gzipBytes compresses once at Load, so the best level costs nothing per
// request.
func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
