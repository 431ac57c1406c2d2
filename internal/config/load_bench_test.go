package config_test

import (
	"testing"

	"github.com/prefect-apply/prefect-apply/bench/benchdata"
)

// BenchmarkLoadValidate1000 parses and validates a generated file of 1000
// pools with 3 queues each (what `validate` does, without the process).
func BenchmarkLoadValidate1000(b *testing.B) {
	data := benchdata.Bytes(1000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := benchdata.Load(data); err != nil {
			b.Fatal(err)
		}
	}
}
