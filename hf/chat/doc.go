// Package chat renders Hugging Face chat templates (the Jinja "chat_template"
// of tokenizer_config.json, chat_template.json or chat_template.jinja) the way
// transformers' apply_chat_template(..., tokenize=False) does.
//
// The environment matches transformers' _compile_jinja_template:
// trim_blocks and lstrip_blocks on, the loopcontrols extension
// ({% break %}, {% continue %}), the {% generation %} block (rendered as its
// body), the filter tojson as json.dumps(ensure_ascii=False) with Python's
// ", " and ": " separators and key order kept, and the globals
// raise_exception(msg) (a *TemplateError) and strftime_now(fmt) (Options.Now).
// The variables are messages, tools and documents (None when not given),
// add_generation_prompt, the tokenizer's special tokens (bos_token,
// eos_token, ...) and any further Options.Vars.
//
// A message's content is either a string or a list of items such as
// {"type": "text", "text": ...} and {"type": "image"}; LLaVA-OneVision's
// processor template renders each image item as "<image>".
//
// Rendering uses github.com/ardanlabs/jinja, a pure-Go Jinja engine written
// for chat templates. Its output is checked byte for byte against Python
// Jinja2 (testdata/gen_goldens.py writes testdata/goldens.json) on the
// Qwen2, Qwen2.5, Qwen3 and LLaVA-OneVision templates.
//
// Known differences from transformers, none reached by those templates:
// tojson(indent=...) is refused by Compile (ErrUnsupported) because the
// library formats it with Go's encoding/json; tojson writes a float with an
// integral value as "1", not "1.0", and escapes U+2028/U+2029; printing None
// gives "" where Python gives "None"; adding a string and a list (a list
// content in a text-only template) renders the list's repr where Python
// raises TypeError. Callers should pass string content to text templates.
package chat
