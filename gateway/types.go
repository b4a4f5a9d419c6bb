package gateway

import "github.com/flashgate/flashgate/conf"

// The registry (registry.go) is the schema of the sections conf decodes:
// each filter's settings and each json endpoint's config. conf cannot
// import the gateway, so it is handed over once, here.
func init() { conf.UseTypes(registryTypes{}) }

// registryTypes is the registry seen as conf.Types.
type registryTypes struct{}

func (registryTypes) Filter(typ string) (conf.Section, bool, bool) {
	fi, ok := lookupFilter(typ)
	if !ok {
		return nil, false, false
	}
	return fi.New(), fi.FailClosedOnly, true
}

func (registryTypes) Endpoint(name string) (conf.Section, bool) {
	ei, ok := lookupEndpoint(name)
	if !ok {
		return nil, false
	}
	return ei.New(), true
}

func (registryTypes) FilterTypes() []string   { return FilterTypes() }
func (registryTypes) EndpointNames() []string { return EndpointNames() }

// Check is the plan stage's dial-free part (prepare), for a file that
// has problems already: its own problems join the report.
func (registryTypes) Check(cfg *conf.Config, errs *conf.Errors) {
	if _, _, site := prepare(cfg, errs); site != nil {
		_ = site.Close()
	}
}
