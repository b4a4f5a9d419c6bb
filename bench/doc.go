// Package bench holds flashgate's benchmark harness: Go benchmarks of
// whole request paths through the public handler (bench_test.go), the wrk
// scenario scripts (*.lua, with report.lua appended to each), the load
// harness that `make bench` runs (harness/), and bench.yaml, the config
// both run against (the harness starts real gateways on copies of it).
package bench
