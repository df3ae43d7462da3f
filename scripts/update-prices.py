#!/usr/bin/env python3
"""Regenerate src/usage/prices.json from LiteLLM's model price table.

The table ships inside the PyPI package `litellm`
(`litellm/model_prices_and_context_window_backup.json`), so prices come from a registry
package, not from a web page:

    pip download --no-deps litellm -d "$TMPDIR/new"
    pip download --no-deps litellm==1.79.0 -d "$TMPDIR/old"
    python3 scripts/update-prices.py "$TMPDIR"/new/litellm-*.whl "$TMPDIR"/old/litellm-*.whl

Give the newest table first. Later (older) tables only fill in what the newer ones lack: models
that LiteLLM has since retired (old logs still name them) and long-context tiers it dropped.
ccusage's embedded prices keep both, so the reports agree with it.

Only the models the Claude Code and Codex CLIs can log are kept (Anthropic and OpenAI chat
models), with the fields PAIOS prices by: per-token input, output, cache write, cache read, and
the long-context tiers (`*_above_200k_tokens` billed marginally above 200k per bucket;
`*_above_272k_tokens` switching the whole request once its context passes 272k), the way
ccusage applies them. The output is sorted, so a diff shows exactly what changed.
"""

import datetime
import json
import re
import sys
import zipfile
from pathlib import Path

TABLE = "litellm/model_prices_and_context_window_backup.json"
OUT = Path(__file__).resolve().parent.parent / "src" / "usage" / "prices.json"

KEEP_PROVIDERS = {"anthropic", "openai", "text-completion-openai", "chatgpt"}
KEEP_NAME = re.compile(r"^(claude|gpt-|o[1-9]|codex|chatgpt)", re.I)

FIELDS = {
    "input_cost_per_token": "input",
    "output_cost_per_token": "output",
    "cache_creation_input_token_cost": "cache_write",
    "cache_read_input_token_cost": "cache_read",
    "input_cost_per_token_above_200k_tokens": "input_above_200k",
    "output_cost_per_token_above_200k_tokens": "output_above_200k",
    "cache_creation_input_token_cost_above_200k_tokens": "cache_write_above_200k",
    "cache_read_input_token_cost_above_200k_tokens": "cache_read_above_200k",
    "input_cost_per_token_above_272k_tokens": "input_above_272k",
    "output_cost_per_token_above_272k_tokens": "output_above_272k",
    "cache_creation_input_token_cost_above_272k_tokens": "cache_write_above_272k",
    "cache_read_input_token_cost_above_272k_tokens": "cache_read_above_272k",
}


def load(source: str) -> tuple[dict, str]:
    path = Path(source)
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            version = next(
                (n.split("-")[1].removesuffix(".dist") for n in wheel.namelist() if n.endswith(".dist-info/METADATA")),
                "unknown",
            )
            return json.loads(wheel.read(TABLE)), f"litellm {version}"
    return json.loads(path.read_text()), path.name


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    models: dict = {}
    sources = []
    for arg in sys.argv[1:]:
        table, source = load(arg)
        sources.append(source)
        for name, prices in extract(table).items():
            merged = models.setdefault(name, {})
            for key, value in prices.items():
                merged.setdefault(key, value)
    out = {
        "source": ", ".join(sources) + " (model_prices_and_context_window_backup.json)",
        "snapshot": datetime.date.today().isoformat(),
        "unit": "USD per token",
        "models": {name: dict(sorted(p.items())) for name, p in sorted(models.items())},
    }
    OUT.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {OUT} ({len(models)} models from {', '.join(sources)})", file=sys.stderr)
    return 0


def extract(table: dict) -> dict:
    models = {}
    for name, spec in table.items():
        if not isinstance(spec, dict) or name == "sample_spec":
            continue
        provider = spec.get("litellm_provider") or ""
        if provider not in KEEP_PROVIDERS or not KEEP_NAME.match(name.split("/")[-1]):
            continue
        if spec.get("mode") not in (None, "chat", "responses", "completion"):
            continue
        prices = {short: spec[long] for long, short in FIELDS.items() if isinstance(spec.get(long), (int, float))}
        if "input" not in prices and "output" not in prices:
            continue
        models[name] = prices
    return models


if __name__ == "__main__":
    sys.exit(main())
