package layering

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/trustward/trustward/"

// transport packages are allowed net/http: they are the HTTP edge.
var transport = map[string]bool{"internal/web": true, "internal/app": true}

// httpClients may use net/http as clients only, each for a reason:
// internal/ledger hands Tessera the *http.Client it sends checkpoints to
// witnesses with (Tessera's API takes one) and watches the answers.
var httpClients = map[string]bool{"internal/ledger": true}

type pkg struct {
	dir     string
	imports map[string]bool
	hasDoc  bool
}

func load(t *testing.T) map[string]*pkg {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]*pkg{}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == "testdata" || strings.HasPrefix(n, ".") || n == "trustward-data" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		p := pkgs[rel]
		if p == nil {
			p = &pkg{dir: rel, imports: map[string]bool{}}
			pkgs[rel] = p
		}
		if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
			p.hasDoc = true
		}
		for _, im := range f.Imports {
			s, _ := strconv.Unquote(im.Path.Value)
			p.imports[s] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 10 {
		t.Fatalf("found only %d packages; is the test run from its own folder?", len(pkgs))
	}
	return pkgs
}

func TestEveryPackageHasADocComment(t *testing.T) {
	for dir, p := range load(t) {
		if !p.hasDoc {
			t.Errorf("%s has no package doc comment", dir)
		}
	}
}

func TestDomainPartsStayOffTheTransport(t *testing.T) {
	for dir, p := range load(t) {
		if !strings.HasPrefix(dir, "internal/") || transport[dir] || strings.HasPrefix(dir, "internal/db/dbtest") || dir == "internal/layering" {
			continue
		}
		for im := range p.imports {
			if (im == "net/http" && !httpClients[dir]) || im == module+"internal/web" || im == module+"internal/app" {
				t.Errorf("%s imports %s: domain parts must not depend on HTTP, web or app", dir, im)
			}
		}
	}
	for dir, p := range load(t) {
		if dir == "internal/app" || strings.HasPrefix(dir, "cmd/") {
			continue
		}
		if p.imports[module+"internal/app"] {
			t.Errorf("%s imports internal/app: only cmd may", dir)
		}
	}
	if _, err := os.Stat("../../cmd/trustward/main.go"); err != nil {
		t.Fatal(err)
	}
}

// TestNoDoubtfulPackageNames keeps util/common/helpers/models/types away.
func TestNoDoubtfulPackageNames(t *testing.T) {
	for dir := range load(t) {
		switch filepath.Base(dir) {
		case "util", "utils", "common", "helpers", "models", "types":
			t.Errorf("%s: name a package for what it does", dir)
		}
	}
}
