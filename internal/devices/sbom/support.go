package sbom

import (
	"strings"
	"time"
)

// supportField names the FDA premarket field a property or annotation key
// stands for. Neither CycloneDX (up to 1.7) nor SPDX 2.3 has a field for
// them, so manufacturers write them as CycloneDX component properties or
// SPDX package annotations (or comment lines) of the form "key: value".
// The key is read without regard to case, separators or a namespace
// prefix (the part after the last ":", "." or "/"), so
// "fda:levelOfSupport", "Level of Support" and "level_of_support" are one
// key:
//
//   - level of support: levelofsupport, supportlevel, softwaresupportlevel,
//     componentsupportlevel, supportstatus;
//   - end of support: endofsupport, endofsupportdate, supportendofsupport,
//     supportenddate, eos, eosdate.
//
// End of life is deliberately not read as end of support: the FDA's field
// is the date security patches stop, which vendors' "end of life" often is
// not.
func supportField(key string) (level, end bool) {
	if i := strings.LastIndexAny(key, ":./"); i >= 0 {
		key = key[i+1:]
	}
	var b strings.Builder
	for _, r := range strings.ToLower(key) {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' {
			b.WriteRune(r)
		}
	}
	switch b.String() {
	case "levelofsupport", "supportlevel", "softwaresupportlevel", "componentsupportlevel", "supportstatus":
		return true, false
	case "endofsupport", "endofsupportdate", "supportendofsupport", "supportenddate", "eos", "eosdate":
		return false, true
	}
	return false, false
}

// support applies one key/value pair to c when the key is a support field;
// the first value given for a field wins.
func (b *builder) support(c *Component, key, value, where string) bool {
	level, end := supportField(key)
	value = strings.TrimSpace(value)
	switch {
	case value == "":
		return false
	case level:
		if c.LevelOfSupport == "" {
			c.LevelOfSupport = value
		}
		return true
	case end:
		if c.EndOfSupport != "" {
			return true
		}
		c.EndOfSupport = value
		if t, ok := parseDate(value); ok {
			c.EndOfSupportDate = t
		} else if !noDate(value) {
			b.problem(BadEndOfSupport, c, "end of support %q (from %s) is not a date such as 2030-12-31", value, where)
		}
		return true
	}
	return false
}

// supportFromText reads "key: value" or "key=value" lines (SPDX annotation
// comments and package comments). A key may itself hold ":" as a
// namespace separator, so every ":" and "=" is tried as the split.
func (b *builder) supportFromText(c *Component, text, where string) {
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		for i := 0; i < len(line); i++ {
			if line[i] != ':' && line[i] != '=' {
				continue
			}
			if b.support(c, line[:i], line[i+1:], where) {
				break
			}
		}
	}
}

func parseDate(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02", time.RFC3339, "2006-01"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// noDate reports values that say plainly there is no date.
func noDate(s string) bool {
	switch strings.ToLower(s) {
	case "n/a", "na", "none", "unknown", "noassertion", "tbd", "-", "not applicable":
		return true
	}
	return false
}
