package geom

import (
	"math/rand/v2"
	"testing"
)

// Batch 32 at Point-MAE's two input sizes. ns/op is per batch.

func benchCloud(n int) []float32 {
	p := randCloud(rand.New(rand.NewPCG(99, uint64(n))), 32, n)
	_ = NormalizeUnitSphere(p, 32, n)
	return p
}

func BenchmarkFPS2048to128B32(b *testing.B) {
	p := benchCloud(2048)
	for b.Loop() {
		if _, err := FPS(p, 32, 2048, 128); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKNN128x2048K32B32(b *testing.B) {
	p := benchCloud(2048)
	idx, _ := FPS(p, 32, 2048, 128)
	q, _ := Gather(p, 32, 2048, idx, 128)
	for b.Loop() {
		if _, err := KNN(p, 32, 2048, q, 128, 32); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFPS1024to64KNN32B32(b *testing.B) {
	p := benchCloud(1024)
	for b.Loop() {
		idx, err := FPS(p, 32, 1024, 64)
		if err != nil {
			b.Fatal(err)
		}
		q, _ := Gather(p, 32, 1024, idx, 64)
		if _, err := KNN(p, 32, 1024, q, 64, 32); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGroup1024G64M32B32(b *testing.B) {
	p := benchCloud(1024)
	for b.Loop() {
		if _, err := Group(p, 32, 1024, 64, 32); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGroup2048G128M32B32(b *testing.B) {
	p := benchCloud(2048)
	for b.Loop() {
		if _, err := Group(p, 32, 2048, 128, 32); err != nil {
			b.Fatal(err)
		}
	}
}
