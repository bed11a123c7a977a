package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/trustward/trustward/internal/audit"
)

func TestSecurityHeadersAndHealth(t *testing.T) {
	a := newApp(t, "sqlite")
	res, body := get(t, http.DefaultClient, a.srv.URL+"/")
	if res.StatusCode != 200 || !strings.Contains(body, "Sign in") {
		t.Fatalf("home: %d", res.StatusCode)
	}
	h := res.Header
	for k, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "no-referrer",
	} {
		if h.Get(k) != want {
			t.Errorf("%s = %q", k, h.Get(k))
		}
	}
	csp := h.Get("Content-Security-Policy")
	for _, part := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, part) {
			t.Errorf("CSP %q lacks %q", csp, part)
		}
	}
	if h.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS sent over plain HTTP")
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "style=") {
		t.Error("inline script or style in a page")
	}
	res, body = get(t, http.DefaultClient, a.srv.URL+"/healthz")
	if res.StatusCode != 200 || !strings.Contains(body, `"ok"`) {
		t.Fatalf("healthz: %d %s", res.StatusCode, body)
	}
	res, _ = get(t, http.DefaultClient, a.srv.URL+"/no/such/page")
	if res.StatusCode != 404 {
		t.Fatalf("unknown page: %d", res.StatusCode)
	}
}

func TestClinicianOpensChartAndSeesAccess(t *testing.T) {
	engines(t, func(t *testing.T, a *testApp) {
		c := a.browser(t)
		res, _ := get(t, c, a.srv.URL+"/console")
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/signin") {
			t.Fatalf("console without session: %d", res.StatusCode)
		}
		a.signIn(t, c, "ben")
		res, body := get(t, c, a.srv.URL+"/console")
		if res.StatusCode != 200 || !strings.Contains(body, "Marisol Quillfeather") {
			t.Fatalf("console: %d, my patients missing", res.StatusCode)
		}
		res, body = get(t, c, a.srv.URL+"/console/search?q=quillf")
		if res.StatusCode != 200 || !strings.Contains(body, "/console/patients/pat-1") {
			t.Fatalf("search: %d", res.StatusCode)
		}
		res, body = get(t, c, a.srv.URL+"/console/patients/pat-1")
		if res.StatusCode != 200 {
			t.Fatalf("chart: %d", res.StatusCode)
		}
		for _, want := range []string{"Marisol Quillfeather", "Penicillin", "high criticality", "Lisinopril 10 mg tablet", "Hypertension", "Heart rate", "72 /min", "Ben Okafor", "care team"} {
			if !strings.Contains(body, want) {
				t.Errorf("chart lacks %q", want)
			}
		}
		res, body = get(t, c, a.srv.URL+"/console/accesses")
		if res.StatusCode != 200 || !strings.Contains(body, "Opened chart") || !strings.Contains(body, "Marisol Quillfeather") {
			t.Fatalf("my recent accesses: %d", res.StatusCode)
		}
		evs, err := a.Audit.Events(context.Background(), audit.Query{PatientID: "pat-1"})
		if err != nil || len(evs) != 1 || evs[0].Event.Actor.UserID != "u-ben" || evs[0].Event.Subtype != "chart" || evs[0].Event.Source != "trustward-ui" {
			t.Fatalf("audit store: %+v %v", evs, err)
		}
	})
}

func TestBreakTheGlassInTheConsole(t *testing.T) {
	a := newApp(t, "sqlite")
	c := a.browser(t)
	a.signIn(t, c, "luc")
	res, body := get(t, c, a.srv.URL+"/console/patients/pat-1")
	if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "Break the glass") || strings.Contains(body, "Penicillin") {
		t.Fatalf("denied chart: %d", res.StatusCode)
	}
	post := func(vals url.Values) (*http.Response, string) {
		res, err := c.PostForm(a.srv.URL+"/console/patients/pat-1/break-glass", vals)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var sb strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := res.Body.Read(buf)
			sb.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return res, sb.String()
	}
	res, body = post(url.Values{"reason": {"emergency"}, "explanation": {"too short"}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "10 to 1000 characters") {
		t.Fatalf("short explanation: %d", res.StatusCode)
	}
	res, _ = post(url.Values{"reason": {"emergency"}, "explanation": {"Patient arrested on the ward, I am the responding doctor"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("break glass: %d", res.StatusCode)
	}
	res, body = get(t, c, a.srv.URL+"/console/patients/pat-1")
	if res.StatusCode != 200 || !strings.Contains(body, "Break-the-glass access") || !strings.Contains(body, "Penicillin") {
		t.Fatalf("chart after break glass: %d", res.StatusCode)
	}
	// The privacy office sees it in its review queue.
	po := a.browser(t)
	a.signIn(t, po, "privacy")
	res, body = get(t, po, a.srv.URL+"/office")
	if res.StatusCode != 200 || !strings.Contains(body, "Dr Luc Moreau") || !strings.Contains(body, "responding doctor") {
		t.Fatalf("office queue: %d", res.StatusCode)
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	a := newApp(t, "sqlite")
	req, _ := http.NewRequest("POST", a.srv.URL+"/signin", strings.NewReader("username=ben&password=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res, _ := do(t, req)
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d, want 403", res.StatusCode)
	}
	evs, _ := a.Audit.Events(context.Background(), audit.Query{Limit: 10})
	if len(evs) != 0 {
		t.Fatalf("a refused cross-site request reached the handler: %d events", len(evs))
	}
}

func TestSignInFailureAndSessionEnd(t *testing.T) {
	a := newApp(t, "sqlite")
	c := a.browser(t)
	res, err := c.PostForm(a.srv.URL+"/signin", url.Values{"username": {"ben"}, "password": {"wrong password entirely"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	// A cookie planted before sign-in is not adopted (session fixation).
	u, _ := url.Parse(a.srv.URL)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: "tw_session", Value: "planted-by-attacker"}})
	a.signIn(t, c, "ben")
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "tw_session" && ck.Value == "planted-by-attacker" {
			t.Fatal("planted session cookie survived sign-in")
		}
	}
	res2, err := c.PostForm(a.srv.URL+"/signout", nil)
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	res, _ = get(t, c, a.srv.URL+"/console")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("console after sign-out: %d", res.StatusCode)
	}
	evs, _ := a.Audit.Events(context.Background(), audit.Query{ActorID: "u-ben"})
	kinds := map[string]int{}
	for _, e := range evs {
		kinds[e.Event.Subtype+"/"+e.Event.Outcome]++
	}
	if kinds["login/4"] != 1 || kinds["login/0"] != 1 || kinds["logout/0"] != 1 {
		t.Fatalf("identity events: %v", kinds)
	}
}

func apiToken(t *testing.T, a *testApp, user string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", a.srv.URL+"/api/v1/sessions", strings.NewReader(`{"username":"`+user+`","password":"`+password+`"}`))
	req.Header.Set("Content-Type", "application/json")
	res, body := do(t, req)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("API sign-in: %d %s", res.StatusCode, body)
	}
	var out struct{ Token string }
	json.Unmarshal([]byte(body), &out)
	return out.Token
}

func TestAPIChartAndErrors(t *testing.T) {
	engines(t, func(t *testing.T, a *testApp) {
		tok := apiToken(t, a, "ben")
		call := func(method, path, ctype, body string) (*http.Response, string) {
			req, _ := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			if ctype != "" {
				req.Header.Set("Content-Type", ctype)
			}
			return do(t, req)
		}
		res, body := call("GET", "/api/v1/patients/pat-1/chart", "", "")
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("chart: %d %s", res.StatusCode, body)
		}
		var ch struct {
			Patient   struct{ Name string }
			Basis     string
			Allergies []struct{ Name string }
			EventID   string `json:"auditEventId"`
		}
		if err := json.Unmarshal([]byte(body), &ch); err != nil || ch.Patient.Name != "Marisol Quillfeather" || ch.Basis != "care-team" || len(ch.Allergies) != 1 || ch.EventID == "" {
			t.Fatalf("chart JSON: %+v %v", ch, err)
		}
		// Errors are problem+json with the right status.
		res, body = call("GET", "/api/v1/patients/ghost/chart", "", "")
		if res.StatusCode != 404 || res.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(body, `"status":404`) {
			t.Fatalf("missing patient: %d %s", res.StatusCode, body)
		}
		res, body = call("POST", "/api/v1/patients/pat-1/break-glass", "application/x-www-form-urlencoded", "reason=emergency")
		if res.StatusCode != 400 || !strings.Contains(body, "not accepted") {
			t.Fatalf("form body to API: %d %s", res.StatusCode, body)
		}
		res, body = call("POST", "/api/v1/patients/pat-1/break-glass", "application/json", `{"reason":"emergency","surprise":1}`)
		if res.StatusCode != 400 || !strings.Contains(body, "surprise") {
			t.Fatalf("unknown field: %d %s", res.StatusCode, body)
		}
		res, _ = call("POST", "/api/v1/patients/pat-1/break-glass", "application/json", `{"reason":"emergency","explanation":"`+strings.Repeat("x", 70<<10)+`"}`)
		if res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("oversize body: %d", res.StatusCode)
		}
		tok = ""
		res, body = call("GET", "/api/v1/patients/pat-1/chart", "", "")
		if res.StatusCode != 401 || !strings.Contains(body, "Bearer") {
			t.Fatalf("no token: %d %s", res.StatusCode, body)
		}
		tok = "not-a-real-token"
		if res, _ = call("GET", "/api/v1/patients/pat-1/chart", "", ""); res.StatusCode != 401 {
			t.Fatalf("bad token: %d", res.StatusCode)
		}
	})
}

func TestFHIREndpoints(t *testing.T) {
	engines(t, func(t *testing.T, a *testApp) {
		tok := apiToken(t, a, "ben")
		call := func(method, path, body string) (*http.Response, string) {
			req, _ := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			if body != "" {
				req.Header.Set("Content-Type", "application/fhir+json")
			}
			return do(t, req)
		}
		res, body := call("GET", "/fhir/Condition/cond-1", "")
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/fhir+json" || !strings.Contains(body, "Hypertension") {
			t.Fatalf("read: %d %s", res.StatusCode, body)
		}
		res, body = call("GET", "/fhir/Observation?patient=pat-1", "")
		if res.StatusCode != 200 || !strings.Contains(body, `"searchset"`) || !strings.Contains(body, "obs-1") {
			t.Fatalf("search: %d %s", res.StatusCode, body)
		}
		before, _ := a.Records.Count(context.Background(), "")
		res, body = call("POST", "/fhir/Observation", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/pat-1"},"valueQuantity":{"value":"seventy"}}`)
		if res.StatusCode != 400 || !strings.Contains(body, `"OperationOutcome"`) {
			t.Fatalf("invalid create: %d %s", res.StatusCode, body)
		}
		res, body = call("POST", "/fhir/Observation", `{"resourceType":"Observation",`)
		if res.StatusCode != 400 || !strings.Contains(body, `"OperationOutcome"`) {
			t.Fatalf("broken JSON: %d %s", res.StatusCode, body)
		}
		if after, _ := a.Records.Count(context.Background(), ""); after != before {
			t.Fatalf("bad input wrote %d resources", after-before)
		}
		res, body = call("POST", "/fhir/Observation", `{"resourceType":"Observation","status":"final","code":{"text":"Respiratory rate"},"subject":{"reference":"Patient/pat-1"},"valueQuantity":{"value":16,"unit":"/min"}}`)
		if res.StatusCode != 201 || res.Header.Get("Location") == "" {
			t.Fatalf("create: %d %s", res.StatusCode, body)
		}
		res, body = call("GET", "/fhir/Patient/bad!id", "")
		if res.StatusCode != 400 || !strings.Contains(body, `"invalid"`) || !strings.Contains(body, "not a valid FHIR id") {
			t.Fatalf("invalid id: %d %s", res.StatusCode, body)
		}
		res, body = call("POST", "/fhir/Observation", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/pat-1"},"valueQuantity":{"value":1},"bogusField":true}`)
		if res.StatusCode != 400 || !strings.Contains(body, "bogusField") {
			t.Fatalf("unknown FHIR element: %d %s", res.StatusCode, body)
		}
		res, body = call("GET", "/fhir/Spaceship/1", "")
		if res.StatusCode != 404 || !strings.Contains(body, "not-found") {
			t.Fatalf("unknown type: %d %s", res.StatusCode, body)
		}
		res, body = call("GET", "/fhir/Patient/pat-1?name=x", "")
		if res.StatusCode != 200 {
			t.Fatalf("read with ignored query: %d %s", res.StatusCode, body)
		}
		res, _ = call("POST", "/fhir", `{"resourceType":"Bundle","type":"batch","entry":[]}`)
		if res.StatusCode != 403 {
			t.Fatalf("bulk import by a clinician: %d", res.StatusCode)
		}
	})
}
