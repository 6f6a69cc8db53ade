package testenv_test

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/keyhold/keyhold/internal/testenv"
)

// TestLogBuffer logs from several goroutines while the test reads (run
// with -race): every line arrives whole, none lost.
func TestLogBuffer(t *testing.T) {
	var buf testenv.LogBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	const workers, each = 8, 200
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				log.Info("line", "worker", w, "i", i)
				_ = buf.String() // a reader while others write
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != workers*each {
		t.Fatalf("%d lines, want %d", len(lines), workers*each)
	}
	for w := range workers {
		for _, i := range []int{0, each - 1} {
			if want := fmt.Sprintf("msg=line worker=%d i=%d", w, i); !strings.Contains(buf.String(), want) {
				t.Errorf("no line with %q", want)
			}
		}
	}
}
