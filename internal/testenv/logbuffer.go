package testenv

import (
	"bytes"
	"sync"
)

// LogBuffer collects what a server's goroutines write (its slog output,
// stdout or stderr) while the test reads it: a bytes.Buffer behind a
// mutex, so the race detector has nothing to report. The zero value is
// ready to use.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
