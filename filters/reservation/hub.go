package reservation

import (
	"context"
	"sync"
	"time"

	"github.com/flashgate/flashgate/filters/internal/userset"
	"github.com/flashgate/flashgate/gateway"
)

// hubKey is the shared key of the instance's hub.
var hubKey = gateway.NewSharedKey[*hub]("reservation")

// initialLoad bounds the first load of a set at build time. A set that
// fails it is retried every refresh; until one succeeds its activity fails
// closed.
const initialLoad = 2 * time.Second

// spec names one activity's list: its Redis set and its file.
type spec struct {
	activity string
	key      string // with the prefix; "" for none
	file     string
	static   []string
}

// list is one activity's local copy.
type list struct {
	spec
	m *userset.Mirror[userset.Set]
}

// hub holds every reservation list of an instance, so that routes naming
// the same set share one copy and one reload loop, and the admin API can
// find an activity's lists. It is closed with the instance.
type hub struct {
	mu         sync.Mutex
	byID       map[string]*list
	byActivity map[string][]*list
}

func newHub() *hub {
	return &hub{byID: map[string]*list{}, byActivity: map[string][]*list{}}
}

// mirrors returns the copy for each spec, creating the missing ones: their
// first loads run in parallel, so a Redis that is down delays the build by
// one initialLoad, not one per activity.
func (h *hub) mirrors(env *gateway.Env, specs []spec, refresh time.Duration) []*userset.Mirror[userset.Set] {
	out := make([]*userset.Mirror[userset.Set], len(specs))
	var fresh []*list
	h.mu.Lock()
	for i, s := range specs {
		id := s.activity + "|" + s.key + "|" + s.file
		l := h.byID[id]
		if l == nil {
			l = &list{spec: s, m: userset.New(userset.Options[userset.Set]{
				Client: env.BackgroundRedis(), Key: s.key, Static: s.static, Refresh: refresh, Build: userset.NewSet,
				Logger: env.Logger.With("filter", "reservation", "activity", s.activity, "key", s.key),
			})}
			h.byID[id] = l
			h.byActivity[s.activity] = append(h.byActivity[s.activity], l)
			fresh = append(fresh, l)
		}
		l.m.LowerRefresh(refresh)
		out[i] = l.m
	}
	h.mu.Unlock()

	var wg sync.WaitGroup
	for _, l := range fresh {
		if !l.m.HasRedis() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), initialLoad)
			defer cancel()
			if err := l.m.Refresh(ctx); err != nil {
				env.Logger.Warn("first load of a reservation list failed; the activity fails closed until a reload succeeds",
					"activity", l.activity, "key", l.key, "err", err)
			}
		}()
	}
	wg.Wait()
	for _, l := range fresh {
		l.m.Start()
	}
	return out
}

// lists returns an activity's lists.
func (h *hub) lists(activity string) []*list {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*list(nil), h.byActivity[activity]...)
}

// Close stops every reload loop.
func (h *hub) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, l := range h.byID {
		l.m.Close()
	}
	return nil
}
