package tokenizer

import "unicode/utf8"

// byteToRune is GPT-2's bytes_to_unicode table: every byte maps to one
// printable rune. The printable bytes '!'..'~', '¡'..'¬' and '®'..'ÿ' map to
// themselves; the other 68 bytes (controls, space, DEL, NBSP, soft hyphen)
// map, in increasing byte order, to U+0100, U+0101, ... U+0143.
var byteToRune [256]rune

// byteToString[b] is string(byteToRune[b]), kept to build words without
// encoding runes one by one.
var byteToString [256]string

// runeToByte inverts byteToRune; -1 where a rune is not in the table. The
// table's runes are all below 0x144.
var runeToByte [0x144]int16

func init() {
	for i := range runeToByte {
		runeToByte[i] = -1
	}
	n := rune(0)
	for b := 0; b < 256; b++ {
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		r := rune(b)
		if !printable {
			r = 256 + n
			n++
		}
		byteToRune[b] = r
		byteToString[b] = string(r)
		runeToByte[r] = int16(b)
	}
}

// byteLevelEncode appends the byte-level form of s (each byte replaced by its
// byteToRune rune) to dst.
func byteLevelEncode(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		dst = append(dst, byteToString[s[i]]...)
	}
	return dst
}

// byteLevelDecodeToken appends the bytes a byte-level token stands for. As in
// Hugging Face's ByteLevel decoder, a token holding any rune outside the table
// (an added token such as "hello world" or "猫咪") contributes its own UTF-8
// bytes unchanged.
func byteLevelDecodeToken(dst []byte, tok string) []byte {
	start := len(dst)
	for _, r := range tok {
		if r >= 0 && int(r) < len(runeToByte) && runeToByte[r] >= 0 {
			dst = append(dst, byte(runeToByte[r]))
			continue
		}
		return append(dst[:start], tok...)
	}
	return dst
}

// lossyUTF8 converts b to a string the way Rust's String::from_utf8_lossy
// does: every maximal prefix of an ill-formed sequence (1 to 3 bytes, per the
// Unicode "substitution of maximal subparts" practice) becomes one U+FFFD.
// Go's own conversions differ (strings.ToValidUTF8 folds whole runs; ranging
// a string yields one U+FFFD per byte), so this is written out.
func lossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	i := 0
	at := func(k int) byte {
		if k < len(b) {
			return b[k]
		}
		return 0
	}
	isCont := func(c byte) bool { return c&0xC0 == 0x80 }
	for i < len(b) {
		c := b[i]
		if c < 0x80 {
			out = append(out, c)
			i++
			continue
		}
		bad := 0 // length of an ill-formed prefix; 0 when a whole rune is valid
		w := 0
		switch {
		case c >= 0xC2 && c <= 0xDF:
			w = 2
			if !isCont(at(i + 1)) {
				bad = 1
			}
		case c >= 0xE0 && c <= 0xEF:
			w = 3
			c1 := at(i + 1)
			ok := (c == 0xE0 && c1 >= 0xA0 && c1 <= 0xBF) || (c >= 0xE1 && c <= 0xEC && isCont(c1)) ||
				(c == 0xED && c1 >= 0x80 && c1 <= 0x9F) || (c >= 0xEE && isCont(c1))
			switch {
			case !ok:
				bad = 1
			case !isCont(at(i + 2)):
				bad = 2
			}
		case c >= 0xF0 && c <= 0xF4:
			w = 4
			c1 := at(i + 1)
			ok := (c == 0xF0 && c1 >= 0x90 && c1 <= 0xBF) || (c >= 0xF1 && c <= 0xF3 && isCont(c1)) ||
				(c == 0xF4 && c1 >= 0x80 && c1 <= 0x8F)
			switch {
			case !ok:
				bad = 1
			case !isCont(at(i + 2)):
				bad = 2
			case !isCont(at(i + 3)):
				bad = 3
			}
		default:
			bad = 1
		}
		if bad > 0 {
			out = append(out, "\uFFFD"...)
			i += bad
			continue
		}
		out = append(out, b[i:i+w]...)
		i += w
	}
	return string(out)
}
