package reconcile

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unsafe"
)

// Keys are encoded into one byte string whose bytewise order is the order
// both sides are sorted in, and whose equality is key equality. The order
// only has to be the same for both sides, and it is, because the encoding is
// a function of the key's text alone: the databases' collations play no part.
//
// Each component is either
//
//	0x01 + 8 bytes big-endian (value XOR 1<<63)  for a canonical int64 text
//	0x02 + text with 0x00 escaped as 0x00 0xFF, then 0x00 0x01
//	0x03 + canonical decimal text, then 0x00 0x01      for an int key beyond 64 bits
//
// so integers sort numerically (42 before 100) and a text sorts before any
// longer text it prefixes. "042" is not canonical, so it stays text and does
// not equal "42" unless the key column is declared `type: int`.
const (
	tagInt    = 0x01
	tagText   = 0x02
	tagBigInt = 0x03
)

// keyEncoder builds encoded keys from key columns, reusing one buffer.
type keyEncoder struct {
	cols  []KeyColumn
	norms []*normalizer
	buf   []byte
	// skipEmpty makes an empty component (after normalisation) unusable,
	// as NULL is: a match tier skips records with no value.
	skipEmpty bool
}

func newKeyEncoder(cols []KeyColumn) keyEncoder {
	e := keyEncoder{cols: cols, norms: make([]*normalizer, len(cols))}
	for i, c := range cols {
		e.norms[i] = newNormalizer(c.Normalize, c.Region, nil, nil)
	}
	return e
}

// keyError says why a record's key cannot be used; column is the index of
// the bad key column, or -1 when a component is NULL.
type keyError struct {
	column int
	null   bool
}

// encode returns the encoded key of raw key values, valid until the next
// call, or a keyError. exact reports whether decoding the key gives back
// the raw values, so that they need not be kept beside it.
func (e *keyEncoder) encode(raw [][]byte) (key []byte, exact bool, kerr *keyError) {
	e.buf = e.buf[:0]
	exact = true
	for i, c := range e.cols {
		v := raw[i]
		if v == nil {
			return nil, false, &keyError{column: i, null: true}
		}
		stored := unsafe.String(unsafe.SliceData(v), len(v)) // read only while encoding
		text := stored
		if n := e.norms[i]; n != nil {
			var err error
			if text, err = n.apply(text); err != nil {
				return nil, false, &keyError{column: i}
			}
			exact = exact && text == stored
		}
		if e.skipEmpty && strings.TrimSpace(text) == "" {
			return nil, false, &keyError{column: i, null: true}
		}
		if c.Type == Int {
			v, err := parseInteger(strings.TrimSpace(text))
			if err != nil {
				return nil, false, &keyError{column: i}
			}
			if v.big {
				// Beyond 64 bits the canonical text is the key: equal
				// numbers have one canonical text.
				canon := v.dec.String()
				e.buf = append(append(append(e.buf, tagBigInt), canon...), 0, 1)
				exact = exact && canon == text
				continue
			}
			e.buf = appendIntKey(e.buf, v.num)
			exact = exact && canonicalForm(text) // an int64 already
			continue
		}
		if n, ok := canonicalInt(text); ok {
			e.buf = appendIntKey(e.buf, n)
			continue
		}
		e.buf = append(e.buf, tagText)
		for j := 0; j < len(text); j++ {
			if text[j] == 0 {
				e.buf = append(e.buf, 0, 0xFF)
			} else {
				e.buf = append(e.buf, text[j])
			}
		}
		e.buf = append(e.buf, 0, 1)
	}
	return e.buf, exact, nil
}

// appendStoredKey encodes stored key values that differ from their encoded
// key's text (a key that was normalised, or an int key written " 042"), so
// that a Difference can say how each side stores the key.
func appendStoredKey(b []byte, raw [][]byte) []byte {
	for _, v := range raw {
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

// storedKey returns a record's stored key values: decoded from its stored
// key column, or, when that is nil, the compared key's own parts.
func storedKey(stored []byte, parts []string) ([][]byte, error) {
	out := make([][]byte, len(parts))
	if stored == nil {
		for i, p := range parts {
			out[i] = []byte(p)
		}
		return out, nil
	}
	for i := range out {
		n, w := binary.Uvarint(stored)
		if w <= 0 || uint64(len(stored)-w) < n {
			return nil, errCorruptSpill
		}
		out[i] = stored[w : w+int(n) : w+int(n)]
		stored = stored[w+int(n):]
	}
	return out, nil
}

func appendIntKey(b []byte, n int64) []byte {
	return binary.BigEndian.AppendUint64(append(b, tagInt), uint64(n)^(1<<63))
}

// canonicalInt reports whether s is an int64 written the one way
// strconv.FormatInt writes it: no sign but '-', no leading zeros, no spaces.
func canonicalInt(s string) (int64, bool) {
	if !canonicalForm(s) {
		return 0, false
	}
	if n, ok := smallInt(s); ok {
		return n, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// canonicalForm reports whether s is written as FormatInt writes an int64,
// its range aside: the checks ParseInt and FormatInt would make, without
// their allocations, since this runs for every key.
func canonicalForm(s string) bool {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || len(digits) > 19 || (digits[0] == '0' && (len(digits) > 1 || len(s) > 1)) {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}

// decodeKey turns an encoded key back into its components' text.
func decodeKey(k []byte) ([]string, error) {
	var parts []string
	for len(k) > 0 {
		switch k[0] {
		case tagInt:
			if len(k) < 9 {
				return nil, fmt.Errorf("truncated int key")
			}
			parts = append(parts, strconv.FormatInt(int64(binary.BigEndian.Uint64(k[1:9])^(1<<63)), 10))
			k = k[9:]
		case tagText, tagBigInt:
			var b bytes.Buffer
			i := 1
			for ; i+1 < len(k); i++ {
				if k[i] == 0 {
					if k[i+1] == 1 {
						break
					}
					b.WriteByte(0)
					i++
					continue
				}
				b.WriteByte(k[i])
			}
			if i+1 >= len(k) {
				return nil, fmt.Errorf("unterminated text key")
			}
			parts = append(parts, b.String())
			k = k[i+2:]
		default:
			return nil, fmt.Errorf("bad key tag %#x", k[0])
		}
	}
	return parts, nil
}

// keyText renders key components as the report's record_key: the text of a
// single-column key, or a JSON array of texts for a composite key.
func keyText(parts []string) string {
	if len(parts) == 1 {
		return parts[0]
	}
	b, _ := json.Marshal(parts) // a []string always marshals
	return string(b)
}
