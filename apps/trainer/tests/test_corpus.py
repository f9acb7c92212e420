"""The story corpus: seeded, resumable, deduplicated generation; checksums; tokenizer; errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mctd_llm_torch.testing import tiny_lm
from mctd_trainer.corpus import (
    CorpusError,
    GenConfig,
    generate_corpus,
    load_hf_texts,
    load_stories,
    load_tokenizer,
    save_tokenizer,
    story_prompt,
    train_bpe,
    verify,
)
from mctd_trainer.corpus.files import read_jsonl_xz
from mctd_trainer.corpus.generate import clean_story, story_key

CFG = GenConfig(seed=3, batch_size=4, shard_size=8, max_new_tokens=24, min_words=1)


def _lm():
    lm = tiny_lm(seed=1)
    lm.chat_prompt = lambda msgs: lm.encode(msgs[0]["content"][-30:])  # no chat template
    return lm


def test_prompts_are_seeded_and_name_their_words() -> None:
    a, b = story_prompt(0, 5), story_prompt(0, 5)
    assert a == b and story_prompt(1, 5) != a
    for w in (a["verb"], a["noun"], a["adjective"]):
        assert f'"{w}"' in a["prompt"]


def test_generation_resumes_to_the_same_shards(tmp_path: Path) -> None:
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    m1 = generate_corpus(whole, CFG, shards=2, lm=_lm(), progress=False, log=lambda s: None)
    generate_corpus(parts, CFG, shards=1, lm=_lm(), progress=False, log=lambda s: None)
    m2 = generate_corpus(parts, CFG, shards=2, lm=_lm(), progress=False, log=lambda s: None)
    assert [s["sha256"] for s in m1["shards"]] == [s["sha256"] for s in m2["shards"]]
    assert m1["checksum"] == m2["checksum"] and m1["seed"] == 3
    rows = load_stories(whole)
    assert len(rows) == m1["count"] > 0
    keys = [story_key(r["text"]) for r in rows]
    assert len(keys) == len(set(keys))  # deduplicated
    assert load_stories(whole, shards=1) == read_jsonl_xz(whole / m1["shards"][0]["file"])
    with pytest.raises(CorpusError, match="has 2 shards"):
        load_stories(whole, shards=3)
    with pytest.raises(ValueError, match="same settings"):
        generate_corpus(whole, GenConfig(seed=4, batch_size=4, shard_size=8), shards=3, lm=_lm())


def test_bad_checksum_is_refused(tmp_path: Path) -> None:
    generate_corpus(tmp_path, CFG, shards=1, lm=_lm(), progress=False, log=lambda s: None)
    verify(tmp_path)
    shard = tmp_path / "shard-00000.jsonl.xz"
    data = bytearray(shard.read_bytes())
    data[-5] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(CorpusError, match="SHA-256"):
        load_stories(tmp_path)
    with pytest.raises(CorpusError, match=r"no manifest\.json"):
        load_stories(tmp_path / "nothing")


def test_clean_story_cuts_unfinished_sentences() -> None:
    assert clean_story("**Tom** ran. He fell", finished=False) == "Tom ran."
    assert clean_story("He fell", finished=True) == "He fell"


def test_tokenizer_round_trip(tmp_path: Path) -> None:
    texts = ["Once upon a time, a little cat sat on a mat.", "The dog ran to the park!"] * 20
    save_tokenizer(train_bpe(texts, vocab_size=300), tmp_path)
    tok = load_tokenizer(tmp_path)
    ids = tok.encode(texts[0])
    assert tok.decode(ids) == texts[0] and max(ids) < 300 and tok.eos_token_id == 0
    with pytest.raises(CorpusError, match="tokenizer-only"):
        load_tokenizer(tmp_path / "nothing")


def test_offline_dataset_error_names_the_corpus_command(monkeypatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CorpusError, match="mctd-train corpus"):
        load_hf_texts("roneneldan/TinyStories-does-not-exist")


def test_shipped_corpus_verifies() -> None:
    from mctd_trainer.corpus import PACKAGED

    if not (PACKAGED / "manifest.json").exists():
        pytest.fail(f"the shipped corpus is missing from {PACKAGED}")
    m = verify(PACKAGED)
    assert m["count"] >= 100 and m["tokens"] > 30000 and (PACKAGED / "tokenizer.json").is_file()
    assert json.loads((PACKAGED / "manifest.json").read_text())["seed"] == m["seed"]
    assert read_jsonl_xz(PACKAGED / m["shards"][0]["file"])[0]["text"]


def test_a_run_names_the_shards_it_read(make_tiny_corpus) -> None:
    from mctd_trainer.corpus_lm import CorpusLMConfig, load_data

    folder = make_tiny_corpus(300)  # 3 shards of 100 stories
    every = CorpusLMConfig(corpus=str(folder), val_frac=0.2)
    first = CorpusLMConfig(corpus=str(folder), val_frac=0.2, corpus_shards=1)
    n_all = sum(len(s) for s in load_data(every)[1:3])
    n_first = sum(len(s) for s in load_data(first)[1:3])
    assert every.corpus_shards == 3 and first.corpus_shards == 1
    assert 0 < 2.5 * n_first < n_all


def test_a_smaller_cached_corpus_never_hides_the_shipped_one(tmp_path: Path, monkeypatch) -> None:
    from mctd_trainer.corpus import PACKAGED, cache_dir, find_corpus
    from mctd_trainer.corpus.generate import write_corpus

    monkeypatch.setenv("MCTD_CACHE", str(tmp_path))
    assert find_corpus() == PACKAGED  # no cache folder
    shipped = verify(PACKAGED)["count"]
    texts = [f"Story number {i}." for i in range(shipped + 1)]
    write_corpus(cache_dir(), texts[: shipped - 1], seed=0, generator={"test": True})
    assert find_corpus() == PACKAGED
    write_corpus(cache_dir(), texts, seed=0, generator={"test": True})
    assert find_corpus() == cache_dir() and find_corpus(tmp_path) == tmp_path
