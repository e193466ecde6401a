"""Train the byte-level BPE tokenizer on the train split and turn the splits into token ids.

  python3 training/tokenizer.py --data training/data --out training/runs/tokens

Writes tokenizer.json (HF tokenizers; ByteLevel pre-tokenizer and decoder as in GPT-2/GPT-NeoX, so
every byte sequence round-trips), train.npy and valid.npy (uint16 ids) and meta.json.
Each split is encoded as one string with no special tokens: the way the held-out file is measured.
"""

import argparse
import json
import os

import numpy as np
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

SPECIAL_TOKENS = ["<|endoftext|>"]


def text_pieces(text, size=1 << 20):
    """The text in pieces of about `size` characters, cut after a newline (the trainer's input)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start + size)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def train_tokenizer(text, vocab_size):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(text_pieces(text), trainer=trainer)
    return tok


def encode(tok, text):
    ids = tok.encode(text, add_special_tokens=False).ids
    return np.asarray(ids, dtype=np.uint16)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="folder with train.txt and valid.txt")
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab-size", type=int, default=4096)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    texts = {}
    for split in ("train", "valid"):
        with open(os.path.join(args.data, f"{split}.txt"), encoding="utf-8") as f:
            texts[split] = f.read()
    tok = train_tokenizer(texts["train"], args.vocab_size)
    tok.save(os.path.join(args.out, "tokenizer.json"))

    meta = {"vocab_size": tok.get_vocab_size()}
    assert meta["vocab_size"] <= 65536, "ids are stored as uint16"
    for split, text in texts.items():
        ids = encode(tok, text)
        np.save(os.path.join(args.out, f"{split}.npy"), ids)
        meta[f"{split}_tokens"] = int(ids.size)
        meta[f"{split}_bytes"] = len(text.encode("utf-8"))
        # Byte-level BPE must give the text back exactly.
        sample = text[:100_000]
        assert tok.decode(tok.encode(sample, add_special_tokens=False).ids) == sample, f"{split}: no round trip"
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
    print("tokenizer:", json.dumps(meta))


if __name__ == "__main__":
    main()
