package sbom

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
)

// jsonShape is what one pass over raw JSON learns before anything is
// decoded: the members that tell the format apart, and how many component
// objects the document holds.
type jsonShape struct {
	bomFormat, specVersion, spdxVersion, context *string
	elements                                     int
}

// errJSONSyntax says the scan met a structure it cannot follow; the
// decoder is then asked for its precise error.
var errJSONSyntax = errors.New("JSON syntax")

// countedArrays are the members whose array elements count against
// MaxComponents: CycloneDX components (at every depth), SPDX packages and
// files. Keys are compared as encoding/json matches them to struct fields:
// without regard to case.
var countedArrays = []string{"components", "packages", "files"}

// scanJSON walks the raw bytes once, without allocating per value, to
// bound the nesting depth and the number of component objects, and to pick
// out the top-level bomFormat, specVersion, spdxVersion and @context
// strings. It is not a validator: the decoder still rejects what is not
// JSON.
func scanJSON(data []byte, maxDepth, maxElements int) (jsonShape, error) {
	type frame struct{ array, counted bool }
	var sh jsonShape
	stack := make([]frame, 0, 64)
	expectKey := false
	var key []byte // the last member name read, still quoted
	for i := 0; i < len(data); i++ {
		switch c := data[i]; c {
		case ':':
			expectKey = false
		case ',':
			if n := len(stack); n > 0 && !stack[n-1].array {
				expectKey = true
			}
		case '{', '[':
			n := len(stack)
			if n >= maxDepth {
				return sh, tooLarge("the SBOM nests JSON deeper than %d levels", maxDepth)
			}
			counted := false
			if n > 0 {
				top := stack[n-1]
				if top.array && top.counted && c == '{' {
					sh.elements++
					if sh.elements > maxElements {
						return sh, tooLarge("the SBOM has more than %d components", maxElements)
					}
				}
				if !top.array && c == '[' {
					counted = isCountedArray(key)
				}
			}
			stack = append(stack, frame{array: c == '[', counted: counted})
			expectKey = c == '{'
		case '}', ']':
			if len(stack) == 0 {
				return sh, errJSONSyntax
			}
			stack = stack[:len(stack)-1]
			expectKey = false
		case '"':
			end, ok := stringEnd(data, i)
			if !ok {
				return sh, errJSONSyntax
			}
			quoted := data[i : end+1]
			switch n := len(stack); {
			case n > 0 && !stack[n-1].array && expectKey:
				key = quoted
			case n == 1 && !stack[0].array:
				sh.record(key, quoted)
			}
			i = end
		}
	}
	if len(stack) != 0 {
		return sh, errJSONSyntax
	}
	return sh, nil
}

// stringEnd returns the index of the quote that closes the string opening
// at data[start].
func stringEnd(data []byte, start int) (int, bool) {
	j := start + 1
	for {
		k := bytes.IndexByte(data[j:], '"')
		if k < 0 {
			return 0, false
		}
		j += k
		backslashes := 0
		for m := j - 1; m > start && data[m] == '\\'; m-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return j, true
		}
		j++
	}
}

// unquote decodes a quoted JSON string; "" when it is not one.
func unquote(quoted []byte) string {
	if bytes.IndexByte(quoted, '\\') < 0 {
		return string(quoted[1 : len(quoted)-1])
	}
	var s string
	if json.Unmarshal(quoted, &s) != nil {
		return ""
	}
	return s
}

func isCountedArray(quotedKey []byte) bool {
	if len(quotedKey) < 2 {
		return false
	}
	k := unquote(quotedKey)
	for _, name := range countedArrays {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

func (sh *jsonShape) record(quotedKey, quotedValue []byte) {
	if len(quotedKey) < 2 {
		return
	}
	k := unquote(quotedKey)
	v := unquote(quotedValue)
	switch {
	case strings.EqualFold(k, "bomFormat"):
		sh.bomFormat = &v
	case strings.EqualFold(k, "specVersion"):
		sh.specVersion = &v
	case strings.EqualFold(k, "spdxVersion"):
		sh.spdxVersion = &v
	case k == "@context":
		sh.context = &v
	}
}

// jsonError turns a decoding error into a message with a line and column.
func jsonError(data []byte, err error, what string) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line, col := position(data, syn.Offset)
		return malformed(err, "the %s is not valid JSON at line %d, column %d: %s", what, line, col, syn.Error())
	case errors.As(err, &typ):
		line, col := position(data, typ.Offset)
		field := typ.Field
		if field == "" {
			field = "a value"
		}
		return malformed(err, "the %s has a %s where %s needs a %s (line %d, column %d)", what, typ.Value, field, typ.Type, line, col)
	}
	return malformed(err, "the %s could not be decoded: %v", what, err)
}

// syntaxError asks encoding/json for the precise error in data, which the
// scan found not to be JSON.
func syntaxError(data []byte, what string) error {
	var probe struct{}
	if err := json.Unmarshal(data, &probe); err != nil {
		return jsonError(data, err, what)
	}
	return malformed(errJSONSyntax, "the %s is not valid JSON", what)
}

func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// limitedTokens passes XML tokens to the decoder while counting component
// elements and depth, so that the limits hold while the document streams.
type limitedTokens struct {
	d             *xml.Decoder
	depth         int
	maxDepth      int
	components    int
	maxComponents int
	root          xml.Name
}

func (l *limitedTokens) Token() (xml.Token, error) {
	t, err := l.d.Token()
	switch e := t.(type) {
	case xml.StartElement:
		if l.root.Local == "" {
			l.root = e.Name
		}
		l.depth++
		if l.depth > l.maxDepth {
			return nil, tooLarge("the SBOM nests XML deeper than %d levels", l.maxDepth)
		}
		if e.Name.Local == "component" {
			l.components++
			if l.components > l.maxComponents {
				return nil, tooLarge("the SBOM has more than %d components", l.maxComponents)
			}
		}
	case xml.EndElement:
		l.depth--
	}
	return t, err
}

// looksLikeTagValue reports an "SPDXVersion:" tag at the start of a line
// within the first 64 KiB (comments and other tags may come first).
func looksLikeTagValue(data []byte) bool {
	head := data[:min(len(data), 64<<10)]
	for line := range bytes.Lines(head) {
		if bytes.HasPrefix(bytes.TrimLeft(line, " \t"), []byte("SPDXVersion:")) {
			return true
		}
	}
	return false
}

// tagValueShape counts packages and files and finds the SPDX version of a
// tag-value document.
func tagValueShape(data []byte, maxElements int) (version string, err error) {
	elements := 0
	for line := range bytes.Lines(data) {
		line = bytes.TrimLeft(line, " \t")
		switch {
		case bytes.HasPrefix(line, []byte("PackageName:")), bytes.HasPrefix(line, []byte("FileName:")):
			elements++
			if elements > maxElements {
				return "", tooLarge("the SBOM has more than %d packages and files", maxElements)
			}
		case version == "" && bytes.HasPrefix(line, []byte("SPDXVersion:")):
			version = strings.TrimSpace(string(line[len("SPDXVersion:"):]))
		}
	}
	if version == "" {
		return "", unsupported("the tag-value document has no SPDXVersion")
	}
	return version, nil
}

// spdxVersionNumber returns "2.3" for "SPDX-2.3".
func spdxVersionNumber(v string) (string, error) {
	n, ok := strings.CutPrefix(v, "SPDX-")
	switch {
	case !ok:
		return "", fmt.Errorf("%q does not start with SPDX-", v)
	case n == "2.1" || n == "2.2" || n == "2.3":
		return n, nil
	}
	return "", fmt.Errorf("SPDX version %s is not 2.1, 2.2 or 2.3", n)
}
