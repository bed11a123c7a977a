package web

import "testing"

func TestDeviceName(t *testing.T) {
	for _, c := range []struct{ ua, want string }{
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome on Linux"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "Chrome on Linux"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Windows"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge on Windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", "Safari on macOS"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "Safari on iPhone"},
		{"Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0 Mobile/15E148 Safari/604.1", "Chrome on iPad"},
		{"Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", "Samsung Internet on Android"},
		{"Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", "Chrome on Android"},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome on ChromeOS"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 OPR/114.0.0.0", "Opera on Windows"},
		{"curl/8.5.0", "curl"},
		{"Go-http-client/1.1", "a Go program"},
		{"python-requests/2.32.3", "a Python program"},
		{"Mozilla/5.0 (X11; Linux x86_64) SomethingNew/1.0", "a browser on Linux"},
		{"", "an unknown browser or program"},
		{"<script>", "an unknown browser or program"},
	} {
		if got := deviceName(c.ua); got != c.want {
			t.Errorf("deviceName(%q) = %q, want %q", c.ua, got, c.want)
		}
	}
}

// Only a path on this site survives; anything a browser could take to
// another site becomes "/".
func TestSameSitePath(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/console/patients/pat-1/break-glass", "/console/patients/pat-1/break-glass"},
		{"/office/findings/export?format=csv&unit=icu", "/office/findings/export?format=csv&unit=icu"},
		{"/portal/security", "/portal/security"},
		{"", "/"},
		{"console", "/"},
		{"//evil.example/x", "/"},
		{"/\\evil.example", "/"},
		{"/\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"/ /evil.example", "/"},
		{"https://evil.example/", "/"},
		{"javascript:alert(1)", "/"},
		{"\\\\evil.example", "/"},
		{"/%2F/evil.example", "/%2F/evil.example"}, // a path on this site, not a host
		{"/reauth?next=/console", "/"},
		{"/reauth/passkey/begin", "/"},
	} {
		if got := sameSitePath(c.in); got != c.want {
			t.Errorf("sameSitePath(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestReauthPurpose(t *testing.T) {
	for _, c := range []struct{ next, want string }{
		{"/console/patients/pat-1/break-glass", "break the glass and open a patient's record"},
		{"/account/totp/begin", "change how you sign in"},
		{"/account/passkeys/ab12/remove", "change how you sign in"},
		{"/office/findings/export?format=csv", "export data"},
		{"/console", "continue"},
	} {
		if got := reauthPurpose(c.next); got != c.want {
			t.Errorf("reauthPurpose(%q) = %q, want %q", c.next, got, c.want)
		}
	}
}
