package records

import (
	"bytes"
	"encoding/json"
)

// keyScan is what scanKeys finds.
type keyScan struct {
	tooDeep bool
	dups    []string // expressions after the resource type, e.g. ".name[0].family"
}

// scanFrame is one open object or array.
type scanFrame struct {
	object    bool
	expectKey bool
	key       []byte // the current key of an object
	index     int    // the current index of an array
	keysFrom  int    // where this object's keys start in the shared stack
	set       map[string]struct{}
}

// manyKeys is the size above which an object's keys are checked through a
// map rather than by comparing each with each.
const manyKeys = 16

// scanKeys finds what encoding/json hides: keys that appear twice in one
// object (json keeps the last, so two readers of the same text could see
// different resources) and nesting deeper than maxDepth. It runs before
// decoding so that deep input never reaches the recursive decoder. It only
// looks at strings and brackets; on text that is not JSON it stops or finds
// nonsense, which does not matter because the decoder then reports the
// syntax error and the dups are dropped.
//
// json.Decoder.Token could see the same, but costs more than the rest of
// validation together (every scalar it returns builds an error message
// inside encoding/json).
func scanKeys(raw []byte) keyScan {
	var out keyScan
	var frames []scanFrame
	var keys [][]byte
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '{', '[':
			if len(frames) >= maxDepth {
				out.tooDeep = true
				return out
			}
			frames = append(frames, scanFrame{object: raw[i] == '{', expectKey: raw[i] == '{', keysFrom: len(keys)})
		case '}', ']':
			if len(frames) == 0 {
				return out
			}
			keys = keys[:frames[len(frames)-1].keysFrom]
			frames = frames[:len(frames)-1]
		case ',':
			if len(frames) > 0 {
				f := &frames[len(frames)-1]
				f.expectKey = f.object
				f.index++
			}
		case '"':
			end, escaped := stringEnd(raw, i)
			if end < 0 {
				return out
			}
			if len(frames) > 0 && frames[len(frames)-1].expectKey {
				f := &frames[len(frames)-1]
				f.expectKey = false
				key := raw[i+1 : end]
				if escaped {
					var s string
					if json.Unmarshal(raw[i:end+1], &s) != nil {
						return out
					}
					key = []byte(s)
				}
				f.key = key
				if seenKey(f, keys[f.keysFrom:], key) {
					out.dups = append(out.dups, framesExpression(frames))
				}
				keys = append(keys, key)
			}
			i = end
		}
	}
	return out
}

// stringEnd returns the index of the quote closing the string that opens
// at raw[start], and whether it holds escapes; -1 when it does not close.
func stringEnd(raw []byte, start int) (int, bool) {
	escaped := false
	for j := start + 1; j < len(raw); j++ {
		switch raw[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j, escaped
		}
	}
	return -1, escaped
}

func seenKey(f *scanFrame, keys [][]byte, key []byte) bool {
	if f.set == nil && len(keys) < manyKeys {
		for _, k := range keys {
			if bytes.Equal(k, key) {
				return true
			}
		}
		return false
	}
	if f.set == nil {
		f.set = make(map[string]struct{}, 2*len(keys))
		for _, k := range keys {
			f.set[string(k)] = struct{}{}
		}
	}
	if _, ok := f.set[string(key)]; ok {
		return true
	}
	f.set[string(key)] = struct{}{}
	return false
}

// framesExpression renders the position of the current key.
func framesExpression(frames []scanFrame) string {
	path := make([]pathSeg, 0, len(frames))
	for _, f := range frames {
		if f.object {
			name := string(f.key)
			if name == "" {
				name = "?" // an empty key is no name, and must not read as an index
			}
			path = append(path, pathSeg{name: name})
		} else {
			path = append(path, pathSeg{index: f.index})
		}
	}
	return relativeExpression(path)
}
