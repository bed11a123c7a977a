package records

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// object checks the properties of obj against t: every key an element
// (or the `_name` companion of a primitive one), every value of the right
// shape, at most one member per choice, every required element present.
// Issues come in FHIR element order, then unknown properties by name.
func (v *validator) object(obj map[string]any, t *typeDef) {
	var buf [32]int
	present := buf[:0]
	var unknown []string
	for key := range obj {
		if t.resource && key == "resourceType" {
			continue
		}
		name, companion := strings.CutPrefix(key, "_")
		i, ok := t.index[name]
		if !ok || companion && t.elements[i].extName == "" {
			unknown = append(unknown, key)
			continue
		}
		present = append(present, i)
	}
	slices.Sort(present)
	present = slices.Compact(present) // name and _name
	prevChoice, reportedChoice := "", ""
	for _, i := range present {
		if v.full {
			return
		}
		el := &t.elements[i]
		val, hasVal := obj[el.name]
		var ext any
		hasExt := false
		if el.extName != "" {
			ext, hasExt = obj[el.extName]
		}
		v.push(el.name)
		v.element(el, val, hasVal, ext, hasExt)
		v.pop()
		// Members of a choice are adjacent in element order; report a
		// choice given twice (or more) once.
		if el.choice != "" && el.choice == prevChoice && el.choice != reportedChoice {
			v.push(el.choice + "[x]")
			v.report(codeStructure, "only one type of "+el.choice+"[x] may be present, but "+el.name+" is given with another")
			v.pop()
			reportedChoice = el.choice
		}
		prevChoice = el.choice
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		for _, key := range unknown {
			v.unknownProperty(t, key)
		}
	}
	for _, r := range t.required {
		if !hasAny(obj, t, r.members) {
			v.push(r.name)
			v.report(codeRequired, "a required element is missing")
			v.pop()
		}
	}
	if t.extension {
		v.checkExtension(obj, t)
	}
}

func hasAny(obj map[string]any, t *typeDef, members []int) bool {
	for _, i := range members {
		el := &t.elements[i]
		if _, ok := obj[el.name]; ok {
			return true
		}
		if el.extName != "" {
			if _, ok := obj[el.extName]; ok {
				return true
			}
		}
	}
	return false
}

func (v *validator) unknownProperty(t *typeDef, key string) {
	if !isElementName(key) {
		v.report(codeStructure, "a property whose name is not a FHIR element name")
		return
	}
	v.push(key)
	defer v.pop()
	name, companion := strings.CutPrefix(key, "_")
	if i, ok := t.index[name]; ok && companion {
		if t.elements[i].prim == nil {
			v.report(codeStructure, "unknown property "+key+": "+name+" is not a primitive element, so it has no _"+name)
		} else {
			v.report(codeStructure, "unknown property "+key+": "+name+" takes no extensions")
		}
		return
	}
	v.report(codeStructure, "unknown property: "+t.name+" has no element "+key)
}

// checkExtension applies ext-1: an extension has either a value or nested
// extensions, not both and not neither.
func (v *validator) checkExtension(obj map[string]any, t *typeDef) {
	hasValue := false
	for i := range t.elements {
		el := &t.elements[i]
		if el.choice != "value" {
			continue
		}
		_, hasValue = obj[el.name]
		if !hasValue && el.extName != "" {
			_, hasValue = obj[el.extName]
		}
		if hasValue {
			break
		}
	}
	_, hasNested := obj["extension"]
	switch {
	case hasValue && hasNested:
		v.report(codeInvariant, "an extension must have either a value or nested extensions, not both (ext-1)")
	case !hasValue && !hasNested:
		v.report(codeInvariant, "an extension must have either a value or nested extensions (ext-1)")
	}
}

// element checks one element given as val (when hasVal) and its primitive
// extensions given as ext (when hasExt), at the path of the element.
func (v *validator) element(el *elementDef, val any, hasVal bool, ext any, hasExt bool) {
	if !el.array {
		if hasVal {
			if _, isArray := val.([]any); isArray {
				v.report(codeStructure, "expected "+singleOf(el)+", got an array")
				hasVal = false
			}
		}
		if hasExt {
			if _, isArray := ext.([]any); isArray {
				v.report(codeStructure, "expected "+el.extName+" to be an object, got an array")
				hasExt = false
			}
		}
		v.single(el, val, hasVal, ext, hasExt)
		return
	}
	var vals, exts []any
	if hasVal {
		a, isArray := val.([]any)
		switch {
		case !isArray:
			v.report(codeStructure, "expected an array of "+el.typeName+", got "+kindOf(val))
		case len(a) == 0:
			v.report(codeStructure, "an empty array is not allowed")
		}
		vals = a
	}
	if hasExt {
		a, isArray := ext.([]any)
		switch {
		case !isArray:
			v.report(codeStructure, "expected "+el.extName+" to be an array, got "+kindOf(ext))
		case len(a) == 0:
			v.report(codeStructure, "an empty array is not allowed in "+el.extName)
		}
		exts = a
	}
	if len(vals) > 0 && len(exts) > 0 && len(vals) != len(exts) {
		v.report(codeStructure, el.name+" and "+el.extName+" must have the same length")
	}
	for i := 0; i < max(len(vals), len(exts)) && !v.full; i++ {
		var item, itemExt any
		hasItem, hasItemExt := i < len(vals), i < len(exts)
		if hasItem {
			item = vals[i]
		}
		if hasItemExt {
			itemExt = exts[i]
		}
		v.pushIndex(i)
		// In arrays of primitives, null keeps the values and their
		// extensions aligned: it may stand where the other array has
		// something, nowhere else.
		if hasItem && item == nil && el.prim != nil && itemExt != nil {
			hasItem = false
		}
		if hasItemExt && itemExt == nil && item != nil {
			hasItemExt = false
		}
		switch {
		case hasItem && item == nil && hasItemExt && itemExt == nil:
			v.report(codeStructure, "null in both "+el.name+" and "+el.extName)
			hasItem, hasItemExt = false, false
		case hasItemExt && itemExt == nil:
			v.report(codeStructure, "null in "+el.extName+" where "+el.name+" has no value either")
			hasItemExt = false
		case hasItem && item == nil && el.prim != nil:
			v.report(codeStructure, "null in "+el.name+" where "+el.extName+" has no extension")
			hasItem = false
		}
		v.single(el, item, hasItem, itemExt, hasItemExt)
		v.pop()
	}
}

func singleOf(el *elementDef) string {
	switch {
	case el.prim != nil && el.typeName == el.prim.json.String():
		return "a " + el.typeName
	case el.prim != nil:
		return "a " + el.prim.json.String() + " (" + el.typeName + ")"
	case el.resource:
		return "a resource object"
	}
	return "a " + el.typeName + " object"
}

// single checks one value and its primitive extensions.
func (v *validator) single(el *elementDef, val any, hasVal bool, ext any, hasExt bool) {
	if hasExt {
		v.companion(el, ext)
	}
	if !hasVal {
		return
	}
	switch {
	case val == nil:
		v.report(codeStructure, "null is not allowed")
	case el.prim != nil:
		v.primitive(el, val)
	default:
		obj, isObject := val.(map[string]any)
		switch {
		case !isObject:
			v.report(codeStructure, "expected "+singleOf(el)+", got "+kindOf(val))
		case len(obj) == 0:
			v.report(codeStructure, "an empty object is not allowed")
		case el.resource:
			v.contained(obj)
		default:
			v.object(obj, el.complex)
		}
	}
}

// companion checks the `_name` object holding the id and extensions of a
// primitive. Its content is reported at the element itself, as FHIRPath
// sees it (Patient.birthDate.extension[0]).
func (v *validator) companion(el *elementDef, ext any) {
	obj, isObject := ext.(map[string]any)
	switch {
	case ext == nil:
		v.report(codeStructure, "null is not allowed in "+el.extName)
	case !isObject:
		v.report(codeStructure, "expected "+el.extName+" to hold an object, got "+kindOf(ext))
	case len(obj) == 0:
		v.report(codeStructure, "an empty object is not allowed in "+el.extName)
	default:
		v.object(obj, v.defs.element)
	}
}

// contained checks a contained resource: one of the supported types, and
// without contained resources of its own (dom-2).
func (v *validator) contained(obj map[string]any) {
	val, present := obj["resourceType"]
	rt, isString := val.(string)
	switch {
	case !present:
		v.push("resourceType")
		v.report(codeRequired, "resourceType is missing")
		v.pop()
		return
	case !isString:
		v.push("resourceType")
		v.report(codeStructure, "expected a string, got "+kindOf(val))
		v.pop()
		return
	}
	t := v.defs.types[rt]
	if t == nil || !t.resource {
		v.report(codeNotSupported, "contained resources must be of a supported type: "+strings.Join(SupportedTypes, ", "))
		return
	}
	if _, nested := obj["contained"]; nested {
		v.push("contained")
		v.report(codeInvariant, "a contained resource cannot contain resources (dom-2)")
		v.pop()
		// Do not walk them: nesting would otherwise be bounded only by depth.
		obj = withoutContained(obj)
	}
	v.object(obj, t)
}

func withoutContained(obj map[string]any) map[string]any {
	c := make(map[string]any, len(obj))
	for k, val := range obj {
		if k != "contained" {
			c[k] = val
		}
	}
	return c
}

// primitive checks a primitive value: JSON kind, lexical form, range, and
// required codes.
func (v *validator) primitive(el *elementDef, val any) {
	p := el.prim
	var lit string
	switch p.json {
	case jsonBoolean:
		if _, ok := val.(bool); !ok {
			v.report(codeStructure, "expected "+singleOf(el)+", got "+kindOf(val))
		}
		return
	case jsonNumber:
		n, ok := val.(json.Number)
		if !ok {
			v.report(codeStructure, "expected "+singleOf(el)+", got "+kindOf(val))
			return
		}
		lit = string(n)
	default:
		s, ok := val.(string)
		if !ok {
			v.report(codeStructure, "expected "+singleOf(el)+", got "+kindOf(val))
			return
		}
		if s == "" {
			v.report(codeValue, "an empty string is not allowed")
			return
		}
		lit = s
	}
	if !p.matches(lit) {
		v.report(codeValue, "not a valid "+p.name+formatHint(p.name))
		return
	}
	switch p.name {
	case "integer", "positiveInt", "unsignedInt":
		if _, err := strconv.ParseInt(lit, 10, 32); err != nil {
			v.report(codeValue, p.name+" out of range: FHIR integers are 32-bit")
			return
		}
	case "date", "dateTime", "instant":
		if !realDate(lit) {
			v.report(codeValue, "not a valid "+p.name+": no such day in the calendar")
			return
		}
	case "xhtml":
		if code, problem := checkNarrative(lit); problem != "" {
			v.report(code, problem)
			return
		}
	}
	if el.enum != nil && !slices.Contains(el.enum, lit) {
		v.report(codeValue, "the code is not one of "+strings.Join(el.enum, ", "))
	}
}

func formatHint(name string) string {
	switch name {
	case "date":
		return " (YYYY, YYYY-MM or YYYY-MM-DD)"
	case "dateTime":
		return " (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss with a time zone)"
	case "instant":
		return " (YYYY-MM-DDThh:mm:ss with a time zone)"
	case "time":
		return " (hh:mm:ss)"
	case "id":
		return " (1 to 64 letters, digits, '-' and '.')"
	case "code":
		return " (no leading, trailing or repeated whitespace)"
	case "uri", "url", "canonical":
		return " (no whitespace)"
	case "integer":
		return " (a whole number)"
	case "positiveInt":
		return " (a whole number above 0)"
	case "unsignedInt":
		return " (a whole number, 0 or above)"
	case "string", "markdown":
		return " (no form feed)"
	}
	return ""
}

// realDate reports whether the date part of a date, dateTime or instant
// that matched its pattern names a day that exists.
func realDate(lit string) bool {
	if len(lit) < 10 {
		return true // a year, or a year and month
	}
	year, _ := strconv.Atoi(lit[0:4])
	month, _ := strconv.Atoi(lit[5:7])
	day, _ := strconv.Atoi(lit[8:10])
	days := [13]int{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[month]
	if month == 2 && (year%4 == 0 && year%100 != 0 || year%400 == 0) {
		days = 29
	}
	return day <= days
}
