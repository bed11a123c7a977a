package web

import (
	"strings"
	"testing"

	"github.com/trustward/trustward/internal/fault"
)

func TestParsePasskeyFinish(t *testing.T) {
	good := `{"name":"Laptop","next":"/console","credential":{"id":"AA"}}`
	f, err := parsePasskeyFinish([]byte(good))
	if err != nil || f.Name != "Laptop" || f.Next != "/console" || string(f.Credential) != `{"id":"AA"}` {
		t.Fatalf("%+v %v", f, err)
	}
	for _, tc := range []struct{ body, want string }{
		{``, "not the expected JSON"},
		{`[]`, "not the expected JSON"},
		{`{"credential":{},"extra":1}`, "unknown field"},
		{`{"name":"x"}`, "credential"},
		{`{"credential":"AA"}`, "credential"},
		{`{"credential":{}} {}`, "more than one"},
		{`{"credential":{"id":"` + strings.Repeat("A", maxPasskeyBody) + `"}}`, "at most"},
	} {
		_, err := parsePasskeyFinish([]byte(tc.body))
		if err == nil || !strings.Contains(fault.Message(err), tc.want) {
			t.Errorf("%.40q: %v, want %q", tc.body, err, tc.want)
		}
	}
}

func FuzzParsePasskeyFinish(f *testing.F) {
	f.Add([]byte(`{"name":"Laptop","credential":{"id":"AA","response":{}}}`))
	f.Add([]byte(`{"next":"//evil","credential":{}}`))
	f.Add([]byte(`{"credential":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePasskeyFinish(b)
		if err != nil {
			if k := fault.KindOf(err); k != fault.Invalid && k != fault.TooLarge {
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		if len(p.Credential) == 0 {
			t.Fatal("accepted without a credential")
		}
	})
}
