package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trustward/trustward/internal/app"
	"github.com/trustward/trustward/internal/config"
	"github.com/trustward/trustward/internal/db/dbtest"
	"github.com/trustward/trustward/internal/identity"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

const fixture = `{"resourceType":"Organization","id":"org-med","name":"General Medicine"}
{"resourceType":"Organization","id":"org-card","name":"Cardiology"}
{"resourceType":"Practitioner","id":"pr-1","name":[{"family":"Okafor","given":["Ben"]}]}
{"resourceType":"Practitioner","id":"pr-3","name":[{"family":"Moreau","given":["Luc"]}]}
{"resourceType":"PractitionerRole","id":"prr-1","practitioner":{"reference":"Practitioner/pr-1"},"organization":{"reference":"Organization/org-med"},"code":[{"text":"clinician"}]}
{"resourceType":"PractitionerRole","id":"prr-3","practitioner":{"reference":"Practitioner/pr-3"},"organization":{"reference":"Organization/org-med"},"code":[{"text":"clinician"}]}
{"resourceType":"Patient","id":"pat-1","identifier":[{"system":"urn:trustward:mrn","value":"MRN0000042"}],"name":[{"family":"Quillfeather","given":["Marisol"]}],"gender":"female","birthDate":"1961-04-09"}
{"resourceType":"CareTeam","id":"ct-1","status":"active","subject":{"reference":"Patient/pat-1"},"participant":[{"member":{"reference":"Practitioner/pr-1"}}]}
{"resourceType":"Condition","id":"cond-1","subject":{"reference":"Patient/pat-1"},"code":{"text":"Hypertension"},"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]}}
{"resourceType":"AllergyIntolerance","id":"al-1","patient":{"reference":"Patient/pat-1"},"code":{"text":"Penicillin"},"criticality":"high"}
{"resourceType":"MedicationRequest","id":"mr-1","status":"active","intent":"order","medicationCodeableConcept":{"text":"Lisinopril 10 mg tablet"},"subject":{"reference":"Patient/pat-1"},"requester":{"reference":"Practitioner/pr-1"},"authoredOn":"2026-10-01"}
{"resourceType":"Observation","id":"obs-1","status":"final","code":{"text":"Heart rate"},"subject":{"reference":"Patient/pat-1"},"effectiveDateTime":"2026-11-20T09:30:00Z","valueQuantity":{"value":72,"unit":"/min"}}
`

const password = "a long enough test password"

// testApp is a real Trustward (store, keys, audit, web) on one engine.
type testApp struct {
	*app.App
	srv *httptest.Server
}

func newApp(t *testing.T, engine string) *testApp {
	t.Helper()
	return newAppWith(t, engine, nil)
}

// newAppWith is newApp with settings changed by configure.
func newAppWith(t *testing.T, engine string, configure func(*config.Config)) *testApp {
	t.Helper()
	return newAppAt(t, engine, configure, nil)
}

// newAppAt is newAppWith on the clock clock (nil: the system's).
func newAppAt(t *testing.T, engine string, configure func(*config.Config), clock func() time.Time) *testApp {
	t.Helper()
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.KeyFile = filepath.Join(cfg.DataDir, "kek.json")
	if engine == "postgres" {
		cfg.DB = dbtest.PostgresURL(t)
	}
	cfg.MaxBodyBytes = 64 << 10
	if configure != nil {
		configure(&cfg)
	}
	a, err := app.OpenWithClock(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	if _, err := a.Records.Import(ctx, strings.NewReader(fixture), nil); err != nil {
		t.Fatal(err)
	}
	h, err := a.Identity.Hasher().Hash(ctx, password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Identity.CreateUsers(ctx, []identity.User{
		{ID: "u-ben", Username: "ben", DisplayName: "Dr Ben Okafor", Role: identity.RoleClinician, PractitionerID: "pr-1", DepartmentID: "org-med"},
		{ID: "u-luc", Username: "luc", DisplayName: "Dr Luc Moreau", Role: identity.RoleClinician, PractitionerID: "pr-3", DepartmentID: "org-med"},
		{ID: "u-pia", Username: "privacy", DisplayName: "Pia Privacy", Role: identity.RolePrivacyOfficer},
		{ID: "u-adm", Username: "admin", DisplayName: "Ada Admin", Role: identity.RoleAdmin},
		{ID: "u-sec", Username: "sec", DisplayName: "Sam Security", Role: identity.RoleSecurityEngineer},
	}, h); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Web)
	t.Cleanup(srv.Close)
	return &testApp{App: a, srv: srv}
}

// engines runs fn against SQLite and PostgreSQL.
func engines(t *testing.T, fn func(t *testing.T, a *testApp)) {
	for _, e := range []string{"sqlite", "postgres"} {
		t.Run(e, func(t *testing.T) { fn(t, newApp(t, e)) })
	}
}

// browser is an HTTP client with cookies that does not follow redirects.
func (a *testApp) browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (a *testApp) signIn(t *testing.T, c *http.Client, user string) {
	t.Helper()
	res, err := c.PostForm(a.srv.URL+"/signin", url.Values{"username": {user}, "password": {password}, "next": {"/console"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/console" {
		t.Fatalf("sign-in: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}
