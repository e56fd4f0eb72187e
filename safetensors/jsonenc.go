package safetensors

import (
	"strconv"
	"unicode/utf16"
)

// appendSerdeString appends s as a JSON string exactly as serde_json (the
// reference writer's encoder) writes it: '"' and '\\' escaped, the control
// characters U+0000..U+001F as \b \t \n \f \r or \u00xx (lowercase hex), and
// everything else, non-ASCII and DEL included, copied verbatim. s must be
// valid UTF-8 (Rust strings always are; Serialize checks).
func appendSerdeString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, '\\', '"')
		case '\\':
			b = append(b, '\\', '\\')
		case '\b':
			b = append(b, '\\', 'b')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\f':
			b = append(b, '\\', 'f')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendPythonString appends s as Python's json.dumps (ensure_ascii=True, the
// default) writes it: printable ASCII verbatim except '"' and '\\', the usual
// short escapes, and every other code point as \uxxxx (lowercase hex,
// surrogate pairs above U+FFFF). This is how transformers writes
// model.safetensors.index.json.
func appendPythonString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	u4 := func(b []byte, r rune) []byte {
		return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
	}
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"':
			b = append(b, '\\', '"')
		case r == '\\':
			b = append(b, '\\', '\\')
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\r':
			b = append(b, '\\', 'r')
		case r == '\t':
			b = append(b, '\\', 't')
		case r == '\b':
			b = append(b, '\\', 'b')
		case r == '\f':
			b = append(b, '\\', 'f')
		case r >= 0x20 && r < 0x7f:
			b = append(b, byte(r))
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			b = u4(u4(b, r1), r2)
		default:
			b = u4(b, r)
		}
	}
	return append(b, '"')
}

func appendUint(b []byte, v int64) []byte { return strconv.AppendInt(b, v, 10) }
