package render_test

import (
	"io"
	"testing"

	"github.com/prefect-apply/prefect-apply/bench/benchdata"
	"github.com/prefect-apply/prefect-apply/internal/render"
)

// The plans rendered are the first sync of 1000 generated pools: every
// object created, every field listed, the largest plan a file that size
// makes.

func BenchmarkRenderText1000(b *testing.B) {
	p := benchdata.FromEmpty(1000)
	b.ReportAllocs()
	for b.Loop() {
		if err := render.Text(io.Discard, p, render.Style{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderTextColor1000(b *testing.B) {
	p := benchdata.FromEmpty(1000)
	b.ReportAllocs()
	for b.Loop() {
		if err := render.Text(io.Discard, p, render.Style{Color: true}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderJSON1000(b *testing.B) {
	p := benchdata.FromEmpty(1000)
	b.ReportAllocs()
	for b.Loop() {
		if err := render.JSON(io.Discard, p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderMarkdown1000(b *testing.B) {
	p := benchdata.FromEmpty(1000)
	b.ReportAllocs()
	for b.Loop() {
		if err := render.Markdown(io.Discard, p); err != nil {
			b.Fatal(err)
		}
	}
}
