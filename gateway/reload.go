package gateway

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/stock"
)

// NotApplied is a setting a reload read but could not apply live: the
// running value stays until a restart (or, for a selling activity's
// stock, until a forced warm-up).
type NotApplied struct {
	// Setting is the YAML path: "server.listen", "activities[0].stock".
	Setting string `json:"setting"`
	// Reason says why and what applies it.
	Reason string `json:"reason"`
}

// Report is what a successful reload did.
type Report struct {
	// NotApplied lists the changed settings that keep their running
	// values; empty when the whole file applies.
	NotApplied []NotApplied `json:"not_applied"`
	// NotLoaded lists the activities a shared store holds no sale of
	// (never warmed, or lost from Redis): their purchases are refused
	// (not_loaded) until a warm. Not a setting the reload failed to apply.
	NotLoaded []string `json:"not_loaded"`
}

// Summary is r.NotApplied for a log line: "setting (reason)", joined
// by "; ".
func (r Report) Summary() string {
	out := make([]string, len(r.NotApplied))
	for i, n := range r.NotApplied {
		out[i] = n.Setting + " (" + n.Reason + ")"
	}
	return strings.Join(out, "; ")
}

const needsRestart = "read at start-up; needs a restart"

// pinStartup returns next with the settings fixed at start-up (the
// listeners, Redis, the stock store, the admin API, logging) set back to
// the running ones, so nothing built from it uses a value that is not
// applied, and lists each one whose value the file changed. The settings
// of those sections that a reload does apply are kept from next.
func pinStartup(running, next *conf.Config) (*conf.Config, []NotApplied) {
	pinned := *next
	var out []NotApplied
	diff := func(section string, a, b any) {
		for _, p := range changedPaths(section, reflect.ValueOf(a), reflect.ValueOf(b)) {
			out = append(out, NotApplied{Setting: p, Reason: needsRestart})
		}
	}
	// server.*: the fasthttp server and its listener are built once. The
	// per-instance settings (real IP header, busy page's Retry-After, the
	// certificate files, re-read on every reload) apply.
	srv := running.Server
	srv.RealIPHeader, srv.RetryAfter = next.Server.RealIPHeader, next.Server.RetryAfter
	srv.TLS.CertFile, srv.TLS.KeyFile = next.Server.TLS.CertFile, next.Server.TLS.KeyFile
	if running.Server.TLS.Enabled() != next.Server.TLS.Enabled() {
		srv.TLS = running.Server.TLS
	}
	diff("server", srv, next.Server)
	pinned.Server = srv

	adm := running.Admin
	adm.TLS.CertFile, adm.TLS.KeyFile = next.Admin.TLS.CertFile, next.Admin.TLS.KeyFile
	if running.Admin.TLS.Enabled() != next.Admin.TLS.Enabled() {
		adm.TLS = running.Admin.TLS
	}
	diff("admin", adm, next.Admin)
	pinned.Admin = adm
	diff("reload", running.Reload, next.Reload)
	pinned.Reload = running.Reload
	diff("log", running.Log, next.Log)
	pinned.Log = running.Log
	diff("redis", running.Redis, next.Redis)
	pinned.Redis = running.Redis
	if running.Stock.Store != next.Stock.Store {
		out = append(out, NotApplied{Setting: "stock.store", Reason: needsRestart})
		pinned.Stock.Store = running.Stock.Store
	}
	return &pinned, out
}

// changedPaths walks two values of one struct type and returns the YAML
// paths (by mapstructure tag) of the leaves that differ. Values are never
// returned: a path may name a secret (redis.password).
func changedPaths(path string, a, b reflect.Value) []string {
	if a.Kind() == reflect.Struct && a.Type() != reflect.TypeOf(time.Time{}) {
		var out []string
		for i := 0; i < a.NumField(); i++ {
			f := a.Type().Field(i)
			tag := strings.Split(f.Tag.Get("mapstructure"), ",")[0]
			if tag == "" || tag == "-" || !f.IsExported() {
				continue
			}
			out = append(out, changedPaths(conf.Join(path, tag), a.Field(i), b.Field(i))...)
		}
		return out
	}
	if reflect.DeepEqual(a.Interface(), b.Interface()) {
		return nil
	}
	return []string{path}
}

// keptSales reports the activities whose changed stock settings a running
// sale on the memory store keeps.
func keptSales(kept []*Activity) []NotApplied {
	out := make([]NotApplied, 0, len(kept))
	for _, a := range kept {
		out = append(out, NotApplied{
			Setting: fmt.Sprintf("activities[%d] (%s): stock, shards, per_user", a.Index, a.ID),
			Reason:  "the sale is running on the memory store and keeps its stock; POST /admin/activities/" + a.ID + "/warm?force=true restarts it with the new settings",
		})
	}
	return out
}

// changedSales reports, for a shared store (which a reload never warms:
// its sale was loaded by `flashgate warm`), the activities whose stock,
// shards or per_user in the file differ from the sale the store has
// loaded: that sale keeps the settings it was warmed with until a forced
// warm. It reads the store, so every reload says so until then, not only
// the one that changed the file; when the store cannot answer within
// changedSalesTimeout it compares with the previous file instead.
func changedSales(st stock.Store, old, next []*Activity) (out []NotApplied, notLoaded []string) {
	prev := make(map[string]*Activity, len(old))
	for _, a := range old {
		prev[a.ID] = a
	}
	ctx, cancel := context.WithTimeout(context.Background(), changedSalesTimeout)
	defer cancel()
	for _, a := range next {
		loaded, ok, err := stock.LoadedSpec(ctx, st, a.ID)
		what := "the shared store keeps the loaded sale's settings (stock %d, shards %d, per_user %d)"
		if err != nil { // the store cannot say: compare with the previous file
			what = "the shared store keeps the loaded sale's settings; it could not be read, and the previous file had stock %d, shards %d, per_user %d"
			p := prev[a.ID]
			if ok = p != nil; ok {
				loaded = SpecOf(p)
			}
		}
		if err == nil && !ok {
			// Never warmed, or lost from Redis: its purchases are refused
			// until it is, which a reload that says nothing would hide.
			notLoaded = append(notLoaded, a.ID)
			continue
		}
		var differ []string
		for _, f := range []struct {
			name       string
			file, sale int64
		}{{"stock", a.Stock, loaded.Stock}, {"shards", int64(a.Shards), int64(loaded.Shards)}, {"per_user", a.PerUser, loaded.PerUser}} {
			if f.file != f.sale {
				differ = append(differ, fmt.Sprintf("%s (file %d)", f.name, f.file))
			}
		}
		if !ok || len(differ) == 0 {
			continue
		}
		out = append(out, NotApplied{
			Setting: fmt.Sprintf("activities[%d] (%s): %s", a.Index, a.ID, strings.Join(differ, ", ")),
			Reason: fmt.Sprintf(what, loaded.Stock, loaded.Shards, loaded.PerUser) +
				"; `flashgate warm --activity " + a.ID + " --force` or POST /admin/activities/" + a.ID + "/warm?force=true loads the new ones and restarts the sale",
		})
	}
	return out, notLoaded
}

// changedSalesTimeout bounds a reload's reads of the loaded sales.
const changedSalesTimeout = 2 * time.Second
