// Package bench holds flashgate's benchmark harness: Go benchmarks of
// whole request paths through the public handler (bench_test.go), the wrk
// scripts and run.sh that `make bench` uses, and bench.yaml, the config
// both run against.
package bench
