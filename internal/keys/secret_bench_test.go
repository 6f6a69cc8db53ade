package keys

import (
	"strings"
	"testing"
)

var (
	sinkSecret Secret
	sinkHash   [32]byte
	sinkErr    error
)

func BenchmarkParse(b *testing.B) {
	in := knownKeys[0]
	b.ReportAllocs()
	for b.Loop() {
		sinkSecret, sinkErr = Parse(in)
	}
}

func BenchmarkParseRejectLength(b *testing.B) {
	in := strings.Repeat("a", 4096)
	b.ReportAllocs()
	for b.Loop() {
		sinkSecret, sinkErr = Parse(in)
	}
}

func BenchmarkHash(b *testing.B) {
	s := Secret(knownKeys[0])
	b.ReportAllocs()
	for b.Loop() {
		sinkHash = s.Hash()
	}
}

func BenchmarkParseAndHash(b *testing.B) {
	in := knownKeys[0]
	b.ReportAllocs()
	for b.Loop() {
		s, err := Parse(in)
		if err != nil {
			b.Fatal(err)
		}
		sinkHash = s.Hash()
	}
}

func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkSecret, sinkErr = Generate()
	}
}
