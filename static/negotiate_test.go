package static

import (
	"strings"
	"testing"
)

func TestAcceptsGzip(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"", false},
		{"gzip", true},
		{"GZip", true},
		{"x-gzip", true},
		{"gzip, deflate, br", true},
		{"br;q=1.0, gzip;q=0.8, *;q=0.1", true},
		{"deflate, br", false},
		{"identity", false},
		{"gzip;q=0", false},
		{"gzip; q=0.000", false},
		{"gzip;Q=0", false},
		{"gzip;q=0.001", true},
		{"gzip;q=1", true},
		{"gzip;q=1.000", true},
		{"gzip;q=1.5", false},
		{"gzip;q=", false},
		{"gzip;q=abc", false},
		{"gzip;level=9", true},
		{"gzip;level=9;q=0", false},
		{"*", true},
		{"*;q=0", false},
		{"*, gzip;q=0", false},
		{"gzip;q=0, *", false},
		{"*;q=0, gzip", true},
		{"identity;q=0, *", true},
		{"gzip, gzip;q=0", false},
		{" \tgzip\t ", true},
		{",,gzip,,", true},
		{"gzipx", false},
		{"deflate;q=0.5 , gzip ; q=0.5", true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := acceptsGzip([]byte(tc.in)); got != tc.want {
				t.Errorf("acceptsGzip(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestETagMatch(t *testing.T) {
	const etag = `"abc123"`
	tests := []struct {
		in   string
		want bool
	}{
		{"", false},
		{`"abc123"`, true},
		{`"abc124"`, false},
		{`W/"abc123"`, true},
		{`"x", "abc123"`, true},
		{`"x","y"`, false},
		{`"x",W/"abc123"`, true},
		{"*", true},
		{" * ", true},
		{"*x", false},
		{`"a,b", "abc123"`, true},
		{`"a,b"`, false},
		{`abc123`, false},
		{`garbage, "abc123"`, true},
		{`"abc123`, false},
		{`"unterminated, "abc123"`, false},
		{`w/"abc123"`, false},
		{`  ,  "abc123"  ,`, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := etagMatch([]byte(tc.in), []byte(etag)); got != tc.want {
				t.Errorf("etagMatch(%q) = %v, want %v", tc.in, got, tc.want)
			}
			// Weak comparison: a weak ETag of ours matches the same way.
			if got := etagMatch([]byte(tc.in), []byte("W/"+etag)); got != tc.want {
				t.Errorf("etagMatch(%q, weak) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

// refAcceptsGzip is a slow, allocating restatement of acceptsGzip, for
// the fuzzer to compare against.
func refAcceptsGzip(v string) bool {
	state := map[string]string{}
	for _, elem := range strings.Split(v, ",") {
		parts := strings.Split(elem, ";")
		coding := strings.ToLower(strings.Trim(parts[0], " \t"))
		if coding == "x-gzip" {
			coding = "gzip"
		}
		if coding != "gzip" && coding != "*" {
			continue
		}
		q := "1"
		for _, p := range parts[1:] {
			name, val, ok := strings.Cut(p, "=")
			if ok && strings.EqualFold(strings.Trim(name, " \t"), "q") {
				q = strings.Trim(val, " \t")
				break
			}
		}
		zero := true
		switch {
		case q == "1" || q == "1." || strings.HasPrefix(q, "1.") && strings.Trim(q[2:], "0") == "":
			zero = false
		case q == "0" || q == "0.":
		case strings.HasPrefix(q, "0.") && strings.Trim(q[2:], "0123456789") == "":
			zero = strings.Trim(q[2:], "0") == ""
		}
		if zero {
			state[coding] = "no"
		} else if state[coding] == "" {
			state[coding] = "yes"
		}
	}
	if s, ok := state["gzip"]; ok {
		return s == "yes"
	}
	return state["*"] == "yes"
}

func FuzzAcceptsGzip(f *testing.F) {
	for _, s := range []string{"", "gzip", "gzip;q=0", "*", "*;q=0, gzip", "br;q=1.0, gzip;q=0.8, *;q=0.1", "x-gzip;q=0.", "gzip;q=1.", "GZIP ; Q = 0.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if got, want := acceptsGzip([]byte(v)), refAcceptsGzip(v); got != want {
			t.Fatalf("acceptsGzip(%q) = %v, reference %v", v, got, want)
		}
	})
}

// refETagMatch restates etagMatch with a character-by-character scanner
// that keeps explicit state.
func refETagMatch(field, etag string) bool {
	etag = strings.TrimPrefix(etag, "W/")
	i := 0
	for {
		for i < len(field) && strings.IndexByte(" \t,", field[i]) >= 0 {
			i++
		}
		if i == len(field) {
			return false
		}
		if field[i] == '*' {
			rest := strings.TrimLeft(field[i+1:], " \t")
			if rest == "" || rest[0] == ',' {
				return true
			}
		}
		if strings.HasPrefix(field[i:], "W/") {
			i += 2
		}
		if i < len(field) && field[i] == '"' {
			j := strings.IndexByte(field[i+1:], '"')
			if j < 0 {
				return false
			}
			if field[i:i+j+2] == etag {
				return true
			}
			i += j + 2
			continue
		}
		j := strings.IndexByte(field[i:], ',')
		if j < 0 {
			return false
		}
		i += j + 1
	}
}

func FuzzETagMatch(f *testing.F) {
	for _, s := range []string{"", `"abc"`, `W/"abc"`, `"x", "abc"`, "*", `"a,b", "abc"`, `garbage, W/"abc"`, `"abc`} {
		f.Add(s, `"abc"`)
	}
	f.Fuzz(func(t *testing.T, field, etag string) {
		got := etagMatch([]byte(field), []byte(etag))
		if want := refETagMatch(field, etag); got != want {
			t.Fatalf("etagMatch(%q, %q) = %v, reference %v", field, etag, got, want)
		}
		// Any well-formed ETag matches itself, weakened or listed.
		if len(etag) >= 2 && etag[0] == '"' && strings.IndexByte(etag[1:], '"') == len(etag)-2 {
			for _, f := range []string{etag, "W/" + etag, `"zz", ` + etag} {
				if !etagMatch([]byte(f), []byte(etag)) {
					t.Fatalf("etagMatch(%q, %q) = false", f, etag)
				}
			}
		}
	})
}
