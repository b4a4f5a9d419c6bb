package userset

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/flashgate/flashgate/internal/userid"
)

// Set is an immutable set of user ids, the snapshot of a reservation list.
type Set struct {
	m map[string]struct{}
}

// NewSet builds a set from entries (repeats are fine).
func NewSet(entries []string) *Set {
	m := make(map[string]struct{}, len(entries))
	for _, e := range entries {
		m[e] = struct{}{}
	}
	return &Set{m: m}
}

// Has reports whether user is in the set; it allocates nothing.
func (s *Set) Has(user []byte) bool {
	_, ok := s.m[string(user)] // the compiler looks up without copying
	return ok
}

// Len is the number of users.
func (s *Set) Len() int { return len(s.m) }

// Line is one entry of a list file with its 1-based line number.
type Line struct {
	N    int
	Text string
}

// ParseLines splits a list: one entry per line, '#' starts a comment that
// runs to the end of the line, surrounding blanks are trimmed and empty
// lines skipped. CRLF files work.
func ParseLines(data []byte) []Line {
	var out []Line
	for n := 1; len(data) > 0; n++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if t := Entry(string(line)); t != "" {
			out = append(out, Line{N: n, Text: t})
		}
	}
	return out
}

// Entry is line without its comment and surrounding blanks.
func Entry(line string) string {
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	return strings.TrimSpace(line)
}

// ReadFile reads and splits a list file.
func ReadFile(path string) ([]Line, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseLines(data), nil
}

// Users reads a file of user ids, reporting every invalid line.
func Users(path string) ([]string, error) {
	lines, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(lines))
	var bad []string
	for _, l := range lines {
		if !userid.Valid(l.Text) {
			bad = append(bad, fmt.Sprintf("%s:%d: %q is not a user id ([A-Za-z0-9_.@:-]{1,128})", path, l.N, l.Text))
			continue
		}
		out = append(out, l.Text)
	}
	if len(bad) > 0 {
		return nil, Problems(bad)
	}
	return out, nil
}

// maxProblems bounds how many bad lines one error lists.
const maxProblems = 10

// Problems joins per-line problems into one error, listing at most
// maxProblems of them.
func Problems(bad []string) error {
	if n := len(bad); n > maxProblems {
		bad = append(bad[:maxProblems:maxProblems], fmt.Sprintf("... and %d more", n-maxProblems))
	}
	return fmt.Errorf("%s", strings.Join(bad, "\n"))
}
