package web_test

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// The trust page is public, shows the current signed checkpoint exactly as
// published (so that it verifies, with x/mod's note, under the key shown)
// and the account-protection figures computed from the store.
func TestTrustPagePublic(t *testing.T) {
	a := newApp(t, "sqlite")
	c := a.browser(t)
	a.signIn(t, c, "ben") // records a sign-in event, so the log grows
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := a.Ledger.AwaitCheckpoint(ctx, 1); err != nil {
		t.Fatal(err)
	}
	res, body := get(t, http.DefaultClient, a.srv.URL+"/trust")
	if res.StatusCode != 200 {
		t.Fatalf("trust page: %d", res.StatusCode)
	}
	for _, want := range []string{"How we protect your records", `id="practices"`, `id="coverage"`, `<th scope="row">Staff</th><td>5</td><td>0%</td><td>0%</td>`, `<th scope="row">Patients</th><td>0</td><td>—</td>`} {
		if !strings.Contains(body, want) {
			t.Fatalf("trust page lacks %q:\n%s", want, body)
		}
	}
	m := regexp.MustCompile(`(?s)<pre id="checkpoint-text">(.*?)</pre>`).FindStringSubmatch(body)
	k := regexp.MustCompile(`<code id="verifier-key">(.*?)</code>`).FindStringSubmatch(body)
	if m == nil || k == nil {
		t.Fatal("no checkpoint or key on the trust page")
	}
	v, err := note.NewVerifier(html.UnescapeString(k[1]))
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open([]byte(html.UnescapeString(m[1])), note.VerifierList(v))
	if err != nil {
		t.Fatalf("the checkpoint on the trust page does not verify: %v", err)
	}
	size := strings.Split(n.Text, "\n")[1]
	if !strings.Contains(body, `<dd id="log-size">`+size+`</dd>`) || size == "0" {
		t.Fatalf("shown size does not match the signed checkpoint (%s)", size)
	}
}
