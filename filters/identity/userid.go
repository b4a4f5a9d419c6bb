package identity

// MaxUserID is the longest user id accepted. User ids go into Redis keys,
// order tokens and upstream headers, so they are short and plain.
const MaxUserID = 128

// userIDChars marks the bytes allowed in a user id: [A-Za-z0-9_.@:-].
// A table keeps the check branch-free per byte.
var userIDChars = func() (t [256]bool) {
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

// ValidUserID reports whether b is 1..128 bytes of [A-Za-z0-9_.@:-]: no
// spaces, braces or control bytes, so an id cannot break a Redis key's
// hash tag, a header or a log line.
func ValidUserID(b []byte) bool {
	if len(b) == 0 || len(b) > MaxUserID {
		return false
	}
	for _, c := range b {
		if !userIDChars[c] {
			return false
		}
	}
	return true
}
