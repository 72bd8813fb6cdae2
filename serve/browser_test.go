package serve

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser finds a Chromium or Chrome: $CHROME, else the usual names on PATH.
func browser() string {
	if p := os.Getenv("CHROME"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestWebPage loads the page in a headless browser, picks a model, uploads a cloud
// and checks that the label and the top-5 bars the page shows are the API's answer.
func TestWebPage(t *testing.T) {
	exe := browser()
	if exe == "" {
		t.Skip("no Chromium or Chrome found (Debian: apt-get install -y chromium; or set CHROME): the web page is not tested")
	}
	s, _, _ := testServer(t, Options{})
	ts := httptest.NewServer(s)
	defer ts.Close()
	body := testCloud(t, 400, 31)
	file := filepath.Join(t.TempDir(), "chair.npy")
	must(t, os.WriteFile(file, body, 0o644))
	_, want := post(t, s, "/v1/models/lora/predict?top=5", "application/x-npy", body)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Flag("enable-unsafe-swiftshader", true), chromedp.WindowSize(1000, 700))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitReady(chromedp.CSS(`#model option[value="lora"]`)),
		chromedp.SetValue(chromedp.CSS("#model"), "lora"),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{file}),
		chromedp.WaitVisible(chromedp.CSS("#bars .bar")),
	)
	if err != nil {
		t.Fatalf("%s: %v", exe, err)
	}
	text := func(id string) string {
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(id)))
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		return v
	}
	label, status, hint := text("#label"), text("#status"), text("#hint")
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#bars .bar').length`))
	if err != nil {
		t.Fatal(err)
	}
	if label != want.Class || bars != 5 {
		t.Errorf("page shows %q with %d bars (status %q), the API answers %q", label, bars, status, want.Class)
	}
	t.Logf("page: %q, %s; 3D view: %q", label, status, hint)
}
