package reservation

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/flashgate/flashgate/filters/internal/userset"
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/internal/userid"
)

// adminRoutes are the reservation lists' operator calls, registered
// with the filter (reservation.go): they read the hub its builds shared.
var adminRoutes = []gateway.AdminRoute{
	{Method: "POST", Path: "/admin/activities/{id}/reservations", Handler: adminAdd},
	{Method: "GET", Path: "/admin/activities/{id}/reservations", Handler: adminCount},
}

// adminTimeout bounds the Redis work of one admin call (a large upload is
// many batches).
const adminTimeout = 30 * time.Second

// lists returns the activity's reservation lists, or writes 404.
func lists(a *gateway.AdminCall) (string, []*list) {
	id := a.Param("id")
	if a.Instance == nil || a.Instance.Activities[id] == nil {
		a.Error(404, "unknown_activity", "no activity "+strconv.Quote(id)+" in the running config")
		return id, nil
	}
	if h, ok := gateway.Shared(a.Instance, hubKey); ok {
		if ls := h.lists(id); len(ls) > 0 {
			return id, ls
		}
	}
	a.Error(404, "no_reservations", "no reservation filter guards activity "+strconv.Quote(id))
	return id, nil
}

// adminAdd answers POST /admin/activities/{id}/reservations: the body
// lists user ids, one a line ('#' comments). They are added to the Redis
// set in batches, then to this instance's copy at once; other instances
// see them within refresh. This is how a sale's list is loaded at warm-up.
func adminAdd(a *gateway.AdminCall) {
	id, ls := lists(a)
	if ls == nil {
		return
	}
	lines := userset.ParseLines(a.Ctx.PostBody())
	users := make([]string, 0, len(lines))
	var bad []string
	for _, l := range lines {
		if !userid.Valid(l.Text) {
			bad = append(bad, fmt.Sprintf("line %d: %q is not a user id ([A-Za-z0-9_.@:-]{1,128})", l.N, l.Text))
			continue
		}
		users = append(users, l.Text)
	}
	if len(bad) > 0 {
		a.Error(400, "bad_user", userset.Problems(bad).Error())
		return
	}
	if len(users) == 0 {
		a.Error(400, "bad_user", "the body lists no user ids (one per line)")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	done := map[string]bool{}
	var added int64
	for _, l := range ls {
		if !l.m.HasRedis() {
			continue
		}
		n, err := l.m.Add(ctx, users)
		if err != nil {
			a.Error(503, "store_unavailable", err.Error())
			return
		}
		if !done[l.key] {
			added += n
			done[l.key] = true
		}
	}
	if len(done) == 0 {
		a.Error(409, "no_redis", "the reservation list of activity "+strconv.Quote(id)+" has no Redis set (redis_key_pattern)")
		return
	}
	a.JSON(200, map[string]any{"activity": id, "received": len(users), "added": added})
}

// setView is one list in GET /admin/activities/{id}/reservations.
type setView struct {
	Key    string `json:"key,omitempty"`
	File   string `json:"file,omitempty"`
	Loaded bool   `json:"loaded"`
	Local  int    `json:"local"`           // users in this instance's copy
	Redis  *int64 `json:"redis,omitempty"` // SCARD; absent without a set or when Redis failed
}

// adminCount answers GET /admin/activities/{id}/reservations with the
// number of reserved users: count is this instance's copy (the largest,
// if several entries name different lists), sets details each list.
func adminCount(a *gateway.AdminCall) {
	id, ls := lists(a)
	if ls == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	count := 0
	views := make([]setView, 0, len(ls))
	for _, l := range ls {
		v := setView{Key: l.key, File: l.file, Loaded: l.m.Loaded()}
		if s := l.m.Load(); s != nil {
			v.Local = s.Len()
		}
		if l.m.HasRedis() {
			if n, err := l.m.Count(ctx); err == nil {
				v.Redis = &n
			}
		}
		count = max(count, v.Local)
		views = append(views, v)
	}
	a.JSON(200, map[string]any{"activity": id, "count": count, "sets": views})
}
