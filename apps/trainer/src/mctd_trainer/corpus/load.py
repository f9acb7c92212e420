"""Finding, verifying and reading the story corpus (the cache folder or the shipped copy)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from mctd_tree.errors import UserError

from mctd_trainer.corpus.files import read_jsonl_xz, sha256_file
from mctd_trainer.corpus.generate import MANIFEST, load_manifest

PACKAGED = Path(__file__).resolve().parent.parent / "data" / "stories"
OFFLINE_COMMAND = "mctd-train corpus"


class CorpusError(UserError):
    """A corpus folder that is missing, incomplete or fails its checksums."""


def cache_root() -> Path:
    """``$MCTD_CACHE`` or ``~/.cache/mctd`` (the same folder mctd-llm-torch uses)."""
    env = os.environ.get("MCTD_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mctd"


def cache_dir(seed: int = 0) -> Path:
    """Where `mctd-train corpus --seed SEED` writes by default."""
    return cache_root() / "corpus" / f"stories-seed{seed}"


def find_corpus(path: Path | None = None, seed: int = 0) -> Path:
    """``path`` if given; else the cache folder (where `mctd-train corpus` writes) if it holds at
    least as many stories as the shipped corpus, so a stale smaller copy never hides it; else the
    shipped corpus."""
    if path is not None:
        return Path(path)
    cached, shipped = load_manifest(cache_dir(seed)), load_manifest(PACKAGED)
    if cached is not None and (shipped is None or cached["count"] >= shipped["count"]):
        return cache_dir(seed)
    return PACKAGED


def verify(folder: Path) -> dict[str, Any]:
    """The manifest of ``folder`` after checking every shard's SHA-256 and the total checksum."""
    manifest = load_manifest(folder)
    if manifest is None:
        raise CorpusError(
            f"{folder} holds no {MANIFEST}: not a story corpus (make one with `{OFFLINE_COMMAND}`)"
        )
    for s in manifest["shards"]:
        path = folder / s["file"]
        if not path.is_file():
            raise CorpusError(f"corpus {folder}: shard {s['file']} is missing")
        if sha256_file(path) != s["sha256"]:
            raise CorpusError(f"corpus {folder}: shard {s['file']} fails its SHA-256 check")
    total = hashlib.sha256("".join(s["sha256"] for s in manifest["shards"]).encode()).hexdigest()
    if manifest.get("checksum") != total:
        raise CorpusError(f"corpus {folder}: manifest checksum does not match its shards")
    return manifest


def load_stories(
    path: Path | None = None, *, seed: int = 0, shards: int | None = None
) -> list[dict[str, Any]]:
    """Every story row (``id``, ``text``, words, features, ``tokens``) of a verified corpus, or of
    its first ``shards`` shards (a prefix of the corpus: generation is seeded and resumable, so
    the first K shards of a longer run are the corpus a K-shard run made)."""
    folder = find_corpus(path, seed)
    manifest = verify(folder)
    held = manifest["shards"]
    if shards is not None:
        if not 1 <= shards <= len(held):
            raise CorpusError(
                f"corpus {folder} has {len(held)} shards; asked for the first {shards} (use 1 to "
                f"{len(held)}, or make more with `{OFFLINE_COMMAND} --shards {shards}`)"
            )
        held = held[:shards]
    rows: list[dict[str, Any]] = []
    for s in held:
        rows.extend(read_jsonl_xz(folder / s["file"]))
    return rows


def load_texts(path: Path | None = None, *, seed: int = 0, shards: int | None = None) -> list[str]:
    """The story texts of a verified corpus (or of its first ``shards`` shards), in id order."""
    return [r["text"] for r in load_stories(path, seed=seed, shards=shards)]


def load_hf_texts(name: str = "roneneldan/TinyStories", split: str = "train") -> list[str]:
    """Texts of a Hugging Face dataset (needs ``datasets`` and a network, or its local cache)."""
    try:
        import datasets
    except ImportError as e:
        raise CorpusError(
            f"--dataset {name} needs the 'datasets' package; offline, make the story corpus with "
            f"`{OFFLINE_COMMAND}` and train without --dataset"
        ) from e
    try:
        ds = datasets.load_dataset(name, split=split)
    except Exception as e:  # offline: ConnectionError, OfflineModeIsEnabled, FileNotFoundError ...
        raise CorpusError(
            f"cannot load dataset {name!r} ({type(e).__name__}: {e}); offline, make the story "
            f"corpus with `{OFFLINE_COMMAND}` and train without --dataset"
        ) from e
    return [str(t) for t in ds["text"]]
