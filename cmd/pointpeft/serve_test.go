package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestServeMistakes checks that serve refuses bad flags and explains a missing demo.
func TestServeMistakes(t *testing.T) {
	wd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(wd) })
	if err := os.Chdir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve"}, 1, "run 'pointpeft demo' first"},
		{[]string{"serve", "--adapters", "nowhere"}, 1, "adapters directory"},
		{[]string{"serve", "--adapters", ".", "--max-batch", "0"}, 2, "--max-batch"},
		{[]string{"serve", "--adapters", ".", "--poll", "0s"}, 2, "--poll"},
		{[]string{"serve", "extra"}, 2, ""},
	} {
		code, _, stderr := runCLI(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %q; want %d with %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}

// TestDeploymentFiles checks docs/deploy: the Kubernetes manifest parses, probes
// /readyz and /healthz on the container's port, outlasts the server's drain, and its
// arguments with the image's entrypoint are flags serve accepts.
func TestDeploymentFiles(t *testing.T) {
	docker, err := os.ReadFile("../../docs/deploy/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var entry []string
	for _, line := range strings.Split(string(docker), "\n") {
		if rest, ok := strings.CutPrefix(line, "ENTRYPOINT "); ok {
			if err := json.Unmarshal([]byte(rest), &entry); err != nil {
				t.Fatalf("ENTRYPOINT: %v", err)
			}
		}
	}
	if len(entry) < 2 || entry[0] != "pointpeft" || entry[1] != "serve" {
		t.Fatalf("ENTRYPOINT %v: want pointpeft serve ...", entry)
	}
	f, err := os.Open("../../docs/deploy/kubernetes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var dep struct {
		Kind string
		Spec struct {
			Template struct {
				Spec struct {
					Grace      int `yaml:"terminationGracePeriodSeconds"`
					Containers []struct {
						Args  []string
						Ports []struct {
							ContainerPort int `yaml:"containerPort"`
						}
						Readiness httpProbe `yaml:"readinessProbe"`
						Liveness  httpProbe `yaml:"livenessProbe"`
					}
				}
			}
		}
	}
	if err := yaml.NewDecoder(f).Decode(&dep); err != nil {
		t.Fatal(err)
	}
	spec := dep.Spec.Template.Spec
	if dep.Kind != "Deployment" || len(spec.Containers) != 1 {
		t.Fatalf("kind %s, %d containers", dep.Kind, len(spec.Containers))
	}
	ctr := spec.Containers[0]
	if ctr.Readiness.HTTPGet.Path != "/readyz" || ctr.Liveness.HTTPGet.Path != "/healthz" || ctr.Ports[0].ContainerPort != 8080 {
		t.Errorf("readiness %+v, liveness %+v, ports %+v", ctr.Readiness, ctr.Liveness, ctr.Ports)
	}
	if spec.Grace <= 25 {
		t.Errorf("termination grace %ds: the server drains for up to 25 s", spec.Grace)
	}
	cmd := newServeCmd()
	if err := cmd.ParseFlags(append(entry[2:], ctr.Args...)); err != nil {
		t.Errorf("the image's arguments: %v", err)
	}
	if got, _ := cmd.Flags().GetString("addr"); got != "0.0.0.0:8080" {
		t.Errorf("the image listens on %s", got)
	}
}

type httpProbe struct {
	HTTPGet struct{ Path, Port string } `yaml:"httpGet"`
}
