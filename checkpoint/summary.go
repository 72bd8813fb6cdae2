package checkpoint

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// File formats returned by SniffFile.
const (
	FormatPTHZip      = "pth-zip"    // torch.save, PyTorch >= 1.6
	FormatPTHLegacy   = "pth-legacy" // torch.save, PyTorch < 1.6 (unsupported)
	FormatSafetensors = "safetensors"
	FormatUnknown     = "unknown"
)

// SniffFile guesses a file's format from its first bytes.
func SniffFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	if st.IsDir() {
		return "", fmt.Errorf("read %s: a directory, not a checkpoint file (a run's files are best.safetensors, last.safetensors and adapter.safetensors)", path)
	}
	var head [512]byte
	n, _ := io.ReadFull(f, head[:])
	format := sniff(head[:n], st.Size())
	if format == FormatUnknown && n >= 9 && head[8] == '{' {
		return "", fmt.Errorf("read %s: a safetensors header of %d bytes in a file of %d bytes: truncated or corrupt",
			path, binary.LittleEndian.Uint64(head[:8]), st.Size())
	}
	return format, nil
}

func sniff(h []byte, size int64) string {
	switch {
	case bytes.HasPrefix(h, []byte("PK\x03\x04")), bytes.HasPrefix(h, []byte("PK\x05\x06")):
		return FormatPTHZip
	case len(h) >= 9 && h[8] == '{' && binary.LittleEndian.Uint64(h) <= uint64(size-8):
		// Before the legacy test: a header length whose low byte is 0x80 starts the
		// file with the byte a pickle starts with.
		return FormatSafetensors
	case bytes.HasPrefix(h, legacyMagic), len(h) >= 262 && string(h[257:262]) == "ustar":
		return FormatPTHLegacy
	}
	return FormatUnknown
}

// Load reads the model weights of a checkpoint in either format: for .pth
// files the sub-dict chosen by PTH.ModelKey (a .pth without tensors there is an
// error), for safetensors the whole file.
// Keys are returned as stored; see MapKeys to rename them.
func Load(path string) (*StateDict, error) {
	format, err := SniffFile(path)
	if err != nil {
		return nil, err
	}
	switch format {
	case FormatSafetensors:
		return ReadSafetensors(path)
	case FormatPTHZip:
		c, err := OpenPTH(path)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		sd, err := c.StateDict(c.ModelKey())
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		if len(sd.Keys) == 0 {
			var entries []string
			for _, k := range c.TopKeys() {
				entries = append(entries, k+": "+c.Describe(k))
			}
			return nil, fmt.Errorf("read %s: holds no tensors (top level: %s)", path, strings.Join(entries, "; "))
		}
		return sd, nil
	case FormatPTHLegacy:
		return nil, fmt.Errorf("read %s: %w", path, ErrLegacyFormat)
	}
	return nil, fmt.Errorf("read %s: neither a PyTorch zip checkpoint nor a safetensors file", path)
}

// Summary describes a checkpoint file for "pointpeft info".
type Summary struct {
	Path     string
	Format   string            // FormatPTHZip or FormatSafetensors
	Layout   string            // DetectFormat of the model tensors
	ModelKey string            // .pth: the sub-dict holding the model ("" = top level)
	TopLevel []TopEntry        // .pth: top-level entries in file order
	Meta     map[string]string // safetensors __metadata__
	Tensors  []TensorInfo      // model tensors in file order
	Prefixes []PrefixCount     // per top-level module, in order of appearance
	Total    int64             // elements over all model tensors
}

// TopEntry is one top-level entry of a .pth checkpoint.
type TopEntry struct{ Key, Desc string }

// PrefixCount counts tensors and elements under one top-level module prefix
// (the first dotted component after StripModule).
type PrefixCount struct {
	Prefix   string
	Tensors  int
	Elements int64
}

// Inspect builds a Summary without reading tensor data (shapes are still
// checked against the storage records / data offsets).
func Inspect(path string) (*Summary, error) {
	format, err := SniffFile(path)
	if err != nil {
		return nil, err
	}
	s := &Summary{Path: path, Format: format, Meta: map[string]string{}}
	switch format {
	case FormatSafetensors:
		infos, meta, err := ReadSafetensorsHeader(path)
		if err != nil {
			return nil, err
		}
		s.Tensors, s.Meta = infos, meta
	case FormatPTHZip:
		c, err := OpenPTH(path)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		for _, k := range c.TopKeys() {
			s.TopLevel = append(s.TopLevel, TopEntry{k, c.Describe(k)})
		}
		s.ModelKey = c.ModelKey()
		if s.Tensors, err = c.TensorInfos(s.ModelKey); err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
	case FormatPTHLegacy:
		return nil, fmt.Errorf("read %s: %w", path, ErrLegacyFormat)
	default:
		return nil, fmt.Errorf("read %s: neither a PyTorch zip checkpoint nor a safetensors file", path)
	}
	keys := &StateDict{Meta: s.Meta}
	idx := map[string]int{}
	for _, t := range s.Tensors {
		keys.Keys = append(keys.Keys, t.Name)
		p, _, _ := strings.Cut(StripModule(t.Name), ".")
		i, ok := idx[p]
		if !ok {
			i = len(s.Prefixes)
			idx[p] = i
			s.Prefixes = append(s.Prefixes, PrefixCount{Prefix: p})
		}
		s.Prefixes[i].Tensors++
		s.Prefixes[i].Elements += t.Numel()
		s.Total += t.Numel()
	}
	s.Layout = DetectFormat(keys)
	return s, nil
}

// Kind says in words what a file of a recognised layout holds and what it is used
// with ("" when the layout says enough).
func (s *Summary) Kind() string {
	switch s.Layout {
	case LayoutPointPEFTAuthors:
		return "the authors' fine-tuned Point-PEFT model; runs with the pre-trained Point-MAE it started from and its memory bank"
	case LayoutMemoryBank:
		return "a Point-PEFT memory bank"
	case LayoutPointMAEPretrain:
		return "a pre-trained Point-MAE (encoder and decoder): a backbone to fine-tune"
	case LayoutPointMAEFinetuned:
		return "a fine-tuned Point-MAE classifier"
	case LayoutPointPEFT:
		// The metadata keys of pointpeft's files (see package train).
		switch {
		case strings.HasPrefix(s.Meta["content"], "trainable parameters only"):
			return "a pointpeft adapter (" + s.Meta["method"] + "): its trained tensors, to load onto the backbone it names"
		case s.Meta["classes"] != "":
			return "a pointpeft fine-tuned model (" + s.Meta["method"] + ")"
		default:
			return "a pointpeft pre-trained backbone"
		}
	}
	return ""
}

// Write prints the summary as aligned plain text.
func (s *Summary) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "file:\t%s\n", s.Path)
	format := s.Format
	if format == FormatPTHZip {
		format += " (torch.save)"
	}
	fmt.Fprintf(tw, "format:\t%s\n", format)
	fmt.Fprintf(tw, "layout:\t%s\n", s.Layout)
	if k := s.Kind(); k != "" {
		fmt.Fprintf(tw, "holds:\t%s\n", k)
	}
	if s.Format == FormatPTHZip {
		mk := s.ModelKey
		if mk == "" {
			mk = "(top level)"
		}
		fmt.Fprintf(tw, "model dict:\t%s\n", mk)
		fmt.Fprintf(tw, "\ntop-level keys:\n")
		for _, e := range s.TopLevel {
			fmt.Fprintf(tw, "  %s\t%s\n", e.Key, e.Desc)
		}
	}
	if len(s.Meta) > 0 {
		fmt.Fprintf(tw, "\nmetadata:\n")
		for _, k := range sortedKeys(s.Meta) {
			fmt.Fprintf(tw, "  %s\t%q\n", k, s.Meta[k])
		}
	}
	fmt.Fprintf(tw, "\ntensors (%d, file order):\n", len(s.Tensors))
	for _, t := range s.Tensors {
		fmt.Fprintf(tw, "  %s\t%s\t%v\n", t.Name, t.DType, t.Shape)
	}
	fmt.Fprintf(tw, "\nelements per module (parameters and buffers):\n")
	for _, p := range s.Prefixes {
		fmt.Fprintf(tw, "  %s\t%d tensors\t%d\n", p.Prefix, p.Tensors, p.Elements)
	}
	fmt.Fprintf(tw, "  total\t%d tensors\t%d\n", len(s.Tensors), s.Total)
	return tw.Flush()
}

// Convert writes the tensors and metadata of a checkpoint (either format) to out as
// safetensors, float tensors as float16 when half is set, else float32. It returns
// what was written.
func Convert(in, out string, half bool) (*StateDict, error) {
	return ConvertWeights(in, out, half, false)
}

// ConvertWeights is Convert, leaving out a run file's optimizer state (optim.* tensors)
// when weightsOnly is set: a snapshot to continue from, a third of the size.
func ConvertWeights(in, out string, half, weightsOnly bool) (*StateDict, error) {
	sd, err := Load(in)
	if err != nil {
		return nil, err
	}
	if weightsOnly {
		kept := NewStateDict()
		for _, k := range sd.Keys {
			if !strings.HasPrefix(k, "optim.") {
				kept.Set(k, sd.Tensors[k])
			}
		}
		kept.Meta = sd.Meta
		sd = kept
	}
	for _, k := range sd.Keys {
		t := sd.Tensors[k]
		if t.IsFloat() {
			t.DType = "F32"
			if half {
				t.DType = "F16"
			}
		}
	}
	if err := WriteSafetensors(out, sd); err != nil {
		return nil, err
	}
	return sd, nil
}
