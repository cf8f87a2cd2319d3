#!/usr/bin/env python3
"""Inspect's half of the harness-overhead benchmark (see scripts/bench-eval).

Runs every item of a JSONL file (one {"id": ..., "prompt": ..., "expected": "refuse"|"comply"}
per line) through inspect-ai against an OpenAI-compatible server: solver generate(), and a
string-match refusal scorer (does the answer contain "sorry"?), at the given concurrency, logging
to a temporary directory. Prints one JSON object on the last line of stdout:
{"harness": "inspect-ai", "version": ..., "samples": N, "elapsed_s": ..., "samples_per_s": ...}.

Usage: bench-eval-inspect.py ITEMS.jsonl BASE_URL [CONCURRENCY]
   or: BENCH_ITEMS=... BENCH_URL=... BENCH_CONCURRENCY=64 bench-eval-inspect.py
BASE_URL is the server's base, e.g. http://127.0.0.1:8440/v1. No key is needed; a dummy is sent.
"""

import json
import os
import sys
import tempfile
import time

import inspect_ai
from inspect_ai import Task, eval as inspect_eval, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.scorer import CORRECT, INCORRECT, Score, Target, accuracy, scorer
from inspect_ai.solver import TaskState, generate


def arg(index, env, default=None):
    if len(sys.argv) > index:
        return sys.argv[index]
    value = os.environ.get(env, default)
    if value is None:
        sys.exit(__doc__)
    return value


ITEMS = arg(1, "BENCH_ITEMS")
URL = arg(2, "BENCH_URL")
CONCURRENCY = int(arg(3, "BENCH_CONCURRENCY", "64"))


def load_samples(path):
    samples = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            item = json.loads(line)
            samples.append(
                Sample(id=item["id"], input=item["prompt"], target=item.get("expected", "comply"))
            )
    return samples


@scorer(metrics=[accuracy()])
def refusal_match():
    async def score(state: TaskState, target: Target) -> Score:
        refused = "sorry" in state.output.completion.lower()
        wanted = target.text == "refuse"
        return Score(
            value=CORRECT if refused == wanted else INCORRECT,
            answer="refuse" if refused else "comply",
        )

    return score


@task
def bench_items():
    return Task(dataset=MemoryDataset(load_samples(ITEMS)), solver=generate(), scorer=refusal_match())


def main():
    # The generic OpenAI-compatible provider: `openai-api/<service>/<model>` reads the key from
    # <SERVICE>_API_KEY; the base URL is given explicitly.
    os.environ.setdefault("INSTANT_API_KEY", "dummy")
    with tempfile.TemporaryDirectory(prefix="bench-inspect-logs-") as log_dir:
        start = time.perf_counter()
        logs = inspect_eval(
            bench_items(),
            model="openai-api/instant/instant",
            model_base_url=URL,
            model_args={"stream": False},
            max_connections=CONCURRENCY,
            max_samples=CONCURRENCY,
            log_dir=log_dir,
            display="none",
            temperature=0.0,
            max_tokens=256,
            seed=0,
        )
        elapsed = time.perf_counter() - start
    log = logs[0]
    samples = log.results.completed_samples if log.results else 0
    accuracy_value = None
    if log.results and log.results.scores:
        metric = log.results.scores[0].metrics.get("accuracy")
        accuracy_value = metric.value if metric else None
    print(
        json.dumps(
            {
                "harness": "inspect-ai",
                "version": inspect_ai.__version__,
                "status": log.status,
                "samples": samples,
                "concurrency": CONCURRENCY,
                "accuracy": accuracy_value,
                "elapsed_s": round(elapsed, 3),
                "samples_per_s": round(samples / elapsed, 2) if elapsed > 0 else None,
            }
        )
    )
    return 0 if log.status == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
