package gateway

import "strings"

// reasonTitles are the headings of system pages in a shopper's words,
// by reason code. A page whose reason is not here gets its kind's
// heading ("We are very busy", "Sold out", ...; see static's kinds), so
// no page ever shows an HTTP status name such as "Forbidden" or "Gone".
var reasonTitles = map[string]string{
	"unauthenticated":            "Please sign in",
	"login_required":             "Please sign in",
	"reservation_requires_login": "Please sign in",
	"bad_user_id":                "We could not tell who you are",
	"already_purchased":          "One per customer",
	"not_reserved":               "Reservations only",
	"blacklisted":                "We cannot take your order",
	"not_loaded":                 "Almost ready",
	"sale_closed":                "Not started yet",
	"token_too_young":            "One moment, please",
	"token_replayed":             "This order was already sent",
	"method_not_allowed":         "This page cannot do that",
	"upstream_error":             "Something went wrong",
	"upstream_timeout":           "That took too long",
}

// reasonPrefixTitles cover families of reasons.
var reasonPrefixTitles = []struct{ prefix, title string }{
	{"jwt_", "Please sign in again"},
	{"token_", "Please reload the page"},
}

// titleOf is the heading of a page: its own Title, else the reason's,
// else "" for the kind's default.
func titleOf(s PageSpec) string {
	if s.Title != "" {
		return s.Title
	}
	if t, ok := reasonTitles[s.Reason]; ok {
		return t
	}
	for _, p := range reasonPrefixTitles {
		if strings.HasPrefix(s.Reason, p.prefix) {
			return p.title
		}
	}
	return ""
}
