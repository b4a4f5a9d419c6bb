package gateway_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/flashgate/flashgate/conf"
	_ "github.com/flashgate/flashgate/filters" // their admin routes too
	"github.com/flashgate/flashgate/gateway"
	"github.com/flashgate/flashgate/stock"
)

// TestOpenAPIMatchesRoutes keeps /admin/openapi.json true: every route
// the admin listener registers (the filters' included) is described, and
// nothing is described that is not registered.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	cfg, err := conf.Parse([]byte("activities: [{id: a1, stock: 1}]\nroutes: [{path: \"/x/{activity}\", action: {type: json, endpoint: activity_status}}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	deps := gateway.Deps{Stock: stock.NewMemory(), AutoWarm: true}
	srv, err := gateway.NewServer(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	ad, err := gateway.NewAdmin(conf.Admin{Listen: "inmemory", Token: "0123456789abcdef"}, srv, deps, func() (gateway.Report, error) { return gateway.Report{}, nil })
	if err != nil {
		t.Fatal(err)
	}
	ctx := new(fasthttp.RequestCtx)
	ctx.Request.SetRequestURI("/admin/openapi.json")
	ad.Handler()(ctx)
	if ctx.Response.StatusCode() != 200 || !strings.HasPrefix(string(ctx.Response.Header.ContentType()), "application/json") {
		t.Fatalf("GET /admin/openapi.json: %d %s", ctx.Response.StatusCode(), ctx.Response.Header.ContentType())
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(ctx.Response.Body(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	var described []string
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			described = append(described, strings.ToUpper(method)+" "+path)
		}
	}
	registered := ad.Routes()
	for _, r := range registered {
		if !slices.Contains(described, r) {
			t.Errorf("route %s is not described in openapi.json", r)
		}
	}
	for _, d := range described {
		if !slices.Contains(registered, d) {
			t.Errorf("openapi.json describes %s, which is not a registered route", d)
		}
	}
	if len(registered) < 15 {
		t.Fatalf("only %d admin routes registered: %v", len(registered), registered)
	}
	// Every call behind the token refuses a query parameter it does not
	// take with 400 (README: bad_query), before it does anything; the
	// description must say that it can answer 400.
	for _, r := range registered {
		method, path, _ := strings.Cut(r, " ")
		if !strings.HasPrefix(path, "/admin/") || path == "/admin/openapi.json" {
			continue
		}
		ctx := new(fasthttp.RequestCtx)
		ctx.Request.Header.SetMethod(method)
		ctx.Request.SetRequestURI(strings.NewReplacer("{id}", "a1", "{key}", "a1:u1:4294967297").Replace(path) + "?zz=1")
		ctx.Request.Header.Set("Authorization", "Bearer 0123456789abcdef")
		ad.Handler()(ctx)
		// A list call answers 404 no_blacklist / no_reservations first
		// when no filter of its kind is configured here.
		if code := ctx.Response.StatusCode(); code != 400 && !(code == 404 && strings.Contains(string(ctx.Response.Body()), `"error":"no_`)) {
			t.Errorf("%s?zz=1: %d %s, want 400 for a parameter it does not take", r, ctx.Response.StatusCode(), ctx.Response.Body())
		}
		var op struct {
			Responses map[string]json.RawMessage `json:"responses"`
		}
		if err := json.Unmarshal(doc.Paths[path][strings.ToLower(method)], &op); err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		if _, ok := op.Responses["400"]; !ok {
			t.Errorf("openapi.json: %s does not describe its 400", r)
		}
	}
}
