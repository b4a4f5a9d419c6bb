// Package ident is the one rule for the names flashgate puts into paths,
// Redis keys, hash tags and metric labels: activity ids, product ids and
// upstream names. The config, the catalogue and the stock store all
// check with it, so a name one accepts, all accept. User ids have their
// own, wider rule (internal/userid).
package ident

// Max is the longest name accepted.
const Max = 64

// Rule is the rule in words, for error messages.
const Rule = "[A-Za-z0-9_-]{1,64}"

// Valid reports whether s is 1..64 bytes of [A-Za-z0-9_-]: nothing that
// could break a path segment, a Redis hash tag ({...}) or a label.
func Valid(s string) bool {
	if len(s) == 0 || len(s) > Max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
