package ledger_test

import (
	"bytes"
	"testing"

	"github.com/trustward/trustward/internal/ledger"
)

const goodBody = "trustward.example/o/access-log\n12\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"

func TestParseCheckpoint(t *testing.T) {
	cp, err := ledger.ParseCheckpoint([]byte(goodBody))
	if err != nil || cp.Origin != "trustward.example/o/access-log" || cp.Size != 12 || cp.Hash.String() != "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=" {
		t.Fatalf("ParseCheckpoint = %+v, %v", cp, err)
	}
	if !bytes.Equal(cp.Marshal(), []byte(goodBody)) {
		t.Fatalf("Marshal = %q", cp.Marshal())
	}
	ext, err := ledger.ParseCheckpoint([]byte(goodBody + "ext one\n"))
	if err != nil || len(ext.Extensions) != 1 || !bytes.Equal(ext.Marshal(), []byte(goodBody+"ext one\n")) {
		t.Fatalf("with an extension: %+v, %v", ext, err)
	}
	for name, body := range map[string]string{
		"empty":                "",
		"no final newline":     goodBody[:len(goodBody)-1],
		"two lines":            "o\n12\n",
		"leading zero":         "o\n012\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
		"plus sign":            "o\n+12\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
		"negative":             "o\n-1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
		"above int64":          "o\n9223372036854775808\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
		"short hash":           "o\n12\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuA==\n",
		"unpadded hash":        "o\n12\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n",
		"url-safe hash":        "o\n12\n47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=\n",
		"empty origin":         "\n12\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
		"origin with space":    "a b\n12\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
		"empty extension line": goodBody + "\n",
		"carriage return":      "o\r\n12\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
	} {
		if _, err := ledger.ParseCheckpoint([]byte(body)); err == nil {
			t.Errorf("%s: %q parses", name, body)
		}
	}
}

// FuzzParseCheckpoint: the parser never panics, and what it accepts it
// writes back byte for byte (one text per checkpoint).
func FuzzParseCheckpoint(f *testing.F) {
	f.Add([]byte(goodBody))
	f.Add([]byte(goodBody + "ext\n"))
	f.Add([]byte("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"))
	f.Add([]byte("o\n012\nAAAA\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cp, err := ledger.ParseCheckpoint(b)
		if err != nil {
			return
		}
		if !bytes.Equal(cp.Marshal(), b) {
			t.Fatalf("accepted %q but writes %q", b, cp.Marshal())
		}
	})
}
