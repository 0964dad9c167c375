"""A CLIP BPE tokenizer for the synthetic world's caption vocabulary.

CLIPTokenizer needs ``vocab.json`` and ``merges.txt``. We train a byte-pair encoding (the
`tokenizers` library, CLIP's ``</w>`` end-of-word convention) on the caption words, so each
known word is one token and an unknown word still tokenizes into pieces, plus single
characters and CLIP's special tokens. Saved in SD's ``tokenizer/`` layout.
"""
from __future__ import annotations

import json
import string
from pathlib import Path

from transformers import CLIPTokenizer

BOS, EOS = "<|startoftext|>", "<|endoftext|>"


def build_vocab(words) -> tuple[dict[str, int], list[str]]:
    """Train a byte-pair encoding on ``words`` until every word is a single token."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    chars = list(string.ascii_lowercase + string.digits + ",.-'")
    bpe = Tokenizer(models.BPE(end_of_word_suffix="</w>"))
    bpe.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.BpeTrainer(vocab_size=100_000, min_frequency=1, initial_alphabet=chars,
                                  end_of_word_suffix="</w>", show_progress=False)
    bpe.train_from_iterator(words, trainer)
    model = json.loads(bpe.to_str())["model"]
    tokens = chars + [c + "</w>" for c in chars]
    tokens += [t for t in sorted(model["vocab"], key=model["vocab"].get) if t not in set(tokens)]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    vocab = {tok: i for i, tok in enumerate(tokens + [BOS, EOS])}
    return vocab, merges


def write_vocab_files(tokenizer: CLIPTokenizer, folder: str | Path) -> None:
    """Write the slow-tokenizer files (vocab.json, merges.txt) of SD's ``tokenizer/`` layout
    (transformers 5 saves only tokenizer.json; transformers 4's slow CLIPTokenizer, without a
    backend tokenizer, writes them itself)."""
    if not hasattr(tokenizer, "backend_tokenizer"):
        return
    model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    (Path(folder) / "vocab.json").write_text(json.dumps(model["vocab"]))
    (Path(folder) / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")


def make_tokenizer(captions, folder: str | Path, max_length: int) -> CLIPTokenizer:
    """Write vocab.json + merges.txt for the words of ``captions`` and load them."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    words = [w for c in captions for w in c.lower().replace(",", " , ").split()]
    vocab, merges = build_vocab(words)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    tok = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=max_length,
                        pad_token=EOS)
    tok.save_pretrained(folder)
    return tok
