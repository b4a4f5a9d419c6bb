package gateway

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// readyEvery is how often /readyz probes Redis at most: probes beyond it
// get the last answer, so a crowd (or an attacker) on /readyz costs Redis
// one PING a second.
const readyEvery = time.Second

// readyTimeout bounds the probe's PING.
const readyTimeout = 500 * time.Millisecond

// readiness answers /readyz: the config is loaded and its pages rendered.
// Redis's answer to PING is reported beside them, and gates the answer
// only when asked (/readyz?require=redis): every instance shares one
// Redis, so gating on it would take the whole fleet out of its load
// balancer in the same second of a Redis blip, pages served from memory
// and the fast busy answers included, and put it back all at once.
type readiness struct {
	mu      sync.Mutex
	checked time.Time
	redisOK bool
}

var pathReadyz = []byte("/readyz")

// Ready reports the checks of /readyz and whether the instance is ready:
// config and pages, and Redis too with requireRedis.
func (s *Server) Ready(requireRedis bool) (map[string]string, bool) {
	checks := map[string]string{"config": "ok", "pages": "ok"}
	ok := true
	in := s.cur.Load()
	if in == nil {
		checks["config"], ok = "not loaded", false
	} else if in.Site == nil || in.busy == nil {
		checks["pages"], ok = "not rendered", false
	}
	if s.deps.Redis != nil {
		if s.redisReady() {
			checks["redis"] = "ok"
		} else {
			checks["redis"] = "unreachable"
			ok = ok && !requireRedis
		}
	}
	return checks, ok
}

func (s *Server) redisReady() bool {
	r := &s.ready
	if !r.mu.TryLock() {
		// A probe is under way: answer with the last result rather
		// than queue behind it.
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.redisOK
	}
	defer r.mu.Unlock()
	now := time.Now()
	if !r.checked.IsZero() && now.Sub(r.checked) < readyEvery {
		return r.redisOK
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	// The probe is not a request: it goes on the background client, so
	// its dials never queue a request behind them.
	rc := s.deps.RedisBackground
	if rc == nil {
		rc = s.deps.Redis
	}
	err := rc.Do(ctx, rc.B().Ping().Build()).Error()
	if err != nil && (r.redisOK || r.checked.IsZero()) { // log the change, not every probe
		s.log.Warn("readyz: redis does not answer PING", "err", err)
	}
	r.checked, r.redisOK = time.Now(), err == nil
	return r.redisOK
}

// serveReady writes the /readyz answer: 200 when every check passed,
// else 503, with the checks as JSON.
func (s *Server) serveReady(ctx *fasthttp.RequestCtx) {
	// A probe meant to gate on something must not silently not: a
	// misspelt key (?requires=redis), an empty or other value, or a
	// repeat is refused, as the admin API refuses unknown parameters.
	q := ctx.QueryArgs()
	if q.Len() > 1 || (q.Len() == 1 && string(q.Peek("require")) != "redis") {
		SetPrivateJSON(&ctx.Response.Header)
		ctx.SetStatusCode(fasthttp.StatusBadRequest)
		ctx.SetBodyString(`{"error":"bad_query","message":"/readyz takes no query parameter but require=redis","status":400}` + "\n")
		return
	}
	checks, ok := s.Ready(q.Len() == 1)
	b, _ := json.Marshal(map[string]any{"ready": ok, "checks": checks})
	SetPrivateJSON(&ctx.Response.Header)
	if !ok {
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
	}
	ctx.SetBody(append(b, '\n'))
}
