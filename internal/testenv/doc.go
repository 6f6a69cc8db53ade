// Package testenv starts the real services that Keyhold's tests talk to
// (PostgreSQL, Redis, stripe-mock and headless Chromium) once per test
// binary, and hands each test a fresh resource on them.
//
// Every package whose tests use testenv must run its tests through [Main], so
// that the services stop and their temporary directories go when the tests
// end:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// A helper called from a package that does not do this fails the test with a
// message that says so.
//
// The helpers:
//
//   - [Postgres] returns the DSN of a new, empty database that is dropped when
//     the test ends. With KEYHOLD_TEST_POSTGRES_URL set (a postgres:// URL of
//     a superuser on a server that runs already) it creates the databases
//     there; otherwise it runs initdb and starts a throwaway server on a free
//     loopback port, as the user postgres (or nobody) when the tests run as
//     root, because PostgreSQL refuses to run as root.
//   - [Redis] returns the redis:// URL of a redis-server on a free loopback
//     port. All tests of a binary share that server and its databases, so
//     each test must use key prefixes of its own (for example one made from
//     t.Name()), and must never FLUSHDB or FLUSHALL.
//   - [RedisCluster] returns the URL (in KEYHOLD_REDIS_URL's cluster form,
//     redis://N1?addr=N2&addr=N3) of a Redis Cluster of three masters
//     without replicas, joined by redis-cli --cluster create and shared by
//     the binary's tests like [Redis]'s server. [PrivateRedisCluster] starts
//     one for a single test, whose masters it may kill and start again.
//   - [StripeMock] returns the base URL (http://127.0.0.1:PORT) of a
//     stripe-mock process. stripe-mock keeps no state, so tests can share it.
//     Use any test secret key, such as sk_test_123.
//   - [Chromium] returns a chromedp context for a new tab, in a browser
//     context of its own (its own cookies and storage), of the one headless
//     Chromium that the test binary runs. It expires after 60 seconds and is
//     cancelled when the test ends.
//
// [LogBuffer] is not a service: it collects the log (or stdout) that a
// server's goroutines write while the test reads it. A fresh, migrated
// Keyhold database comes from internal/store/storetest, which builds on
// [Postgres].
//
// Every helper calls tb.Helper, waits for its service to answer with a
// deadline, and puts the service's own output into the error when it fails.
// A service is started at most once per test binary: when the first start
// fails, every later call fails the same way at once.
//
// When the program of a service is not installed, the helper fails the test
// if the environment variable CI is "true" (as it is in .ci/run), and skips
// it otherwise, with the command that installs the program. A program that is
// installed but does not start always fails the test.
//
// Every service process gets a parent-death signal (SIGKILL), so a test
// binary that is killed, or that times out, does not leave it running; the
// temporary directory (keyhold-testenv-PID-* in the temporary directory) that
// such a binary leaves is removed by the next one.
//
// Outside of tests, [StartPostgresServer] and [StartRedisServer] start the
// same PostgreSQL and Redis servers in a directory that the caller gives and
// owns, without testing.TB or Main: the caller stops them with
// [Server.Stop]. They exist for the benchmark harness (cmd/loadgen), so that
// it does not carry a copy of this start-up code; tests use the helpers
// above.
//
// Programs are looked up as follows:
//
//   - PostgreSQL: initdb and postgres on PATH, in /usr/local/bin, then in
//     /usr/lib/postgresql/*/bin (newest version first). Debian: apt-get
//     install postgresql.
//   - Redis: redis-server on PATH, /usr/bin, /usr/local/bin, /usr/sbin.
//     Debian: apt-get install redis-server. redis-cli (for clusters): on
//     PATH, /usr/bin, /usr/local/bin; Debian: apt-get install redis-tools.
//   - stripe-mock: on PATH, in $GOBIN, then in $(go env GOPATH)/bin. Install
//     with go install github.com/stripe/stripe-mock@v0.203.0.
//   - Chromium: /usr/bin/chromium, then chromium, chromium-browser,
//     google-chrome and google-chrome-stable on PATH. Debian: apt-get install
//     chromium.
package testenv
