// Package orderkey is the one format of an order's key: the
// Idempotency-Key the backend receives, the async ticket a shopper polls
// and the {key} of the admin paid call are all "activity:user:seq".
// Activity ids have no ':' (internal/ident), user ids may
// (internal/userid), so the seq is the last part and the activity the
// first. Parse accepts only what Append writes, so one order has one key:
// "a:u:7" and "a:u:007" are not two names for it.
package orderkey

import (
	"strconv"
	"strings"

	"github.com/flashgate/flashgate/internal/ident"
	"github.com/flashgate/flashgate/internal/userid"
)

// Rule is the format in words, for error messages.
const Rule = "activity:user:seq, seq a positive decimal integer without leading zeros"

// Append appends the key of purchase seq of user in activity to dst,
// allocating nothing when dst has room (the proxy's hot path).
func Append(dst, activity, user []byte, seq int64) []byte {
	dst = append(dst, activity...)
	dst = append(dst, ':')
	dst = append(dst, user...)
	dst = append(dst, ':')
	return strconv.AppendInt(dst, seq, 10)
}

// String is Append for strings.
func String(activity, user string, seq int64) string {
	return string(Append(make([]byte, 0, len(activity)+len(user)+22), []byte(activity), []byte(user), seq))
}

// Parse splits key into its parts. ok is false unless key is exactly what
// Append writes for a valid activity id, a valid user id and seq > 0.
func Parse(key string) (activity, user string, seq int64, ok bool) {
	i := strings.IndexByte(key, ':')
	j := strings.LastIndexByte(key, ':')
	if i <= 0 || j <= i+1 {
		return "", "", 0, false
	}
	activity, user, num := key[:i], key[i+1:j], key[j+1:]
	if !ident.Valid(activity) || !userid.Valid(user) {
		return "", "", 0, false
	}
	if seq, ok = ParseSeq(num); !ok {
		return "", "", 0, false
	}
	return activity, user, seq, true
}

// ParseSeq reads a purchase number as Append writes it: a positive
// decimal integer with no sign and no leading zero. The admin API reads
// its other counts (topup's units) the same way.
func ParseSeq(s string) (int64, bool) {
	if !canonical(s) {
		return 0, false
	}
	seq, err := strconv.ParseInt(s, 10, 64)
	return seq, err == nil && seq > 0
}

// canonical reports whether s is decimal digits with no sign and no
// leading zero.
func canonical(s string) bool {
	if s == "" || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
