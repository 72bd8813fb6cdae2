package checkpoint

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func keysSD(keys ...string) *StateDict {
	sd := NewStateDict()
	for i, k := range keys {
		sd.Set(k, NewF32([]int{i + 1}, make([]float32, i+1)))
	}
	return sd
}

func TestMapPointMAEKeys(t *testing.T) {
	sd := keysSD("module.MAE_encoder.blocks.0.norm1.weight", "module.MAE_decoder.mask_token",
		"base_model.cls_token", "module.module.MAE_encoder.norm.bias", "cls_head_finetune.0.weight")
	got := MapPointMAEKeys(sd)
	want := []string{"blocks.0.norm1.weight", "MAE_decoder.mask_token", "cls_token", "norm.bias", "cls_head_finetune.0.weight"}
	if !reflect.DeepEqual(got.Keys, want) {
		t.Errorf("keys = %v, want %v", got.Keys, want)
	}
	if got.Tensors["cls_token"] != sd.Tensors["base_model.cls_token"] {
		t.Error("tensors should be shared, not copied")
	}
	if StripModule("a.module.b.module.c") != "a.b.c" {
		t.Error("StripModule must remove every occurrence")
	}
}

func TestMapPointBERTKeys(t *testing.T) {
	sd := keysSD("module.transformer_q.encoder.first_conv.0.weight", "module.transformer_q.reduce_dim.weight",
		"module.transformer_q.cls_token", "module.transformer_q.cls_pos", "module.transformer_q.pos_embed.0.weight",
		"module.transformer_q.blocks.blocks.0.attn.qkv.weight", "module.transformer_q.norm.weight",
		"module.transformer_q.cls_head.0.weight", "module.transformer_k.cls_token", "module.dvae.codebook",
		"base_model.norm.bias")
	got := MapPointBERTKeys(sd)
	want := []string{"encoder.first_conv.0.weight", "reduce_dim.weight", "cls_token", "cls_pos", "pos_embed.0.weight",
		"blocks.blocks.0.attn.qkv.weight", "norm.weight", "norm.bias"}
	if !reflect.DeepEqual(got.Keys, want) {
		t.Errorf("keys = %v\nwant %v", got.Keys, want)
	}
}

func TestDetectFormat(t *testing.T) {
	cases := []struct {
		sd   *StateDict
		want string
	}{
		{keysSD("module.MAE_encoder.cls_token", "module.MAE_decoder.x"), LayoutPointMAEPretrain},
		{keysSD("MAE_decoder.x"), LayoutPointMAEPretrain},
		{keysSD("module.blocks.0.w", "module.cls_head_finetune.0.weight"), LayoutPointMAEFinetuned},
		{keysSD("blocks.0.w", "reduce_dim.weight", "cls_head_finetune.0.weight"), LayoutPointBERT},
		{keysSD("module.transformer_q.cls_token"), LayoutPointBERT},
		{keysSD("dvae.codebook"), LayoutPointBERT},
		{keysSD("weight"), LayoutUnknown},
		{&StateDict{Meta: map[string]string{"format": "pointpeft"}}, LayoutPointPEFT},
	}
	for _, c := range cases {
		if got := DetectFormat(c.sd); got != c.want {
			t.Errorf("DetectFormat(%v) = %q, want %q", c.sd.Keys, got, c.want)
		}
	}
}

func TestMatch(t *testing.T) {
	have := NewStateDict()
	have.Set("a", NewF32([]int{2, 3}, make([]float32, 6)))
	have.Set("b", NewF32([]int{4}, make([]float32, 4)))
	have.Set("extra", NewF32([]int{1}, make([]float32, 1)))
	have.Set("c", NewF32([]int{5}, make([]float32, 5)))
	want := map[string][]int{"a": {2, 3}, "b": {2, 2}, "c": {5}, "z": {1}, "y": {7}}
	loaded, missing, unexpected, err := Match(want, have)
	if !reflect.DeepEqual(loaded, []string{"a", "c"}) || !reflect.DeepEqual(missing, []string{"y", "z"}) ||
		!reflect.DeepEqual(unexpected, []string{"extra"}) {
		t.Errorf("loaded %v missing %v unexpected %v", loaded, missing, unexpected)
	}
	var sm *ShapeMismatchError
	if !errors.As(err, &sm) || len(sm.Mismatches) != 1 || !strings.Contains(err.Error(), "b: checkpoint has [4], model wants [2 2]") {
		t.Errorf("err = %v", err)
	}
	if _, _, _, err := Match(map[string][]int{"a": {2, 3}}, have); err != nil {
		t.Errorf("unexpected error %v", err)
	}
}

func TestInspect(t *testing.T) {
	s, err := Inspect("testdata/nested.pth")
	if err != nil {
		t.Fatal(err)
	}
	if s.Format != FormatPTHZip || s.Layout != LayoutPointMAEPretrain || s.ModelKey != "base_model" ||
		len(s.Tensors) != 16 || s.Total != 87 || len(s.TopLevel) != 5 {
		t.Errorf("summary = %+v", s)
	}
	if !reflect.DeepEqual(s.Prefixes, []PrefixCount{{"MAE_encoder", 15, 83}, {"MAE_decoder", 1, 4}}) {
		t.Errorf("prefixes = %+v", s.Prefixes)
	}
	var b bytes.Buffer
	if err := s.Write(&b); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"pth-zip", "point-mae-pretrain", "epoch", "module.MAE_encoder.blocks.0.norm1.bias", "BF16", "[2 3]", "total"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("report lacks %q:\n%s", w, b.String())
		}
	}
	s, err = Inspect("testdata/reference.safetensors")
	if err != nil || s.Format != FormatSafetensors || s.Total != 27 || s.Meta["format"] != "pt" {
		t.Errorf("safetensors summary = %+v, %v", s, err)
	}
	if _, err := Inspect("testdata/nested_expected.json"); err == nil {
		t.Error("Inspect of a JSON file succeeded")
	}
	if _, err := Inspect("testdata/no-such-file"); err == nil || !strings.Contains(err.Error(), "no-such-file") {
		t.Errorf("err = %v", err)
	}
}

// TestSniffSafetensorsHeaderLength0x80: a safetensors file whose header length has the
// low byte 0x80 (the first byte of a pickle) is still safetensors.
func TestSniffSafetensorsHeaderLength0x80(t *testing.T) {
	h := make([]byte, 9+0x80)
	h[0] = 0x80
	h[8] = '{'
	if got := sniff(h, int64(len(h))); got != FormatSafetensors {
		t.Fatalf("sniffed %q", got)
	}
	if got := sniff(legacyMagic, 100); got != FormatPTHLegacy {
		t.Fatalf("legacy magic sniffed as %q", got)
	}
}
