package demobackend

import (
	"encoding/json"
	"testing"
)

func TestAppendJSONString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "abc", `"abc"`},
		{"empty", "", `""`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`},
		{"control", "a\x00\n\x1f", `"a\u0000\u000a\u001f"`},
		{"utf8", "ключ", `"ключ"`},
		{"invalid utf8", "a\xffb", `"a\ufffdb"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(appendJSONString(nil, []byte(tc.in)))
			if got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
			var s string
			if err := json.Unmarshal([]byte(got), &s); err != nil {
				t.Fatalf("not valid JSON: %v", err)
			}
		})
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add([]byte(`k"1\`))
	f.Add([]byte("\xff\x00é"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if out := appendJSONString(nil, in); !json.Valid(out) {
			t.Fatalf("invalid JSON %q for %q", out, in)
		}
	})
}
