package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/trustward/trustward/internal/config"
	"github.com/trustward/trustward/internal/fault"
	"github.com/trustward/trustward/internal/proof"
)

const verifyUsage = `Usage:
  trustward verify bundle FILE --key KEY
      check a patient's proof bundle offline: the checkpoint's signature,
      the leaf recomputed from the event, and its inclusion in the log
  trustward verify log URL --key KEY [--state FILE]
      download a whole log served as C2SP tlog-tiles (URL is the folder of
      "checkpoint", e.g. https://trustward.example/log/), recompute every
      tile and the root, and check it only grew since the last run

KEY is the log's verifier key ("origin+hash+base64") or a file holding it.
Exit status: 0 verified, 1 a check failed (the message names it), 2 usage.
`

// errVerifyFailed makes the exit status 1 after the failure was printed.
type errVerifyFailed struct{ err error }

func (e errVerifyFailed) Error() string { return e.err.Error() }
func (e errVerifyFailed) Unwrap() error { return e.err }

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "bundle" && args[0] != "log") {
		fmt.Fprint(stderr, verifyUsage)
		return &config.Error{Setting: "verify", Msg: "say what to verify: bundle or log"}
	}
	what := args[0]
	fs := flag.NewFlagSet("trustward verify "+what, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, verifyUsage) }
	key := fs.String("key", "", "the log's verifier key, or a file holding it")
	state := fs.String("state", "", "state file of 'verify log' (default: in the user config folder, per log)")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return &config.Error{Setting: "verify " + what, Msg: "give exactly one FILE or URL"}
	}
	if *key == "" {
		return &config.Error{Setting: "--key", Msg: "the log's verifier key is required (from /log/key or the trust page)"}
	}
	vkey := strings.TrimSpace(*key)
	if b, err := os.ReadFile(vkey); err == nil {
		vkey = strings.TrimSpace(string(b))
	}
	switch what {
	case "bundle":
		return verifyBundle(pos[0], vkey, stdout)
	default:
		return verifyLog(ctx, pos[0], vkey, *state, stdout, stderr)
	}
}

func verifyBundle(path, vkey string, stdout io.Writer) error {
	data, err := readLimited(path, proof.MaxBundleSize)
	if err != nil {
		return err
	}
	b, err := proof.ParseBundle(data)
	if err != nil {
		return errVerifyFailed{err}
	}
	v, err := proof.VerifyBundle(b, vkey)
	if err != nil {
		return errVerifyFailed{err}
	}
	fmt.Fprintf(stdout, "OK: access event %s (%s, %s) is leaf %d of log %s, in its signed checkpoint of %d leaves\n",
		v.Event.ID, v.Event.Time.Format(time.RFC3339), v.Event.Action, v.LeafIndex, v.Checkpoint.Origin, v.Checkpoint.Size)
	return nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &config.Error{Setting: "FILE", Msg: err.Error()}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &config.Error{Setting: "FILE", Msg: err.Error()}
	}
	return data, nil
}

func verifyLog(ctx context.Context, logURL, vkey, statePath string, stdout, stderr io.Writer) error {
	origin, _, _ := strings.Cut(vkey, "+")
	if statePath == "" {
		p, err := proof.DefaultStatePath(origin)
		if err != nil {
			return &config.Error{Setting: "--state", Msg: "no user config folder; give --state FILE: " + err.Error()}
		}
		statePath = p
	}
	prev, err := proof.LoadState(statePath)
	if err != nil {
		return &config.Error{Setting: "--state", Msg: err.Error()}
	}
	f, err := newHTTPFetcher(logURL)
	if err != nil {
		return err
	}
	bar := newProgress(stderr)
	res, err := proof.VerifyLog(ctx, f, vkey, proof.LogOptions{Previous: prev, Progress: bar.update})
	bar.done()
	if err != nil {
		return errVerifyFailed{err}
	}
	if err := res.State(time.Now().UTC()).Save(statePath); err != nil {
		return fmt.Errorf("save the state file %s: %w", statePath, err)
	}
	since := "first run: this checkpoint is now the one later runs must extend"
	if prev != nil {
		since = fmt.Sprintf("consistent with the %d leaves seen on %s", prev.Size, prev.Verified.Format(time.RFC3339))
	}
	fmt.Fprintf(stdout, "OK: log %s has %d leaves; every entry, %d tiles and the root check out; %s\n",
		res.Checkpoint.Origin, res.Checkpoint.Size, res.Tiles, since)
	return nil
}

// progress draws a bar on a terminal, and nothing otherwise.
type progress struct {
	w     io.Writer
	tty   bool
	last  time.Time
	shown bool
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) update(done, total uint64) {
	if !p.tty || total == 0 || (time.Since(p.last) < 100*time.Millisecond && done < total) {
		return
	}
	p.last, p.shown = time.Now(), true
	const width = 40
	n := int(done * width / total)
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d leaves", strings.Repeat("#", n), strings.Repeat(".", width-n), done, total)
}

func (p *progress) done() {
	if p.shown {
		fmt.Fprintln(p.w)
	}
}

// httpFetcher reads a log's resources over HTTP(S) below a base URL.
type httpFetcher struct {
	base   *url.URL
	client *http.Client
}

func newHTTPFetcher(base string) (*httpFetcher, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &config.Error{Setting: "URL", Msg: fmt.Sprintf("%q is not an http(s) URL of a log", base)}
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return &httpFetcher{base: u, client: &http.Client{Timeout: 30 * time.Second}}, nil
}

func (f *httpFetcher) Fetch(ctx context.Context, path string, limit int64) ([]byte, error) {
	u := f.base.JoinPath(path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	res, err := f.client.Do(req)
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "cannot fetch %s", path)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fault.New(fault.Unavailable, "%s: HTTP %d", path, res.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	if err != nil {
		return nil, fault.Wrap(fault.Unavailable, err, "cannot read %s", path)
	}
	if int64(len(b)) > limit {
		return nil, fault.New(fault.TooLarge, "%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

// parseInterspersed parses flags that may come before, between or after
// the positional arguments (the flag package stops at the first
// positional one) and returns the positional arguments in order.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
