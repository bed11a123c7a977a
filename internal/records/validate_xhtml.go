package records

import (
	"encoding/xml"
	"io"
	"strings"
)

const xhtmlNamespace = "http://www.w3.org/1999/xhtml"

// narrativeElements are the XHTML elements FHIR allows in a narrative
// (txt-1: the basic formatting elements of HTML 4.0 chapters 7 to 11 and
// 15, links and images); no scripts, forms, frames, objects, head or body.
var narrativeElements = map[string]bool{
	"a": true, "abbr": true, "acronym": true, "address": true, "area": true, "b": true, "bdo": true,
	"big": true, "blockquote": true, "br": true, "caption": true, "cite": true, "code": true, "col": true,
	"colgroup": true, "dd": true, "dfn": true, "div": true, "dl": true, "dt": true, "em": true,
	"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true, "hr": true, "i": true,
	"img": true, "kbd": true, "li": true, "map": true, "ol": true, "p": true, "pre": true, "q": true,
	"samp": true, "small": true, "span": true, "strong": true, "sub": true, "sup": true, "table": true,
	"tbody": true, "td": true, "tfoot": true, "th": true, "thead": true, "tr": true, "tt": true,
	"ul": true, "var": true,
}

// checkNarrative checks the div of a Narrative: well-formed XHTML whose
// root is a div in the XHTML namespace, only the elements FHIR allows, no
// event-handler attributes or script URLs (txt-1), and some content
// (txt-2). A narrative is shown to people, so this is a line of defence
// against stored script; whoever renders it must still escape or sanitise.
// It returns an issue code and a diagnostic, or "" when the div is fine.
func checkNarrative(div string) (code, problem string) {
	dec := xml.NewDecoder(strings.NewReader(div))
	depth, roots := 0, 0
	content := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return codeValue, "the narrative is not well-formed XHTML"
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if roots > 1 || t.Name.Local != "div" || t.Name.Space != xhtmlNamespace {
					return codeValue, `the narrative must be one <div xmlns="` + xhtmlNamespace + `"> element`
				}
			}
			depth++
			if t.Name.Space != xhtmlNamespace || !narrativeElements[t.Name.Local] {
				return codeInvariant, "the narrative contains an element FHIR does not allow in narratives (txt-1)"
			}
			if t.Name.Local == "img" {
				content = true
			}
			for _, a := range t.Attr {
				if problem := narrativeAttr(t.Name.Local, a); problem != "" {
					return codeInvariant, problem
				}
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				if depth == 0 {
					return codeValue, `the narrative must be one <div xmlns="` + xhtmlNamespace + `"> element`
				}
				content = true
			}
		case xml.ProcInst, xml.Directive:
			return codeInvariant, "the narrative contains a processing instruction or a DTD, which FHIR does not allow"
		}
	}
	if roots == 0 {
		return codeValue, `the narrative must be one <div xmlns="` + xhtmlNamespace + `"> element`
	}
	if !content {
		return codeInvariant, "the narrative has no content (txt-2)"
	}
	return "", ""
}

func narrativeAttr(element string, a xml.Attr) string {
	name := strings.ToLower(a.Name.Local)
	if strings.HasPrefix(name, "on") {
		return "the narrative contains an event-handler attribute (txt-1)"
	}
	switch name {
	case "href", "src", "cite", "longdesc", "usemap", "action", "formaction", "background":
		// Browsers ignore whitespace and control characters inside a scheme.
		u := strings.Map(func(r rune) rune {
			if r <= ' ' {
				return -1
			}
			return r
		}, strings.ToLower(a.Value))
		if strings.HasPrefix(u, "javascript:") || strings.HasPrefix(u, "vbscript:") ||
			strings.HasPrefix(u, "data:") && !(element == "img" && name == "src" && strings.HasPrefix(u, "data:image/")) {
			return "the narrative contains a script or data URL (txt-1)"
		}
	}
	return ""
}
