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
}
