package gateway

import (
	"strconv"
	"strings"
)

// Query checks the call's query string before anything is done: only the
// parameters named, each at most once. A typo (?froce=true) or a
// repeated value (?units=1&units=9) would otherwise be ignored silently
// and the call would do something else than asked. It answers 400 with
// reason, naming the parameter, and returns false on a bad query.
func (a *AdminCall) Query(reason string, names ...string) bool {
	var bad string
	seen := map[string]bool{}
	a.Ctx.QueryArgs().VisitAll(func(k, _ []byte) {
		key := string(k)
		switch {
		case bad != "":
		case !contains(names, key):
			bad = "unknown query parameter " + strconv.Quote(key)
			if len(names) > 0 {
				bad += " (this call takes " + strings.Join(names, ", ") + ")"
			} else {
				bad += " (this call takes none)"
			}
		case seen[key]:
			bad = "query parameter " + strconv.Quote(key) + " is given more than once"
		}
		seen[key] = true
	})
	if bad != "" {
		a.Error(400, reason, bad)
		return false
	}
	return true
}

// Bool reads an optional boolean query parameter: absent is false, and
// only true, false, 1 and 0 are accepted. Anything else (?force=yes)
// answers 400 with reason, naming the parameter, and returns ok false.
func (a *AdminCall) Bool(name, reason string) (v, ok bool) {
	q := a.Ctx.QueryArgs()
	if !q.Has(name) {
		return false, true
	}
	switch s := string(q.Peek(name)); s {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	default:
		a.Error(400, reason, name+" must be true, false, 1 or 0, got "+strconv.Quote(s))
		return false, false
	}
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}
