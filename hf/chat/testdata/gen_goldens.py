#!/usr/bin/env python3
"""Render the chat templates in templates/ with an independent implementation
(Python Jinja2) and write goldens.json for hf/chat's Go tests.

The Jinja environment replicates transformers' apply_chat_template
(transformers/utils/chat_template_utils.py, _compile_jinja_template):

    ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                  extensions=[AssistantTracker, loopcontrols])
    filters["tojson"]          = json.dumps(x, ensure_ascii=False, indent, separators, sort_keys)
    globals["raise_exception"] = raise TemplateError(message)
    globals["strftime_now"]    = datetime.now().strftime(format)   (frozen here, see NOW)

and render_jinja_template's call: render(messages=..., tools=..., documents=...,
add_generation_prompt=..., **special_tokens_map, **kwargs), where tools and
documents are None when not given.

Run from this directory:  python3 gen_goldens.py   (needs jinja2 >= 3.1)
"""
import datetime
import hashlib
import json
import os

import jinja2
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
NOW = datetime.datetime(2024, 7, 26, 13, 5, 9)  # the Go test passes the same instant


class AssistantTracker(Extension):
    """transformers' {% generation %} ... {% endgeneration %} tag; with the
    tracker inactive (return_assistant_tokens_mask=False) it renders its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    def _generation_support(self, caller):
        return caller()


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return NOW.strftime(fmt)


def make_env():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


# Special tokens as the tokenizers' special_tokens_map gives them.
QWEN_TOKENS = {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}
QWEN2_TOKENS = {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "unk_token": None}

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather",
        "description": "Get the weather in a city & its <region>",
        "parameters": {"type": "object",
                       "properties": {"city": {"type": "string", "description": "Город"},
                                      "days": {"type": "integer"}},
                       "required": ["city"]}}},
    {"type": "function", "function": {"name": "now", "description": "Current time", "parameters": {"type": "object", "properties": {}}}},
]


def T(role, text):
    return {"role": role, "content": text}


def P(role, *parts):
    return {"role": role, "content": list(parts)}


IMG = {"type": "image"}
VID = {"type": "video"}


def X(text):
    return {"type": "text", "text": text}


TEXT_CASES = [
    ("user_only_gen", [T("user", "Hello!")], True, None, {}),
    ("user_only_nogen", [T("user", "Hello!")], False, None, {}),
    ("system_user", [T("system", "You are terse."), T("user", "2+2?")], True, None, {}),
    ("multi_turn", [T("system", "Be nice."), T("user", "Hi"), T("assistant", "Hello! How can I help?"),
                    T("user", "Tell me a joke.")], True, None, {}),
    ("multi_turn_ends_assistant", [T("user", "Hi"), T("assistant", "Hello.")], False, None, {}),
    ("unicode", [T("user", "Grüße, 世界! Ünïcødé — “quotes” & <tags> \\ back\tslash\n newline 🙂")], True, None, {}),
    ("whitespace_content", [T("user", "  padded  \n\n"), T("assistant", "\n answer \n")], True, None, {}),
    ("empty_user", [T("user", "")], True, None, {}),
]

TOOL_CASES = [
    ("tools_no_system", [T("user", "Weather in Paris?")], True, TOOLS, {}),
    ("tools_with_system", [T("system", "Use tools."), T("user", "Weather in Paris?")], True, TOOLS, {}),
    ("tool_call_roundtrip", [
        T("user", "Weather in Paris and Berlin?"),
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}},
            {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Berlin", "days": 1}}}]},
        {"role": "tool", "name": "get_weather", "content": "{\"temp\": 21}"},
        {"role": "tool", "name": "get_weather", "content": "{\"temp\": 18}"},
        T("assistant", "Paris 21°C, Berlin 18°C."),
        T("user", "Thanks"),
    ], True, TOOLS, {}),
    ("tool_call_with_content", [
        T("user", "Time?"),
        {"role": "assistant", "content": "Let me check.", "tool_calls": [
            {"type": "function", "function": {"name": "now", "arguments": {}}}]},
        {"role": "tool", "content": "13:05"},
    ], True, TOOLS, {}),
]

QWEN3_CASES = [
    ("thinking_history", [T("user", "What is 1+1?"),
                          T("assistant", "<think>\nSimple sum.\n</think>\n\nIt is 2."),
                          T("user", "And 2+2?")], True, None, {}),
    ("thinking_last_assistant", [T("user", "What is 1+1?"),
                                 T("assistant", "<think>\nSimple sum.\n</think>\n\nIt is 2.")], False, None, {}),
    ("reasoning_content_field", [T("user", "Q"),
                                 {"role": "assistant", "content": "A", "reasoning_content": "because"}], False, None, {}),
    ("enable_thinking_false", [T("user", "Hi")], True, None, {"enable_thinking": False}),
    ("enable_thinking_true", [T("user", "Hi")], True, None, {"enable_thinking": True}),
    ("tool_call_string_arguments", [
        T("user", "Weather?"),
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
        {"role": "tool", "content": "<tool_response>cold</tool_response>"},
    ], True, TOOLS, {}),
]

MM_CASES = [
    ("image_first", [P("user", IMG, X("What is shown in this image?"))], True, None, {}),
    ("image_after_text", [P("user", X("Describe:"), IMG)], True, None, {}),
    ("image_middle", [P("user", X("Compare"), IMG, X("with"), IMG, X("please."))], True, None, {}),
    ("several_images", [P("user", IMG, IMG, IMG, X("Which differs?"))], False, None, {}),
    ("video", [P("user", VID, X("What happens?"))], True, None, {}),
    ("multi_turn", [
        P("system", X("You are a helpful assistant.")),
        P("user", IMG, X("What’s shown in this image?")),
        P("assistant", X("This image shows a red stop sign.")),
        P("user", X("Describe the image in more details.")),
    ], True, None, {}),
    ("text_only", [P("user", X("no image here"))], False, None, {}),
    ("unicode", [P("user", IMG, X("Что это? 这是什么？ 🙂"))], True, None, {}),
]

FEATURE_CASES = [
    ("features_text", [T("system", "sys"), T("user", "  hi  "), T("assistant", "yo")], True, None,
     {"bos_token": "<s>", "eos_token": "</s>"}),
    ("features_parts_and_tools", [P("user", IMG, X("naïve “x” <b>&</b>"), {"type": "text", "text": "n", "n": 3, "f": 1.5, "ok": True, "z": None})], False, TOOLS,
     {"eos_token": "</s>"}),
    ("features_break", [T("user", "one"), T("user", "STOP here"), T("user", "never")], False, None, {"eos_token": "E"}),
    ("features_raise", [], True, None, {"eos_token": "E"}),
]

SUITES = [
    ("qwen2_instruct.jinja", QWEN2_TOKENS, TEXT_CASES),
    ("qwen2_5_instruct.jinja", QWEN_TOKENS, TEXT_CASES + TOOL_CASES),
    ("qwen3.jinja", QWEN_TOKENS, TEXT_CASES + TOOL_CASES + QWEN3_CASES),
    ("llava_onevision.jinja", QWEN2_TOKENS, MM_CASES),
    ("llava_onevision_convert.jinja", QWEN2_TOKENS, MM_CASES),
    ("hf_features.jinja", {}, FEATURE_CASES),
]


def main():
    env = make_env()
    out = {
        "generator": "gen_goldens.py",
        "jinja2_version": jinja2.__version__,
        "now": NOW.isoformat(),
        "templates": {},
        "cases": [],
    }
    for fname, tokens, cases in SUITES:
        with open(os.path.join(HERE, "templates", fname), encoding="utf-8") as f:
            src = f.read()
        out["templates"][fname] = hashlib.sha256(src.encode("utf-8")).hexdigest()
        tmpl = env.from_string(src)
        for name, messages, agp, tools, kwargs in cases:
            special = {k: v for k, v in tokens.items() if v is not None}
            ctx = dict(special)
            ctx.update(kwargs)
            case = {
                "name": fname.removesuffix(".jinja") + "/" + name,
                "template": fname,
                "messages": messages,
                "add_generation_prompt": agp,
                "tools": tools,
                "vars": ctx,
            }
            try:
                case["want"] = tmpl.render(messages=messages, tools=tools, documents=None,
                                           add_generation_prompt=agp, **ctx)
            except jinja2.exceptions.TemplateError as e:
                case["error"] = str(e)
            out["cases"].append(case)
    with open(os.path.join(HERE, "goldens.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
