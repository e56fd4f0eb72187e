package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Part is one item of a message whose content is a list, as Hugging Face
// processors take it: {"type": "text", "text": "..."}, {"type": "image"},
// {"type": "video"}.
type Part struct {
	Type string // "text", "image", "video", ...
	Text string // for Type "text"
	// Extra holds the item's other keys (for example "url" or "path"), in
	// order. Values are Go values or json.RawMessage.
	Extra []Field
}

// Field is one key of a dictionary whose key order matters (tojson keeps it).
type Field struct {
	Key   string
	Value any
}

// TextPart returns {"type": "text", "text": s}.
func TextPart(s string) Part { return Part{Type: "text", Text: s} }

// ImagePart returns {"type": "image"}: the image placeholder item. The
// LLaVA-OneVision processor template renders it as "<image>".
func ImagePart() Part { return Part{Type: "image"} }

// VideoPart returns {"type": "video"}.
func VideoPart() Part { return Part{Type: "video"} }

// ToolCall is one entry of an assistant message's "tool_calls", rendered as
// {"id": ID (if set), "type": Type (default "function"), "function": {"name": Name, "arguments": Arguments}}.
type ToolCall struct {
	ID   string
	Type string
	Name string
	// Arguments is JSON: an object (the usual case, rendered as a mapping whose
	// key order is kept) or a string holding JSON text (rendered as a string).
	Arguments json.RawMessage
}

// Message is one turn of a conversation.
//
// Its content is a plain string (Text) when Parts is nil, and a list of
// items (Parts) otherwise; templates see exactly one of the two shapes, as
// with transformers, where message["content"] is whatever the caller passed.
type Message struct {
	Role      string
	Text      string
	Parts     []Part
	ToolCalls []ToolCall
	// Extra holds other keys of the message (for example "reasoning_content",
	// "name", "tool_call_id"), in order. Values are Go values or json.RawMessage.
	Extra []Field
}

// Text returns a message whose content is the string s.
func Text(role, s string) Message { return Message{Role: role, Text: s} }

// Parts returns a message whose content is the list parts.
func Parts(role string, parts ...Part) Message {
	if parts == nil {
		parts = []Part{}
	}
	return Message{Role: role, Parts: parts}
}

// UnmarshalJSON reads a message in the Hugging Face / OpenAI shape:
// {"role": ..., "content": "..." | [{"type": ...}, ...], "tool_calls": [...], ...}.
func (m *Message) UnmarshalJSON(b []byte) error {
	fields, err := orderedObject(b)
	if err != nil {
		return fmt.Errorf("message: %w", err)
	}
	*m = Message{}
	for _, f := range fields {
		raw := f.Value.(json.RawMessage)
		switch f.Key {
		case "role":
			if err := json.Unmarshal(raw, &m.Role); err != nil {
				return fmt.Errorf("message: role: %w", err)
			}
		case "content":
			switch firstByte(raw) {
			case '"':
				if err := json.Unmarshal(raw, &m.Text); err != nil {
					return fmt.Errorf("message: content: %w", err)
				}
			case '[':
				var items []json.RawMessage
				if err := json.Unmarshal(raw, &items); err != nil {
					return fmt.Errorf("message: content: %w", err)
				}
				m.Parts = make([]Part, 0, len(items))
				for i, it := range items {
					var p Part
					if err := p.UnmarshalJSON(it); err != nil {
						return fmt.Errorf("message: content[%d]: %w", i, err)
					}
					m.Parts = append(m.Parts, p)
				}
			default:
				return fmt.Errorf("message: content: want a string or a list, got %s", abbrev(raw))
			}
		case "tool_calls":
			var calls []json.RawMessage
			if err := json.Unmarshal(raw, &calls); err != nil {
				return fmt.Errorf("message: tool_calls: %w", err)
			}
			for i, c := range calls {
				tc, err := parseToolCall(c)
				if err != nil {
					return fmt.Errorf("message: tool_calls[%d]: %w", i, err)
				}
				m.ToolCalls = append(m.ToolCalls, tc)
			}
		default:
			m.Extra = append(m.Extra, f)
		}
	}
	return nil
}

// UnmarshalJSON reads one content item.
func (p *Part) UnmarshalJSON(b []byte) error {
	fields, err := orderedObject(b)
	if err != nil {
		return err
	}
	*p = Part{}
	for _, f := range fields {
		raw := f.Value.(json.RawMessage)
		switch f.Key {
		case "type":
			if err := json.Unmarshal(raw, &p.Type); err != nil {
				return fmt.Errorf("type: %w", err)
			}
		case "text":
			if err := json.Unmarshal(raw, &p.Text); err != nil {
				return fmt.Errorf("text: %w", err)
			}
		default:
			p.Extra = append(p.Extra, f)
		}
	}
	return nil
}

func parseToolCall(b []byte) (ToolCall, error) {
	var raw struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function *struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		} `json:"function"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return ToolCall{}, err
	}
	if raw.Function == nil {
		return ToolCall{}, errors.New(`missing "function"`)
	}
	return ToolCall{ID: raw.ID, Type: raw.Type, Name: raw.Function.Name, Arguments: raw.Function.Arguments}, nil
}

// orderedObject splits a JSON object into its fields, in order, each value a
// json.RawMessage.
func orderedObject(b []byte) ([]Field, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("want a JSON object, got %s", abbrev(b))
	}
	var out []Field
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := kt.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		out = append(out, Field{Key: key, Value: raw})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return out, nil
}

func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func abbrev(b []byte) string {
	s := string(bytes.TrimSpace(b))
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return s
}
