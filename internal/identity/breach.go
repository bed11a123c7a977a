package identity

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// The breached-password check asks a k-anonymity range service (the
// Pwned Passwords API, or a mirror of it an organisation runs itself) for
// every breached SHA-1 hash that starts with the same five hex digits as
// the password's hash, and looks for the rest of the hash in the answer.
// Neither the password nor its full hash leaves the server. It is off by
// default, and it fails open: when the service is slow or down, sign-up
// goes on with the embedded blocklist alone and a warning is logged. See
// docs/decisions/0012-breached-password-check.md.

// RangeFetcher performs one GET of a range query and returns the body of a
// 200 answer; any other status is an error. Identity does not speak HTTP
// itself (domain parts stay off the transport): the app wires an
// *http.Client here.
type RangeFetcher interface {
	FetchRange(ctx context.Context, url string, header map[string]string) (io.ReadCloser, error)
}

// BreachConfig configures the check.
type BreachConfig struct {
	// BaseURL of the range service, for example
	// "https://api.pwnedpasswords.com"; the check is off when empty.
	BaseURL string
	// Timeout bounds one check (2 seconds when zero): a person is waiting.
	Timeout time.Duration
}

// BreachChecker checks passwords against a range service.
type BreachChecker struct {
	base    string
	timeout time.Duration
	fetch   RangeFetcher
	log     *slog.Logger
}

// maxRangeBytes bounds what is read of an answer: a padded answer holds
// about a thousand 40-byte lines.
const maxRangeBytes = 1 << 20

// NewBreachChecker returns a checker; with an empty BaseURL or a nil
// fetcher it is off and every check reports that nothing was checked.
func NewBreachChecker(cfg BreachConfig, fetch RangeFetcher, log *slog.Logger) *BreachChecker {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Second
	}
	return &BreachChecker{base: strings.TrimRight(cfg.BaseURL, "/"), timeout: cfg.Timeout, fetch: fetch, log: log}
}

// Enabled reports whether checks are made.
func (b *BreachChecker) Enabled() bool { return b != nil && b.base != "" && b.fetch != nil }

// BreachResult is the answer for one password. Checked is false when the
// check is off or the service failed (Reason says which); the password is
// then neither refused nor vouched for.
type BreachResult struct {
	Checked  bool
	Breached bool
	// Count is how often the password appears in the breaches.
	Count  int
	Reason string
}

// Problem returns the policy problem of a breached password.
func (r BreachResult) Problem() (Problem, bool) {
	if !r.Breached {
		return Problem{}, false
	}
	return Problem{ProblemBreached, "This password has appeared in a data breach, so attackers already have it in their lists. Choose a passphrase of several unrelated words."}, true
}

// Check looks pw up. Errors and timeouts do not fail the caller: they are
// logged as warnings and reported as not checked.
func (b *BreachChecker) Check(ctx context.Context, pw string) BreachResult {
	if !b.Enabled() {
		return BreachResult{Reason: "breached-password check is off"}
	}
	sum := sha1.Sum([]byte(normalisePassword(pw)))
	full := strings.ToUpper(hex.EncodeToString(sum[:]))
	prefix, suffix := full[:5], full[5:]
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	count, err := b.lookup(ctx, prefix, suffix)
	if err != nil {
		// Fail open: an outage of a third-party service must not stop
		// people from signing up or changing their password. The log
		// keeps no part of the password's hash (errors may quote the URL).
		b.log.Warn("breached-password check failed; continuing without it", "err", strings.ReplaceAll(err.Error(), prefix, "XXXXX"))
		return BreachResult{Reason: "breached-password service unavailable"}
	}
	return BreachResult{Checked: true, Breached: count > 0, Count: count}
}

func (b *BreachChecker) lookup(ctx context.Context, prefix, suffix string) (int, error) {
	body, err := b.fetch.FetchRange(ctx, b.base+"/range/"+prefix, map[string]string{
		// Padding makes every answer about the same size, so that an
		// observer of the encrypted traffic cannot tell prefixes apart.
		"Add-Padding": "true",
		"User-Agent":  "Trustward",
	})
	if err != nil {
		return 0, fmt.Errorf("range query: %w", err)
	}
	defer body.Close()
	count, err := findSuffix(io.LimitReader(body, maxRangeBytes), suffix)
	if err != nil {
		return 0, fmt.Errorf("range answer: %w", err)
	}
	// A failed context means the answer may be cut short: not an answer.
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("range answer: %w", err)
	}
	return count, nil
}

// findSuffix reads "SUFFIX:COUNT" lines and returns the count of suffix
// (0 when absent). Padding lines have a count of 0 and never match.
func findSuffix(r io.Reader, suffix string) (int, error) {
	sc := bufio.NewScanner(r)
	lines := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		lines++
		s, c, ok := strings.Cut(line, ":")
		if !ok || len(s) != 35 {
			return 0, fmt.Errorf("line %d is not SUFFIX:COUNT", lines)
		}
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 0 {
			return 0, fmt.Errorf("line %d has a bad count", lines)
		}
		if n > 0 && strings.EqualFold(s, suffix) {
			return n, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	if lines == 0 {
		// Every prefix has breached hashes; an empty answer is a fault.
		return 0, fmt.Errorf("empty answer")
	}
	return 0, nil
}
