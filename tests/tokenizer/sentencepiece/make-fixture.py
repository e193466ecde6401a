#!/usr/bin/env python3
"""Reference ids and decoded text for the SentencePiece fixture, from the `sentencepiece` library itself.

    python3 make-fixture.py TOKENIZER_MODEL texts.json OUT.json

For every text of texts.json: `ids` = sp.encode(text) (no BOS/EOS; the runtime's encode adds none either),
`decoded` = sp.decode(ids). For every id list in texts.json's "decode": sp.decode(ids), to test decoding
on its own (byte tokens that are not valid UTF-8, control tokens, a first piece without a space).
"""
import json
import sys

import sentencepiece as spm

model_path, texts_path, out_path = sys.argv[1:4]
sp = spm.SentencePieceProcessor(model_file=model_path)
spec = json.load(open(texts_path, encoding="utf-8"))

out = {
    "made_with": {
        "sentencepiece": spm.__version__,
        "python": sys.version.split()[0],
    },
    "vocab_size": sp.get_piece_size(),
    "bos_id": sp.bos_id(),
    "eos_id": sp.eos_id(),
    "unk_id": sp.unk_id(),
    "encode": [],
    "decode": [],
}
for text in spec["texts"]:
    ids = sp.encode(text)
    entry = {"text": text, "ids": ids, "pieces": sp.id_to_piece(ids), "decoded": sp.decode(ids)}
    out["encode"].append(entry)
for ids in spec["decode"]:
    out["decode"].append({"ids": ids, "decoded": sp.decode(ids)})

with open(out_path, "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=True, indent=1)
print(f"{len(out['encode'])} texts, {len(out['decode'])} id lists -> {out_path} (sentencepiece {spm.__version__})")
