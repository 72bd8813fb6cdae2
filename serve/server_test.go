package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pointpeft/pointpeft/pcio"
	"github.com/pointpeft/pointpeft/peft"
	"github.com/pointpeft/pointpeft/predict"
)

// testServer is a server over a fresh adapters directory holding a fixed-mode
// Point-PEFT adapter "pe" (classes a0..a3), a faithful one "pe-faithful" in a run
// directory, and a PointLoRA adapter "lora" (classes b0..b4); with full, also a run
// directory "full" holding only a full BitFit checkpoint (classes c0..c2).
func testServer(t *testing.T, opt Options) (*Server, string, string) {
	return testServerWith(t, opt, false)
}

func testServerWith(t *testing.T, opt Options, full bool) (*Server, string, string) {
	t.Helper()
	root := t.TempDir()
	bb := writeBackbone(t, root)
	dir := filepath.Join(root, "adapters")
	if err := os.MkdirAll(filepath.Join(dir, "pe-faithful"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeAdapter(t, bb, filepath.Join(dir, "pe.safetensors"), peft.MethodPointPEFT, peft.Fixed, classNames("a", 4), 1)
	writeAdapter(t, bb, filepath.Join(dir, "pe-faithful", runAdapter), peft.MethodPointPEFT, peft.Faithful, classNames("a", 4), 2)
	writeAdapter(t, bb, filepath.Join(dir, "lora.safetensors"), "pointlora", "", classNames("b", 5), 3)
	if full {
		must(t, os.MkdirAll(filepath.Join(dir, "full"), 0o755))
		writeModel(t, bb, filepath.Join(dir, "full", runBest), peft.MethodBitFit, "", classNames("c", 3), 4, false)
	}
	opt.Backbone, opt.Adapters = bb, dir
	s, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, bb, dir
}

func post(t testing.TB, h http.Handler, url, ctype string, body []byte) (*httptest.ResponseRecorder, Answer) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var a Answer
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
			t.Fatalf("%s: %v: %s", url, err, rec.Body)
		}
	}
	return rec, a
}

// TestAPI checks the model list and that an answer over HTTP is the one predict
// gives for the same file loaded on its own (no shared backbone, no batching).
func TestAPI(t *testing.T) {
	s, bb, dir := testServerWith(t, Options{}, true)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/models", nil))
	var list modelList
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range list.Models {
		names = append(names, m.Name)
	}
	if !slices.Equal(names, []string{"full", "lora", "pe", "pe-faithful"}) || len(list.Errors) > 0 {
		t.Fatalf("models %v, errors %v", names, list.Errors)
	}
	for _, m := range list.Models {
		if m.Trainable <= 0 || m.Trainable >= m.Total || m.BackboneHash == "" || m.Points != 256 {
			t.Errorf("%s: %+v", m.Name, m)
		}
		if want := m.Name != "pe-faithful"; m.Batched != want {
			t.Errorf("%s: batched %v, want %v (faithful Point-PEFT depends on its batch)", m.Name, m.Batched, want)
		}
	}
	if list.Models[0].File != "full/best.safetensors" || list.Models[1].Method != "pointlora" || list.Models[2].Mode != "fixed" || list.Models[3].Mode != "faithful" {
		t.Errorf("methods/modes: %+v", list.Models)
	}

	body := testCloud(t, 300, 9)
	cloudFile := filepath.Join(t.TempDir(), "c.npy")
	if err := os.WriteFile(cloudFile, body, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, file string }{{"pe", "pe.safetensors"}, {"pe-faithful", "pe-faithful/adapter.safetensors"}, {"lora", "lora.safetensors"}, {"full", "full/best.safetensors"}} {
		p, err := predict.Load(predict.Options{Checkpoint: filepath.Join(dir, tc.file), Backbone: bb, Normalize: true})
		if err != nil {
			t.Fatal(err)
		}
		want, err := p.PredictFiles([]string{cloudFile}, 3)
		if err != nil {
			t.Fatal(err)
		}
		rec, got := post(t, s, "/v1/models/"+tc.name+"/predict?top=3", "application/x-npy", body)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.name, rec.Code, rec.Body)
		}
		if got.Class != want[0].Class || len(got.Top) != 3 || got.Points != 300 || got.Sampler != "fps" || got.Millis <= 0 {
			t.Fatalf("%s: got %+v, want %+v", tc.name, got, want[0])
		}
		for i := range got.Top {
			if got.Top[i].Class != want[0].Top[i].Class || math.Abs(float64(got.Top[i].Prob-want[0].Top[i].Prob)) > 1e-5 {
				t.Fatalf("%s: top %v, want %v", tc.name, got.Top, want[0].Top)
			}
		}
	}

	// The same cloud as JSON points and as a PLY file (by the format parameter).
	data, _, err := pcio.DecodeNPY(body)
	if err != nil {
		t.Fatal(err)
	}
	var jp jsonPoints
	for i := 0; i < len(data); i += 3 {
		jp.Points = append(jp.Points, data[i:i+3])
	}
	js, _ := json.Marshal(jp)
	_, fromNPY := post(t, s, "/v1/models/pe/predict", "application/x-npy", body)
	_, fromJSON := post(t, s, "/v1/models/pe/predict", "application/json", js)
	plyFile := filepath.Join(t.TempDir(), "c.ply")
	if err := pcio.WritePLY(plyFile, pcio.Cloud{Points: data}, true); err != nil {
		t.Fatal(err)
	}
	ply, _ := os.ReadFile(plyFile)
	_, fromPLY := post(t, s, "/v1/models/pe/predict?format=ply", "", ply)
	if fromJSON.Class != fromNPY.Class || fromPLY.Class != fromNPY.Class || fromJSON.Prob != fromNPY.Prob || fromPLY.Prob != fromNPY.Prob {
		t.Errorf("npy %+v, json %+v, ply %+v", fromNPY, fromJSON, fromPLY)
	}

	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/"} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("%s: %d", path, rec.Code)
		}
		if path == "/metrics" {
			for _, series := range []string{`pointpeft_serve_requests_total{code="200",model="pe"}`, `pointpeft_serve_request_seconds_bucket{model="lora"`,
				`pointpeft_serve_batch_size_bucket{model="pe"`, "pointpeft_serve_queue_depth", "pointpeft_serve_models 4"} {
				if !strings.Contains(rec.Body.String(), series) {
					t.Errorf("metrics lack %s", series)
				}
			}
		}
	}
}

// TestBadInput checks that bad requests get 4xx answers that say what is wrong.
func TestBadInput(t *testing.T) {
	s, _, _ := testServer(t, Options{MaxBody: 64 << 10, MaxPoints: 2000})
	nan := testCloud(t, 300, 1)
	// The last float of the .npy is the last z: make it NaN.
	copy(nan[len(nan)-4:], []byte{0, 0, 0xc0, 0x7f})
	for _, tc := range []struct {
		name, url, ctype string
		body             []byte
		code             int
		msg              string
	}{
		{"malformed ply", "/v1/models/pe/predict", "model/ply", []byte("ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nend_header\n1\n"), 400, "ply"},
		{"truncated npy", "/v1/models/pe/predict?format=npy", "", testCloud(t, 300, 1)[:200], 400, "npy"},
		{"nan", "/v1/models/pe/predict?format=npy", "", nan, 400, "non-finite"},
		{"json nan-free but short point", "/v1/models/pe/predict", "application/json", []byte(`{"points":[[1,2,3],[4,5]]}`), 400, "point 1 has 2 coordinates"},
		{"no format", "/v1/models/pe/predict", "", testCloud(t, 300, 1), 400, "format"},
		{"unknown format", "/v1/models/pe/predict?format=obj", "", testCloud(t, 300, 1), 400, "obj"},
		{"empty", "/v1/models/pe/predict?format=txt", "", nil, 400, "no points"},
		{"bad top", "/v1/models/pe/predict?top=x", "application/x-npy", testCloud(t, 300, 1), 400, "top"},
		{"too many points", "/v1/models/pe/predict?format=npy", "", testCloud(t, 3000, 1), 413, "3000 points"},
		{"too large", "/v1/models/pe/predict?format=npy", "", testCloud(t, 6000, 1), 413, "body over"},
		{"unknown model", "/v1/models/nope/predict?format=npy", "", testCloud(t, 300, 1), 404, "no model"},
		{"escaping name", "/v1/models/..%2F..%2Fbackbone/predict?format=npy", "", testCloud(t, 300, 1), 404, "no model"},
		{"file in a run dir", "/v1/models/pe-faithful%2Fadapter/predict?format=npy", "", testCloud(t, 300, 1), 404, "no model"},
	} {
		rec, _ := post(t, s, tc.url, tc.ctype, tc.body)
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.msg) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, rec.Code, rec.Body, tc.code, tc.msg)
		}
	}
	// A prediction over the time limit is answered 503 with a Retry-After.
	slow, _, _ := testServer(t, Options{RequestTimeout: time.Nanosecond})
	rec, _ := post(t, slow, "/v1/models/pe/predict", "application/x-npy", testCloud(t, 300, 1))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("timeout: %d %s, Retry-After %q", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
	}
	// A full house is refused with 429 and a Retry-After.
	for range cap(s.slots) {
		s.slots <- struct{}{}
	}
	rec, _ = post(t, s, "/v1/models/pe/predict", "application/x-npy", testCloud(t, 300, 1))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Errorf("overloaded: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// TestReloadIsAtomic swaps, removes and adds adapter files while requests run: every
// answer comes whole from the old model or the new one (its classes all from one
// class list), and the list follows the directory.
func TestReloadIsAtomic(t *testing.T) {
	s, bb, dir := testServer(t, Options{MaxWait: time.Millisecond})
	stage := t.TempDir()
	a, b := filepath.Join(stage, "a.safetensors"), filepath.Join(stage, "b.safetensors")
	writeAdapter(t, bb, a, peft.MethodPointPEFT, peft.Fixed, classNames("a", 4), 1)
	writeAdapter(t, bb, b, "pointlora", "", classNames("b", 5), 3)
	body := testCloud(t, 256, 4)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]int{}
	// Four clients of the model being swapped, two of another model on the same
	// backbone at the same time.
	for i := range 6 {
		model := "pe"
		if i >= 4 {
			model = "lora"
		}
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				rec, ans := post(t, s, "/v1/models/"+model+"/predict?top=4", "application/x-npy", body)
				if rec.Code != http.StatusOK {
					t.Errorf("%d %s", rec.Code, rec.Body)
					return
				}
				prefix := ans.Class[:1]
				for _, c := range ans.Top {
					if c.Class[:1] != prefix {
						t.Errorf("an answer mixes two models: %+v", ans)
					}
				}
				if model == "pe" {
					mu.Lock()
					seen[prefix]++
					mu.Unlock()
				}
			}
		})
	}
	target := filepath.Join(dir, "pe.safetensors")
	for i := range 6 {
		src := a
		if i%2 == 0 {
			src = b
		}
		data, _ := os.ReadFile(src)
		tmp := filepath.Join(dir, ".pe.tmp")
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, target); err != nil {
			t.Fatal(err)
		}
		// File times can be coarse: make each version's stamp differ.
		if err := os.Chtimes(target, time.Now(), time.Unix(int64(1000+i), 0)); err != nil {
			t.Fatal(err)
		}
		if err := s.Reload(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if seen["a"] == 0 || seen["b"] == 0 {
		t.Errorf("answers by model %v: both versions should have answered", seen)
	}
	// A broken file keeps the model it replaces; a removed file drops its model; a new
	// one appears.
	if err := os.WriteFile(target, []byte("not safetensors"), 0o644); err != nil {
		t.Fatal(err)
	}
	must(t, s.Reload())
	if rec, _ := post(t, s, "/v1/models/pe/predict", "application/x-npy", body); rec.Code != http.StatusOK {
		t.Errorf("after a broken write: %d", rec.Code)
	}
	var list modelList
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/models", nil))
	must(t, json.Unmarshal(rec.Body.Bytes(), &list))
	if !strings.Contains(list.Errors["pe"], "pe.safetensors") {
		t.Errorf("load errors %v", list.Errors)
	}
	// An adapter trained on another backbone is refused with both hashes named.
	other := writeBackboneSeed(t, t.TempDir(), 6)
	writeAdapter(t, other, filepath.Join(dir, "alien.safetensors"), "pointlora", "", classNames("z", 2), 5)
	must(t, s.Reload())
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/models", nil))
	must(t, json.Unmarshal(rec.Body.Bytes(), &list))
	if !strings.Contains(list.Errors["alien"], "was trained on backbone") {
		t.Errorf("an adapter of another backbone: errors %v", list.Errors)
	}
	must(t, os.Remove(target))
	must(t, os.Rename(b, filepath.Join(dir, "new.safetensors")))
	must(t, s.Reload())
	if rec, _ := post(t, s, "/v1/models/pe/predict", "application/x-npy", body); rec.Code != http.StatusNotFound {
		t.Errorf("removed model: %d", rec.Code)
	}
	if rec, ans := post(t, s, "/v1/models/new/predict", "application/x-npy", body); rec.Code != http.StatusOK || ans.Class[:1] != "b" {
		t.Errorf("new model: %d %+v", rec.Code, ans)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestBatching checks that concurrent requests share forward passes on a batchable
// model with the answers they get alone, and never on the faithful one.
func TestBatching(t *testing.T) {
	s, _, _ := testServer(t, Options{MaxWait: 200 * time.Millisecond, MaxBatch: 4})
	bodies := make([][]byte, 4)
	alone := make([]Answer, 4)
	for i := range bodies {
		bodies[i] = testCloud(t, 256, uint64(20+i))
		_, alone[i] = post(t, s, "/v1/models/lora/predict?top=5", "application/x-npy", bodies[i])
	}
	for _, name := range []string{"lora", "pe-faithful"} {
		got := make([]Answer, 4)
		var wg sync.WaitGroup
		for i := range bodies {
			wg.Go(func() { _, got[i] = post(t, s, "/v1/models/"+name+"/predict?top=5", "application/x-npy", bodies[i]) })
		}
		wg.Wait()
		maxBatch := 0
		for i, a := range got {
			maxBatch = max(maxBatch, a.Batch)
			if name == "lora" {
				for j := range a.Top {
					if a.Top[j].Class != alone[i].Top[j].Class || math.Abs(float64(a.Top[j].Prob-alone[i].Top[j].Prob)) > 1e-5 {
						t.Errorf("cloud %d batched %v, alone %v", i, a.Top, alone[i].Top)
					}
				}
			}
		}
		if want := map[string]int{"lora": 4, "pe-faithful": 1}[name]; maxBatch != want {
			t.Errorf("%s: largest batch %d, want %d", name, maxBatch, want)
		}
	}
}

// TestDrain ends the server's context while a request is in flight: the request is
// answered, and the server then returns.
func TestDrain(t *testing.T) {
	s, _, _ := testServer(t, Options{MaxWait: 300 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, s, nil) }()
	type reply struct {
		code int
		err  error
	}
	got := make(chan reply, 1)
	go func() {
		resp, err := http.Post("http://"+ln.Addr().String()+"/v1/models/pe/predict", "application/x-npy", bytes.NewReader(testCloud(t, 256, 1)))
		if err != nil {
			got <- reply{err: err}
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		got <- reply{code: resp.StatusCode}
	}()
	time.Sleep(100 * time.Millisecond) // the request waits in its batch
	cancel()
	r := <-got
	if r.err != nil || r.code != http.StatusOK {
		t.Fatalf("in-flight request: %d %v", r.code, r.err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("readyz after drain: %d", rec.Code)
	}
}

// TestModelsShareTheBackbone checks that the models hold one copy of the frozen
// backbone: their untrained tensors are the same memory.
func TestModelsShareTheBackbone(t *testing.T) {
	s, _, _ := testServer(t, Options{})
	ms := *s.models.Load()
	byName := func(name string) map[string]*float32 {
		out := map[string]*float32{}
		for _, p := range ms[name].pred.Net.Params() {
			// By name and size: PointLoRA's gates take the names of the weights they scale.
			if !p.RequiresGrad() && len(p.Data) > 1 {
				out[fmt.Sprint(p.Name(), p.Shape())] = &p.Data[0]
			}
		}
		return out
	}
	pe, lora, faithful := byName("pe"), byName("lora"), byName("pe-faithful")
	shared := 0
	for k, ptr := range pe {
		if q, ok := lora[k]; ok {
			if q != ptr || faithful[k] != ptr {
				t.Errorf("%s: each model has its own copy", k)
			}
			shared++
		}
	}
	if shared < 12 { // 14 on the tiny model: the token encoder, positional MLP, MLP weights
		t.Errorf("only %d frozen tensors in common", shared)
	}
}
