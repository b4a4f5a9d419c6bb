// Package userid is the one rule for user ids, shared by the identity
// filter (ids from headers and JWTs), the user lists (blacklist and
// reservation files and their admin calls) and the gateway's admin API
// (release?user=): an id one of them accepts, all of them accept.
package userid

// Max is the longest user id accepted. User ids go into Redis keys,
// order tokens, upstream headers and list files, so they are short and
// plain.
const Max = 128

// Rule is the rule in words, for error messages.
const Rule = "1..128 bytes of [A-Za-z0-9_.@:-]"

// chars marks the bytes allowed in a user id: [A-Za-z0-9_.@:-].
// A table keeps the check branch-free per byte.
var chars = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "_.@:-" {
		t[c] = true
	}
	return t
}()

// Valid reports whether b is 1..128 bytes of [A-Za-z0-9_.@:-]: no
// spaces, braces, comment marks or control bytes, so an id cannot break
// a Redis key's hash tag, a header, a log line or a list file.
func Valid[T string | []byte](b T) bool {
	if len(b) == 0 || len(b) > Max {
		return false
	}
	for i := 0; i < len(b); i++ {
		if !chars[b[i]] {
			return false
		}
	}
	return true
}
