// Package filters links every built-in filter type into a binary: import
// it for its side effects. Each filter lives in its own package and
// registers itself with gateway.Register from init.
//
// The recommended order of a purchase chain, cheapest and most selective
// first, so that Redis is spent only on requests that could succeed:
//
//	identity      who is asking: everything after may key on the user
//	blacklist     known bad users and IPs, from a local copy
//	sale_window   not started / ended, from the clock
//	hidden_path   guessed or early purchase URLs are 404
//	order_token   bots that buy without (or too soon after) the checkout page
//	reservation   pre-registered users only, from a local copy
//	rate_limit    global, route, IP, user and item limits
//	stock         the one Redis round trip that takes a unit
package filters

import (
	_ "github.com/flashgate/flashgate/filters/blacklist"
	_ "github.com/flashgate/flashgate/filters/hiddenpath"
	_ "github.com/flashgate/flashgate/filters/identity"
	_ "github.com/flashgate/flashgate/filters/ratelimit"
	_ "github.com/flashgate/flashgate/filters/reservation"
	_ "github.com/flashgate/flashgate/filters/stock"
	_ "github.com/flashgate/flashgate/filters/token"
	_ "github.com/flashgate/flashgate/filters/window"
)
