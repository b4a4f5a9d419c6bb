// Package redistest runs real redis-server processes for integration tests:
// a standalone server and a Redis Cluster of masters, all on 127.0.0.1 with
// free ports, no persistence and a t.TempDir() each.
//
// Tests use a real server rather than a fake because the filters depend on
// behaviour a fake gets wrong: Lua scripting, EVALSHA fallback, cross-slot
// refusals and MOVED redirects. Nothing here skips when Redis is absent:
// Binary installs it (Debian's package) when it can and otherwise fails the
// test with the command that installs it, since a skipped test in CI tests
// nothing.
//
// Every process is started with Pdeathsig so that it dies with the test
// binary, even when the binary is killed by a timeout and no t.Cleanup runs.
package redistest
