package blacklist

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flashgate/flashgate/gateway"
)

// adminRoutes are the blacklist's operator calls, registered with the
// filter (blacklist.go): they read the lists its builds shared.
var adminRoutes = []gateway.AdminRoute{
	{Method: "GET", Path: "/admin/blacklist", Handler: adminList},
	{Method: "POST", Path: "/admin/blacklist", Handler: adminAdd, TakesQuery: true},
	{Method: "DELETE", Path: "/admin/blacklist", Handler: adminRemove, TakesQuery: true},
}

// adminTimeout bounds the Redis writes of one admin call.
const adminTimeout = 5 * time.Second

// listView is one blacklist in GET /admin/blacklist.
type listView struct {
	RedisKey string   `json:"redis_key"`
	File     string   `json:"file"`
	Loaded   bool     `json:"loaded"` // the Redis set has loaded at least once
	FileList []string `json:"file_entries"`
	Redis    []string `json:"redis_entries"`
	// Skipped are Redis members that are no entry (written by hand):
	// they block nothing; DELETE ?entry= with one as written removes it.
	Skipped []string `json:"skipped_redis_members"`
}

// lists returns the instance's blacklists, or writes 404 when none is
// configured.
func lists(a *gateway.AdminCall) []*list {
	if reg, ok := gateway.Shared(a.Instance, registryKey); ok {
		if ls := reg.all(); len(ls) > 0 {
			return ls
		}
	}
	a.Error(404, "no_blacklist", "no blacklist filter is configured")
	return nil
}

// adminList answers GET /admin/blacklist: every copy with its entries.
func adminList(a *gateway.AdminCall) {
	ls := lists(a)
	if ls == nil {
		return
	}
	out := make([]listView, 0, len(ls))
	for _, l := range ls {
		members, skipped := l.m.Members(), l.skipped()
		members = slices.DeleteFunc(members, func(m string) bool { return slices.Contains(skipped, m) })
		slices.Sort(members)
		slices.Sort(skipped)
		out = append(out, listView{
			RedisKey: l.redisKey, File: l.file, Loaded: l.m.Loaded(),
			FileList: append([]string{}, l.m.Static()...), Redis: members, Skipped: skipped,
		})
	}
	a.JSON(200, map[string]any{"blacklists": out})
}

// target parses ?entry= and picks the lists with a Redis set, narrowed
// by ?key= (a redis_key as configured) when given. It writes the error
// answer and returns ok false when there is nothing to do.
//
// With skipped (a removal), an entry that does not parse is still taken
// when it is a member some list skipped (written to Redis by hand), so
// the API can clean it up; e is then the zero entry.
func target(a *gateway.AdminCall, skipped bool) (e entry, raw string, ls []*list, ok bool) {
	all := lists(a)
	if all == nil {
		return entry{}, "", nil, false
	}
	if !a.Query("bad_entry", "entry", "key") {
		return entry{}, "", nil, false
	}
	q := a.Ctx.QueryArgs()
	raw = string(q.Peek("entry"))
	e, err := parseEntry(raw)
	if err != nil && !(skipped && raw != "" && slices.ContainsFunc(all, func(l *list) bool { return slices.Contains(l.skipped(), raw) })) {
		a.Error(400, "bad_entry", "entry: "+err.Error())
		return entry{}, "", nil, false
	}
	key, byKey := string(q.Peek("key")), q.Has("key")
	if byKey && !slices.ContainsFunc(all, func(l *list) bool { return l.redisKey == key }) {
		// A typo, not an outage: name what is configured.
		var keys []string
		for _, l := range all {
			if l.redisKey != "" && !slices.Contains(keys, l.redisKey) {
				keys = append(keys, l.redisKey)
			}
		}
		a.Error(404, "unknown_key", "no blacklist has redis_key "+strconv.Quote(key)+"; configured: "+strings.Join(keys, ", "))
		return entry{}, "", nil, false
	}
	for _, l := range all {
		if l.m.HasRedis() && (!byKey || l.redisKey == key) {
			ls = append(ls, l)
		}
	}
	if len(ls) == 0 {
		msg := "no blacklist with a Redis set (redis_key) is configured"
		if byKey {
			msg += " under key " + strconv.Quote(key)
		}
		a.Error(409, "no_redis", msg) // the config, not Redis: asking again cannot help
		return entry{}, "", nil, false
	}
	return e, raw, ls, true
}

// adminAdd answers POST /admin/blacklist?entry=X: add X to the Redis set
// (every instance applies it within refresh) and to this instance's copy
// at once.
func adminAdd(a *gateway.AdminCall) {
	e, _, ls, ok := target(a, false)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	added := false
	for _, l := range ls {
		n, err := l.m.Add(ctx, []string{e.String()})
		if err != nil {
			a.Error(503, "store_unavailable", err.Error())
			return
		}
		added = added || n > 0
	}
	a.JSON(200, map[string]any{"entry": e.String(), "added": added})
}

// adminRemove answers DELETE /admin/blacklist?entry=X. An entry that is
// also in a file stays in force until the file is edited and the config
// reloaded; in_file says so.
func adminRemove(a *gateway.AdminCall) {
	e, raw, ls, ok := target(a, true)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	removed, inFile := false, false
	shown, forms := raw, []string{raw} // a skipped member, as written
	if e != (entry{}) {
		shown, forms = e.String(), []string{e.String()}
		if raw != e.String() {
			forms = append(forms, raw) // a member written by hand in another form
		}
	}
	for _, l := range ls {
		n, err := l.m.Remove(ctx, forms)
		if err != nil {
			a.Error(503, "store_unavailable", err.Error())
			return
		}
		removed = removed || n > 0
		inFile = inFile || slices.Contains(l.m.Static(), e.String())
	}
	a.JSON(200, map[string]any{"entry": shown, "removed": removed, "in_file": inFile})
}

// skipped is a copy of the Redis members this list skipped (no entry).
func (l *list) skipped() []string {
	out := []string{}
	if snap := l.m.Load(); snap != nil {
		out = append(out, snap.invalid...)
	}
	return out
}
