package main

import (
	"fmt"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/pointpeft/pointpeft/serve"
)

func init() { register(newServeCmd) }

// demoAdapters is where `pointpeft demo` writes its runs, each with its adapter.
const demoAdapters = "runs/demo"

func newServeCmd() *cobra.Command {
	var opt serve.Options
	var addr string
	var poll time.Duration
	cmd := &cobra.Command{
		Use:   "serve [flags]",
		Short: "serve many adapters on one frozen backbone over HTTP (JSON API, metrics, web page)",
		Long: `Loads the backbone once and serves every model file of the adapters directory: NAME.safetensors
(an adapter of any method, or a full pointpeft checkpoint) and run directories NAME/ (their
adapter.safetensors, else best.safetensors), each as model NAME, all sharing the backbone's
frozen weights. Files are watched: new, changed and removed models are swapped in whole (write
them atomically, e.g. to a temporary name and rename). With no flags it serves what
'pointpeft demo' wrote to runs/demo on the shipped backbone.

  POST /v1/models/NAME/predict   body: a .npy .ply .off .pcd .txt/.xyz file (?format=... or
                                 its Content-Type) or JSON {"points": [[x,y,z], ...]};
                                 ?top=K (default 5); answers the top classes and took_ms
  GET  /v1/models                the models: method, classes, trainable parameters, backbone hash
  GET  /healthz /readyz /metrics liveness, readiness (models loaded, not draining), Prometheus
  GET  /                         a web page: drop a file, pick a model, see the cloud and top-5

SIGTERM or Ctrl-C stops accepting requests and lets those in flight finish.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opt.Adapters == "" {
				return usagef("--adapters: name a directory")
			}
			if opt.MaxBatch < 1 || opt.MaxInFlight < 1 || opt.MaxPoints < 1 || opt.MaxBody < 1 || opt.MaxWait < 0 || poll <= 0 {
				return usagef("--max-batch, --max-in-flight, --max-points, --max-body and --poll must be positive, --max-wait not negative")
			}
			if _, err := os.Stat(opt.Adapters); err != nil && opt.Adapters == demoAdapters && !cmd.Flags().Changed("adapters") {
				return fmt.Errorf("no %s: run 'pointpeft demo' first, or name an adapters directory with --adapters", demoAdapters)
			}
			opt.Log = newLogger(cmd.ErrOrStderr(), true) // model loads and removals; --quiet: warnings only
			s, err := serve.New(opt)
			if err != nil {
				return err
			}
			defer s.Close()
			for _, m := range s.Models() {
				opt.Log.Info("serving", "model", m.Name, "method", m.Method, "classes", len(m.Classes), "trainable", m.Trainable, "batched", m.Batched)
			}
			ctx, stop := signalContext()
			defer stop()
			go s.Watch(ctx, poll)
			return serve.ListenAndServe(ctx, addr, s, func(a net.Addr) {
				fmt.Fprintf(cmd.ErrOrStderr(), "serving %d models from %s on http://%s/\n", len(s.Models()), opt.Adapters, a)
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&opt.Backbone, "backbone", "", "the frozen backbone the adapters were trained on (default: the shipped one)")
	fs.StringVar(&opt.Adapters, "adapters", demoAdapters, "directory of model files")
	fs.StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on (0.0.0.0:8080 for every interface, e.g. in a container)")
	fs.DurationVar(&poll, "poll", 2*time.Second, "how often the adapters directory is checked for changes")
	fs.IntVar(&opt.MaxBatch, "max-batch", 16, "most clouds of one model per forward pass")
	fs.DurationVar(&opt.MaxWait, "max-wait", 5*time.Millisecond, "how long a request waits for others to share its forward pass")
	fs.Int64Var(&opt.MaxBody, "max-body", 32<<20, "largest request body in bytes")
	fs.IntVar(&opt.MaxPoints, "max-points", 1_000_000, "most points (mesh vertices) per request")
	fs.IntVar(&opt.MaxInFlight, "max-in-flight", 64, "predictions answered at once; more get 429 with Retry-After")
	fs.DurationVar(&opt.RequestTimeout, "timeout", 30*time.Second, "longest a prediction may take, queueing included (then 503)")
	fs.BoolVar(&opt.NoNormalize, "no-normalize", false, "feed clouds as sent (default: centred and scaled into the unit sphere)")
	return cmd
}
