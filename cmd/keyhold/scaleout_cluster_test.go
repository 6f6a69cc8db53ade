package main

import (
	"testing"

	"github.com/keyhold/keyhold/internal/testenv"
)

// eachScaleRedis runs test, in parallel, on a Redis of its own and on the
// binary's Redis Cluster (three masters; KEYHOLD_REDIS_URL in its cluster
// form, redis://N1?addr=N2&addr=N3).
func eachScaleRedis(t *testing.T, test func(t *testing.T, redisURL string)) {
	t.Run("Single", func(t *testing.T) {
		t.Parallel()
		test(t, testenv.PrivateRedis(t).URL())
	})
	t.Run("Cluster", func(t *testing.T) {
		t.Parallel()
		test(t, testenv.RedisCluster(t))
	})
}

// eachPrivateRedis is eachScaleRedis with a cluster of the test's own,
// for a test that counts what it alone does: a shared cluster carries
// other tests' secret announcements (the counter in kh:secrets), and a
// random key verified between another test's announcement and its
// arrival is read from the database.
func eachPrivateRedis(t *testing.T, test func(t *testing.T, redisURL string)) {
	t.Run("Single", func(t *testing.T) {
		t.Parallel()
		test(t, testenv.PrivateRedis(t).URL())
	})
	t.Run("Cluster", func(t *testing.T) {
		t.Parallel()
		test(t, testenv.PrivateRedisCluster(t).URL())
	})
}
