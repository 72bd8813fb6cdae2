package serve_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/pointpeft/pointpeft/checkpoint"
	"github.com/pointpeft/pointpeft/peft"
	"github.com/pointpeft/pointpeft/serve"
	"github.com/pointpeft/pointpeft/train"
)

// A directory with one adapter on the shipped backbone, served and asked once.
func Example() {
	dir, err := os.MkdirTemp("", "adapters")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	// An untrained linear probe stands in for a fine-tuned adapter here.
	bb, _, err := train.LoadBackbone("", 3, 64, 32)
	if err != nil {
		log.Fatal(err)
	}
	m, err := train.NewModel(bb, peft.MethodLinear, peft.Config{}, []string{"cup", "bowl", "vase"}, nil, 1)
	if err != nil {
		log.Fatal(err)
	}
	sd, err := m.StateDict(true)
	if err != nil {
		log.Fatal(err)
	}
	if err := checkpoint.WriteSafetensors(filepath.Join(dir, "cups.safetensors"), sd); err != nil {
		log.Fatal(err)
	}

	s, err := serve.New(serve.Options{Adapters: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	for _, m := range s.Models() {
		fmt.Println(m.Name, m.Method, m.Classes, m.Batched)
	}
	req := httptest.NewRequest("POST", "/v1/models/cups/predict?top=2", strings.NewReader(`{"points": [[0,0,0],[1,0,0],[0,1,0],[0,0,1]]}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req) // or serve.ListenAndServe(ctx, "127.0.0.1:8080", s, nil)
	var a serve.Answer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil {
		log.Fatal(err)
	}
	fmt.Println(rec.Code, len(a.Top), a.Points, a.Sampler)
	// Output:
	// cups linear [cup bowl vase] true
	// 200 2 4 resampled
}
