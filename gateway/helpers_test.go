package gateway

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/flashgate/flashgate/conf"
	"github.com/flashgate/flashgate/stock"
)

// Test filters, registered once for every test in the package.
func init() {
	Register(Module{Name: "gateway tests", Filters: []FilterInfo{
		{Type: "test_verdict", New: func() FilterConfig { return &verdictConfig{} }},
		{Type: "test_hold", New: func() FilterConfig { return &holdConfig{} }},
	}})
}

// verdictConfig builds a filter that passes, rejects with a 418 page, or
// fails to decide, as its `do` setting says.
type verdictConfig struct {
	Do   string `mapstructure:"do"`
	Rate int    `mapstructure:"rate"`
}

func (c *verdictConfig) Validate(at conf.At) {
	if c.Do != "pass" && c.Do != "reject" && c.Do != "error" {
		at.Addf("do", "must be pass, reject or error, got %q", c.Do)
	}
	if c.Rate < 0 {
		at.Addf("rate", "must be > 0, got %d", c.Rate)
	}
}

func (c *verdictConfig) Build(env *Env) (Filter, error) {
	p, err := env.Page(PageSpec{Status: 418, Reason: "teapot", Kind: "blocked", Message: "No coffee here."})
	return &verdictFilter{do: c.Do, page: p}, err
}

type verdictFilter struct {
	do   string
	page *Page
}

var errTest = errors.New("cannot decide")

func (f *verdictFilter) Handle(r *Request) (Verdict, error) {
	switch f.do {
	case "reject":
		return RejectWith(f.page), nil
	case "error":
		return Verdict{}, errTest
	}
	return Pass, nil
}

// holdConfig builds a filter that takes a stock unit for the X-User-Id
// user, standing in for the stock filter.
type holdConfig struct{}

func (c *holdConfig) Validate(conf.At) {}
func (c *holdConfig) Build(env *Env) (Filter, error) {
	return &holdFilter{units: env.Units}, nil
}

type holdFilter struct{ units *Units }

func (f *holdFilter) Handle(r *Request) (Verdict, error) {
	r.SetUser(r.Ctx.Request.Header.Peek("X-User-Id"))
	d, err := f.units.Take(bgCtx(), r.Activity.ID, r.User)
	if err != nil || d.Result != stock.Admitted {
		return Verdict{}, errTest
	}
	r.Ticket = Ticket{Held: true, Seq: d.Seq}
	return Pass, nil
}

// testServer runs a Server built from yaml over an in-memory listener.
type testServer struct {
	*Server
	client *fasthttp.Client
	ln     *fasthttputil.InmemoryListener
}

func newTestServer(t testing.TB, yaml string, deps Deps) *testServer {
	t.Helper()
	cfg, err := conf.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	cfg.Static.Catalogue = "testdata/catalogue.yaml"
	if deps.Stock == nil {
		deps.Stock = stock.NewMemory()
		deps.AutoWarm = true
	}
	s, err := NewServer(cfg, deps)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	ln := fasthttputil.NewInmemoryListener()
	go func() { _ = s.Serve(ln) }()
	ts := &testServer{Server: s, ln: ln, client: &fasthttp.Client{
		Dial:         func(string) (net.Conn, error) { return ln.Dial() },
		ReadTimeout:  5 * time.Second,
		WriteTimeout: 5 * time.Second,
	}}
	t.Cleanup(func() {
		_ = s.srv.Shutdown()
		_ = deps.Stock.Close()
	})
	return ts
}

// servePageTCP serves the product page route, under the given server
// settings (a YAML flow map such as "{read_timeout: 200ms}"), on a real
// loopback socket, for the tests of socket deadlines and drains, which an
// in-memory listener would not exercise. It returns the server, which
// the caller shuts down, and a dial whose connections are closed at the
// end of the test and bounded by the test's own 10 s deadline.
func servePageTCP(t *testing.T, server string, st stock.Store) (*Server, func() net.Conn) {
	t.Helper()
	cfg, err := conf.Parse([]byte("server: " + server + `
routes:
  - path: /p/{product}
    action: {type: static, page: "{product}"}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Static.Catalogue = "testdata/catalogue.yaml"
	s, err := NewServer(cfg, Deps{Stock: st, AutoWarm: true})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	return s, func() net.Conn {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		return c
	}
}

// do sends one request and returns the response (released by cleanup).
func (ts *testServer) do(t testing.TB, method, path string, headers ...string) *fasthttp.Response {
	t.Helper()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(method)
	req.SetRequestURI("http://flashgate.test" + path)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp := new(fasthttp.Response)
	if err := ts.client.DoTimeout(req, resp, 10*time.Second); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp
}
