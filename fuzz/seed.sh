#!/bin/sh
# Seeds the `parse` target's corpus with the example inputs (examples/) and every
# inline code span of docs/syntax.md. Run from fuzz/: `./seed.sh`.
set -eu
mkdir -p corpus/parse
for f in ../examples/*/*.txt; do
    cp "$f" "corpus/parse/seed_$(basename "$(dirname "$f")")_$(basename "$f")"
done
python3 - <<'PY'
import hashlib, re
text = open("../docs/syntax.md", encoding="utf-8").read()
for span in set(re.findall(r"`([^`\n]+)`", text)):
    name = hashlib.sha1(span.encode()).hexdigest()[:16]
    with open(f"corpus/parse/seed_syntax_{name}", "w", encoding="utf-8") as f:
        f.write(span)
PY
echo "$(ls corpus/parse | wc -l) seeds in corpus/parse"
