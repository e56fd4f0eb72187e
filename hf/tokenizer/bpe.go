package tokenizer

import (
	"fmt"
	"strings"
	"sync"
)

// mergeInfo is what a merge rule produces: its rank (position in the merges
// list, lower merges first) and the id of the merged token.
type mergeInfo struct {
	rank  int32
	newID int32
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// bpe is the BPE model of a tokenizer.json.
type bpe struct {
	vocab    map[string]int32
	idToTok  []string // index = id; "" with hasID false where no token has that id
	hasID    []bool
	merges   map[uint64]mergeInfo
	mergeSrc [][2]string // the merges in file order, for serialization

	// Options, as in the file. Pointers are nil where the file has null.
	dropout      *float64
	unkToken     *string
	contPrefix   *string
	eowSuffix    *string
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool

	unkID int32 // -1 without an unk token

	// Word cache: pre-token (before the byte-level mapping) -> ids.
	mu    sync.RWMutex
	cache map[string][]int
}

// maxCacheWords bounds the word cache; once full, new words are not cached.
const maxCacheWords = 1 << 18

func newBPE(vocab map[string]int, merges [][2]string, field string) (*bpe, error) {
	m := &bpe{
		vocab:    make(map[string]int32, len(vocab)),
		merges:   make(map[uint64]mergeInfo, len(merges)),
		mergeSrc: merges,
		unkID:    -1,
		cache:    make(map[string][]int),
	}
	maxID := -1
	for tok, id := range vocab {
		if id < 0 || id > 1<<30 {
			return nil, fmt.Errorf("%s.vocab[%q]: id %d out of range", field, tok, id)
		}
		m.vocab[tok] = int32(id)
		if id > maxID {
			maxID = id
		}
	}
	m.idToTok = make([]string, maxID+1)
	m.hasID = make([]bool, maxID+1)
	for tok, id := range vocab {
		// Two tokens with one id: keep the smaller string, so the choice does
		// not depend on map order.
		if !m.hasID[id] || tok < m.idToTok[id] {
			m.idToTok[id] = tok
			m.hasID[id] = true
		}
	}
	return m, nil
}

// buildMerges fills the merge table; it needs contPrefix to be set.
func (m *bpe) buildMerges(field string) error {
	prefixLen := 0
	if m.contPrefix != nil {
		prefixLen = len(*m.contPrefix)
	}
	for i, p := range m.mergeSrc {
		a, ok := m.vocab[p[0]]
		if !ok {
			return fmt.Errorf("%s.merges[%d]: token %q is not in the vocab", field, i, p[0])
		}
		b, ok := m.vocab[p[1]]
		if !ok {
			return fmt.Errorf("%s.merges[%d]: token %q is not in the vocab", field, i, p[1])
		}
		if len(p[1]) < prefixLen {
			return fmt.Errorf("%s.merges[%d]: token %q is shorter than continuing_subword_prefix", field, i, p[1])
		}
		merged := p[0] + p[1][prefixLen:]
		c, ok := m.vocab[merged]
		if !ok {
			return fmt.Errorf("%s.merges[%d]: merged token %q is not in the vocab", field, i, merged)
		}
		// A repeated pair takes its last rank, as a Rust HashMap built
		// from the list does.
		m.merges[pairKey(a, b)] = mergeInfo{rank: int32(i), newID: c}
	}
	if m.unkToken != nil {
		id, ok := m.vocab[*m.unkToken]
		if !ok {
			return fmt.Errorf("%s.unk_token: %q is not in the vocab", field, *m.unkToken)
		}
		m.unkID = id
	}
	return nil
}

func (m *bpe) idToToken(id int) (string, bool) {
	if id < 0 || id >= len(m.idToTok) || !m.hasID[id] {
		return "", false
	}
	return m.idToTok[id], true
}

// symbol is one node of the doubly linked list a word is merged in.
type symbol struct {
	id         int32
	prev, next int32
	size       int32 // bytes of the word it covers; 0 once merged away
}

// mergeItem is a candidate merge of symbol pos with its successor.
type mergeItem struct {
	rank, pos, newID int32
}

func (a mergeItem) less(b mergeItem) bool {
	return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos)
}

// mergeHeap is a binary min-heap ordered by (rank, pos).
type mergeHeap []mergeItem

func (h *mergeHeap) push(x mergeItem) {
	*h = append(*h, x)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !s[i].less(s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *mergeHeap) pop() mergeItem {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(s) {
			break
		}
		c := l
		if r := l + 1; r < len(s) && s[r].less(s[l]) {
			c = r
		}
		if !s[c].less(s[i]) {
			break
		}
		s[i], s[c] = s[c], s[i]
		i = c
	}
	*h = s
	return top
}

// tokenizeWord returns the ids of one pre-token word (already in its
// byte-level form). See doc.go for the algorithm.
func (m *bpe) tokenizeWord(word string, dst []int) []int {
	if word == "" {
		return dst
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[word]; ok {
			return append(dst, int(id))
		}
	}
	syms := make([]symbol, 0, len(word))
	unkID, unkLen := int32(-1), int32(0)
	plain := (m.contPrefix == nil || *m.contPrefix == "") && (m.eowSuffix == nil || *m.eowSuffix == "")
	for i := 0; i < len(word); {
		_, n := runeAt(word, i)
		var id int32
		var ok bool
		if plain {
			id, ok = m.vocab[word[i:i+n]]
		} else {
			s := word[i : i+n]
			if i > 0 && m.contPrefix != nil {
				s = *m.contPrefix + s
			}
			if i+n == len(word) && m.eowSuffix != nil {
				s += *m.eowSuffix
			}
			id, ok = m.vocab[s]
		}
		if ok {
			if unkID >= 0 {
				syms = append(syms, symbol{id: unkID, size: unkLen})
				unkID = -1
			}
			syms = append(syms, symbol{id: id, size: int32(n)})
		} else if m.unkID >= 0 {
			// Unknown rune: the unk token, fused with a preceding one
			// when fuse_unk is set. Without unk_token the rune is dropped,
			// as in Hugging Face.
			if unkID >= 0 && m.fuseUnk {
				unkLen += int32(n)
			} else {
				if unkID >= 0 {
					syms = append(syms, symbol{id: unkID, size: unkLen})
				}
				unkID, unkLen = m.unkID, int32(n)
			}
		}
		i += n
	}
	if unkID >= 0 {
		syms = append(syms, symbol{id: unkID, size: unkLen})
	}
	for i := range syms {
		syms[i].prev = int32(i - 1)
		syms[i].next = int32(i + 1)
	}
	if len(syms) > 0 {
		syms[len(syms)-1].next = -1
	}
	if len(syms) > 1 {
		h := make(mergeHeap, 0, len(syms))
		for i := 0; i+1 < len(syms); i++ {
			if mi, ok := m.merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
				h.push(mergeItem{rank: mi.rank, pos: int32(i), newID: mi.newID})
			}
		}
		for len(h) > 0 {
			top := h.pop()
			cur := &syms[top.pos]
			if cur.size == 0 || cur.next < 0 {
				continue
			}
			nextPos := cur.next
			right := syms[nextPos]
			// Skip stale entries: the pair at pos has changed since.
			if mi, ok := m.merges[pairKey(cur.id, right.id)]; !ok || mi.newID != top.newID {
				continue
			}
			cur.id = top.newID
			cur.size += right.size
			cur.next = right.next
			syms[nextPos].size = 0
			if right.next >= 0 {
				syms[right.next].prev = top.pos
			}
			if cur.prev >= 0 {
				if mi, ok := m.merges[pairKey(syms[cur.prev].id, cur.id)]; ok {
					h.push(mergeItem{rank: mi.rank, pos: cur.prev, newID: mi.newID})
				}
			}
			if cur.next >= 0 {
				if mi, ok := m.merges[pairKey(cur.id, syms[cur.next].id)]; ok {
					h.push(mergeItem{rank: mi.rank, pos: top.pos, newID: mi.newID})
				}
			}
		}
	}
	for _, s := range syms {
		if s.size != 0 {
			dst = append(dst, int(s.id))
		}
	}
	return dst
}

// encodePiece appends the ids of one pre-token. raw is the piece as cut from
// the text; byteLevel says whether it is mapped through byteToRune first.
// Results are cached per raw piece.
func (m *bpe) encodePiece(raw string, byteLevel bool, dst []int, buf *[]byte) []int {
	m.mu.RLock()
	ids, ok := m.cache[raw]
	m.mu.RUnlock()
	if ok {
		return append(dst, ids...)
	}
	word := raw
	if byteLevel {
		*buf = byteLevelEncode((*buf)[:0], raw)
		word = string(*buf)
	}
	start := len(dst)
	dst = m.tokenizeWord(word, dst)
	m.mu.Lock()
	if len(m.cache) < maxCacheWords {
		m.cache[strings.Clone(raw)] = append([]int(nil), dst[start:]...)
	}
	m.mu.Unlock()
	return dst
}
