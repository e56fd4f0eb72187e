package world

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Caption writes a detailed description of the scene: how many objects,
// every object with its size, colour, shape and cell ("second row, third
// column"), one or two relations between objects, and the sign's text.
// Wording, sentence templates and object order vary with rng; the noun
// phrase "<size> <colour> <shape>" and the position name always appear
// verbatim, so Attributes can be matched against the text.
func (s *Scene) Caption(rng *rand.Rand) string {
	var sent []string
	n := len(s.Objects)
	noun := []string{"object", "shape"}[rng.IntN(2)]
	if n != 1 {
		noun += "s"
	}
	count := numberWord(n)
	switch rng.IntN(4) {
	case 0:
		sent = append(sent, fmt.Sprintf("The image shows %s %s on a plain background.", count, noun))
	case 1:
		sent = append(sent, fmt.Sprintf("There %s %s %s in this picture.", isAre(n), count, noun))
	case 2:
		sent = append(sent, fmt.Sprintf("This image contains %s %s arranged on a four by four grid.", count, noun))
		if s.Config.Grid != 4 {
			sent[0] = fmt.Sprintf("This image contains %s %s arranged on a grid.", count, noun)
		}
	default:
		sent = append(sent, fmt.Sprintf("In this picture we can see %s %s.", count, noun))
	}

	order := s.readingOrder()
	switch rng.IntN(5) {
	case 0, 1: // reading order
	case 2, 3:
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	default: // large objects first, reading order within a size
		var large, small []int
		for _, i := range order {
			if s.Objects[i].Size == "large" {
				large = append(large, i)
			} else {
				small = append(small, i)
			}
		}
		order = append(large, small...)
	}
	for k := 0; k < len(order); k++ {
		o := s.Objects[order[k]]
		if k+1 < len(order) && rng.IntN(4) == 0 {
			p := s.Objects[order[k+1]]
			sent = append(sent, fmt.Sprintf("There is %s in the %s and %s in the %s.",
				withArticle(o.Phrase()), o.Position(), withArticle(p.Phrase()), p.Position()))
			k++
			continue
		}
		sent = append(sent, objectSentence(rng, o))
	}

	if n >= 2 {
		rel := 1 + rng.IntN(2)
		prev := [2]int{-1, -1}
		for r := 0; r < rel; r++ {
			i := rng.IntN(n)
			j := rng.IntN(n - 1)
			if j >= i {
				j++
			}
			if (i == prev[0] && j == prev[1]) || (i == prev[1] && j == prev[0]) {
				continue // the same pair again
			}
			prev = [2]int{i, j}
			a, b := s.Objects[i], s.Objects[j]
			d := Directions[direction(a.Row, a.Col, b.Row, b.Col)]
			if rng.IntN(2) == 0 {
				sent = append(sent, fmt.Sprintf("%s is %s %s.", capitalize(a.Name()), d, b.Name()))
			} else {
				sent = append(sent, fmt.Sprintf("Seen from %s, %s is %s it.", b.Name(), a.Name(), d))
			}
		}
	}

	// A colour shared by several objects.
	for _, c := range Colors {
		k := s.count(func(o Object) bool { return o.Color == c })
		if k >= 2 && rng.IntN(2) == 0 {
			sent = append(sent, fmt.Sprintf("%s of the objects are %s.", capitalize(numberWord(k)), c))
			break
		}
	}

	if sg := s.Sign; sg != nil {
		row := ordinals[sg.Row]
		switch rng.IntN(3) {
		case 0:
			sent = append(sent, fmt.Sprintf("A sign in the %s row reads %q.", row, sg.Text))
		case 1:
			sent = append(sent, fmt.Sprintf("There is a white sign with the text %q in the %s row.", sg.Text, row))
		default:
			sent = append(sent, fmt.Sprintf("The sign in the %s row says %q.", row, sg.Text))
		}
	}
	return strings.Join(sent, " ")
}

func objectSentence(rng *rand.Rand, o Object) string {
	np, pos := withArticle(o.Phrase()), o.Position()
	switch rng.IntN(6) {
	case 0:
		return fmt.Sprintf("%s is in the %s.", capitalize(np), pos)
	case 1:
		return fmt.Sprintf("In the %s there is %s.", pos, np)
	case 2:
		return fmt.Sprintf("There is %s in the %s.", np, pos)
	case 3:
		return fmt.Sprintf("The cell in the %s holds %s.", pos, np)
	case 4:
		return fmt.Sprintf("%s sits in the %s.", capitalize(np), pos)
	default:
		return fmt.Sprintf("You can see %s in the %s.", np, pos)
	}
}

func withArticle(phrase string) string { return article(phrase) + " " + phrase }

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// Attributes lists what a caption of the scene must mention, for scoring a
// generated caption by recall: each object's noun phrase ("large red
// star") and position name ("second row, third column"), and the sign's
// text. Every Caption contains every attribute verbatim.
func (s *Scene) Attributes() []string {
	var out []string
	seen := map[string]bool{}
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, i := range s.readingOrder() {
		o := s.Objects[i]
		add(o.Phrase())
		add(o.Position())
	}
	if s.Sign != nil {
		add(s.Sign.Text)
	}
	return out
}
