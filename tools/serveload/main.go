// Command serveload is the bounded load test of pointpeft serve, on loopback only: it
// serves copies of one adapter file on one backbone (serve.Server on 127.0.0.1, a
// random port), sends requests from C concurrent clients for a fixed time per cell,
// and prints throughput and p50/p99 latency for 1 and 4 models at each concurrency,
// with micro-batching on and off; then the Go heap with 1, 10 and 100 adapters loaded
// on the shared backbone, next to 10 adapters each loaded with its own backbone. It
// stops by itself (cells × --duration, plus loading). Results go to stdout as
// Markdown tables (docs/serving.md).
//
//	go run ./tools/serveload --adapter runs/demo/point-peft/adapter.safetensors
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pointpeft/pointpeft/pcio"
	_ "github.com/pointpeft/pointpeft/peft/pointgst"
	_ "github.com/pointpeft/pointpeft/peft/pointlora"
	"github.com/pointpeft/pointpeft/serve"
	"github.com/pointpeft/pointpeft/train"
)

func main() {
	adapter := flag.String("adapter", "runs/demo/point-peft/adapter.safetensors", "the adapter file to serve copies of")
	backbone := flag.String("backbone", "", "its backbone (default: the shipped one)")
	duration := flag.Duration("duration", 3*time.Second, "time per cell")
	conc := flag.String("concurrency", "1,8,32", "client counts (empty: skip the throughput table)")
	memCounts := flag.String("memory", "1,10,100", "adapter counts for the memory table, starting with 1 (empty: skip)")
	points := flag.Int("points", 1024, "points per request cloud")
	flag.Parse()
	if *duration <= 0 || *duration > time.Minute {
		log.Fatalf("--duration %v: want (0, 1m]", *duration)
	}
	cs, err := ints(*conc)
	if err != nil {
		log.Fatal(err)
	}
	body := cloud(*points)
	fmt.Printf("GOMAXPROCS %d, %d CPUs, adapter %s, %d-point clouds, %v per cell\n\n", runtime.GOMAXPROCS(0), runtime.NumCPU(), *adapter, *points, *duration)
	if len(cs) > 0 {
		fmt.Println("| models | batching | clients | requests/s | p50 ms | p99 ms | mean batch |")
		fmt.Println("|---:|---|---:|---:|---:|---:|---:|")
	}
	for _, models := range []int{1, 4} {
		if len(cs) == 0 {
			break
		}
		for _, batched := range []bool{true, false} {
			dir := copies(*adapter, models)
			maxBatch := 16
			if !batched {
				maxBatch = 1
			}
			s, err := serve.New(serve.Options{Backbone: *backbone, Adapters: dir, MaxBatch: maxBatch, MaxInFlight: 256})
			if err != nil {
				log.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				log.Fatal(err)
			}
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- serve.Serve(ctx, ln, s, nil) }()
			for _, c := range cs {
				r := cell("http://"+ln.Addr().String(), models, c, *duration, body)
				mode := map[bool]string{true: "on (≤16, 5 ms)", false: "off"}[batched]
				fmt.Printf("| %d | %s | %d | %.1f | %.1f | %.1f | %.2f |\n", models, mode, c, r.rate, r.p50, r.p99, r.batch)
			}
			stop()
			if err := <-done; err != nil {
				log.Fatal(err)
			}
			s.Close()
			os.RemoveAll(dir)
		}
	}
	ns, err := ints(*memCounts)
	if err != nil || len(ns) == 0 {
		return
	}
	fmt.Println()
	fmt.Println("| adapters loaded | Go heap MB | MB per further adapter |")
	fmt.Println("|---:|---:|---:|")
	base := heapMB()
	fmt.Printf("| 0 (process before loading) | %.1f | |\n", base)
	empty, err := os.MkdirTemp("", "serveload")
	if err != nil {
		log.Fatal(err)
	}
	s0, err := serve.New(serve.Options{Backbone: *backbone, Adapters: empty})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("| 0 (server with the backbone file read) | %.1f | |\n", heapMB())
	s0.Close()
	os.Remove(empty)
	// The first adapter also builds the shared copy of the backbone's tensors; the
	// last column is what each one after it adds.
	var first float64
	for _, n := range ns {
		dir := copies(*adapter, n)
		s, err := serve.New(serve.Options{Backbone: *backbone, Adapters: dir})
		if err != nil {
			log.Fatal(err)
		}
		h := heapMB()
		if n == 1 {
			first = h
			fmt.Printf("| 1 on one shared backbone | %.1f | |\n", h)
		} else {
			fmt.Printf("| %d on one shared backbone | %.1f | %.2f |\n", n, h, (h-first)/float64(n-1))
		}
		s.Close()
		os.RemoveAll(dir)
	}
	// The same adapters each on a backbone of its own (train.LoadModel), for comparison.
	const own = 10
	var keep []*train.Model
	for range own {
		m, err := train.LoadModel(*adapter, *backbone)
		if err != nil {
			log.Fatal(err)
		}
		keep = append(keep, m)
	}
	h := heapMB()
	fmt.Printf("| %d each with its own backbone | %.1f | %.2f (each) |\n", own, h, (h-base)/own)
	runtime.KeepAlive(keep)
}

type result struct{ rate, p50, p99, batch float64 }

// cell runs c clients for d against the server at base; client i asks model i mod
// models.
func cell(base string, models, c int, d time.Duration, body []byte) result {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c}, Timeout: 30 * time.Second}
	var mu sync.Mutex
	var lat []float64
	var batches, n float64
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range c {
		url := fmt.Sprintf("%s/v1/models/m%d/predict?format=npy&top=1", base, i%models)
		wg.Go(func() {
			for time.Now().Before(end) {
				t0 := time.Now()
				resp, err := client.Post(url, "application/x-npy", bytes.NewReader(body))
				if err != nil {
					log.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					log.Fatalf("%s: %d %s", url, resp.StatusCode, b)
				}
				ms := float64(time.Since(t0).Microseconds()) / 1000
				mu.Lock()
				lat = append(lat, ms)
				batches += batchOf(b)
				n++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := d + time.Since(end)
	slices.Sort(lat)
	return result{rate: n / elapsed.Seconds(), p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), batch: batches / n}
}

// batchOf reads the "batch" field of an answer without decoding the rest.
func batchOf(b []byte) float64 {
	i := bytes.Index(b, []byte(`"batch": `))
	if i < 0 {
		return math.NaN()
	}
	rest := b[i+len(`"batch": `):]
	j := bytes.IndexAny(rest, ",\n}")
	v, _ := strconv.ParseFloat(string(rest[:j]), 64)
	return v
}

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// copies makes a directory of n copies of the adapter, m0 … m(n-1).
func copies(adapter string, n int) string {
	data, err := os.ReadFile(adapter)
	if err != nil {
		log.Fatalf("%v (run 'pointpeft demo' first, or name an adapter with --adapter)", err)
	}
	dir, err := os.MkdirTemp("", "serveload")
	if err != nil {
		log.Fatal(err)
	}
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("m%d.safetensors", i)), data, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	return dir
}

// cloud is a seeded torus of n points as an .npy body.
func cloud(n int) []byte {
	rng := rand.New(rand.NewPCG(1, 1))
	pts := make([]float32, 0, 3*n)
	for range n {
		u, v := 2*math.Pi*rng.Float64(), 2*math.Pi*rng.Float64()
		r := 1 + 0.3*math.Cos(v)
		pts = append(pts, float32(r*math.Cos(u)), float32(r*math.Sin(u)), float32(0.3*math.Sin(v)))
	}
	var b bytes.Buffer
	if err := pcio.EncodeNPY(&b, pts, []int{n, 3}); err != nil {
		log.Fatal(err)
	}
	return b.Bytes()
}

func heapMB() float64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil || v < 1 || v > 1000 {
			return nil, fmt.Errorf("%q: want counts from 1 to 1000", f)
		}
		out = append(out, v)
	}
	return out, nil
}
