package userset

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseLines(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Line
	}{
		{"empty", "", nil},
		{"one without newline", "alice", []Line{{1, "alice"}}},
		{"comments and blanks", "# head\n\nalice\n  bob  # vip\n#\n\tcarol\t\n", []Line{{3, "alice"}, {4, "bob"}, {6, "carol"}}},
		{"crlf", "alice\r\nbob\r\n", []Line{{1, "alice"}, {2, "bob"}}},
		{"comment only line keeps numbering", "#\n#\nx", []Line{{3, "x"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseLines([]byte(tc.in)); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUsersFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.txt")
	os.WriteFile(good, []byte("alice\nbob # b\n"), 0o600)
	if got, err := Users(good); err != nil || !reflect.DeepEqual(got, []string{"alice", "bob"}) {
		t.Fatalf("Users = %v, %v", got, err)
	}
	var body strings.Builder
	for i := range 12 {
		body.WriteString("bad user " + strconv.Itoa(i) + "\n")
	}
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte(body.String()), 0o600)
	_, err := Users(bad)
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 11 || lines[10] != "... and 2 more" ||
		lines[0] != bad+`:1: "bad user 0" is not a user id ([A-Za-z0-9_.@:-]{1,128})` {
		t.Fatalf("error:\n%v", err)
	}
	if _, err := Users(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestSet(t *testing.T) {
	s := NewSet([]string{"alice", "bob", "alice"})
	if s.Len() != 2 || !s.Has([]byte("alice")) || s.Has([]byte("carol")) || s.Has(nil) {
		t.Fatal("set membership is wrong")
	}
	if n := testing.AllocsPerRun(100, func() { s.Has([]byte("bob")) }); n != 0 {
		t.Fatalf("Has allocates %v", n)
	}
}

// FuzzParseLines: every entry is trimmed, comment-free and non-empty, line
// numbers increase, and parsing never panics.
func FuzzParseLines(f *testing.F) {
	for _, s := range []string{"", "a\nb", "# c\n x # y\r\n", "\n\n\n", "#", "a#b#c", "\r", "\xff\xfe"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		last := 0
		for _, l := range ParseLines(data) {
			if l.N <= last {
				t.Fatalf("line numbers not increasing: %v", l)
			}
			last = l.N
			if l.Text == "" || strings.ContainsAny(l.Text, "#\n") || strings.TrimSpace(l.Text) != l.Text {
				t.Fatalf("entry %q", l.Text)
			}
		}
		if last > strings.Count(string(data), "\n")+1 {
			t.Fatalf("line %d beyond the input", last)
		}
	})
}
