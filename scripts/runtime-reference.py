#!/usr/bin/env python3
"""Reference numbers from llama-cpp-python for the local runtime (issue 6).

  runtime-reference.py tokens GGUF   -> JSON fixture of token ids for fixed English/Chinese strings
  runtime-reference.py bench GGUF THREADS PROMPT_FILE -> JSON prompt/decode tokens per second

Used once to write crates/runtime/tests/fixtures/tokens.json, and by scripts/bench-runtime.
"""
import json
import sys
import time

from llama_cpp import Llama

STRINGS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "  leading spaces and trailing  ",
    "Safety evaluations report refusal rates with 95% confidence intervals.",
    "naïve café — déjà vu",
    "人工智能生成合成内容标识办法",
    "你好，世界！今天天气很好。",
    "GB 45438-2025 要求在图片上标注“AI生成”。",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "def f(x):\n    return x * 2  # code\n",
]


def tokens(path):
    llm = Llama(model_path=path, vocab_only=True, verbose=False)
    cases = [{"text": s, "ids": llm.tokenize(s.encode(), add_bos=llm._model.add_bos_token() if hasattr(llm._model, "add_bos_token") else True, special=True)} for s in STRINGS]
    json.dump({"model": path.rsplit("/", 1)[-1], "generator": "llama-cpp-python", "cases": cases}, sys.stdout, ensure_ascii=False, indent=1)
    print()


def bench(path, threads, prompt_file):
    prompt = open(prompt_file, encoding="utf-8").read()
    llm = Llama(model_path=path, n_ctx=2048, n_threads=threads, n_threads_batch=threads, n_batch=512, verbose=False)
    ids = llm.tokenize(prompt.encode(), add_bos=True, special=True)
    best_prompt = best_decode = 0.0
    for _ in range(3):
        llm.reset()
        start = time.perf_counter()
        llm.eval(ids)
        prompt_s = time.perf_counter() - start
        count = 0
        start = time.perf_counter()
        for token in llm.generate(ids, temp=0.0, top_k=1, reset=False):
            count += 1
            if count == 128 or token == llm.token_eos():
                break
        decode_s = time.perf_counter() - start
        best_prompt = max(best_prompt, len(ids) / prompt_s)
        best_decode = max(best_decode, count / decode_s)
    print(json.dumps({"prompt_tokens": len(ids), "prompt_tokens_per_s": best_prompt, "decode_tokens_per_s": best_decode, "threads": threads}))


if __name__ == "__main__":
    if sys.argv[1] == "tokens":
        tokens(sys.argv[2])
    else:
        bench(sys.argv[2], int(sys.argv[3]), sys.argv[4])
