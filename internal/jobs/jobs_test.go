package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/keyhold/keyhold/internal/jobs"
)

// TestBackoff: 10 s after the first failure, doubling, at most an hour.
func TestBackoff(t *testing.T) {
	tests := []struct {
		attempt int
		want    time.Duration
	}{{1, 10 * time.Second}, {2, 20 * time.Second}, {5, 160 * time.Second}, {9, 2560 * time.Second}, {10, time.Hour}, {25, time.Hour}}
	for _, tt := range tests {
		before := time.Now()
		got := jobs.Backoff{}.NextRetry(&rivertype.JobRow{Attempt: tt.attempt})
		if d := got.Sub(before); d < tt.want || d > tt.want+time.Second {
			t.Errorf("attempt %d: retry in %v, want %v", tt.attempt, d, tt.want)
		}
	}
}

// TestNewRefuses: a queue needs a pool and a logger.
func TestNewRefuses(t *testing.T) {
	if _, err := jobs.New(context.Background(), jobs.Config{}); err == nil {
		t.Error("a queue without DB and Logger was made")
	}
}
