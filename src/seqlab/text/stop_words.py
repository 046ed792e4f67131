"""Stop words: tokens dropped after standardisation and before n-grams are formed.

``stop_words="english"`` is scikit-learn's ``ENGLISH_STOP_WORDS`` (318 words, taken by
scikit-learn from the Glasgow Information Retrieval Group's list), copied here as data so
that seqlab does not import scikit-learn. That list is distributed under the BSD 3-Clause
licence; its notice follows.

    Copyright (c) 2007-2026 The scikit-learn developers. All rights reserved.

    Redistribution and use in source and binary forms, with or without modification, are
    permitted provided that the following conditions are met: (1) Redistributions of source
    code must retain the above copyright notice, this list of conditions and the following
    disclaimer. (2) Redistributions in binary form must reproduce the above copyright notice,
    this list of conditions and the following disclaimer in the documentation and/or other
    materials provided with the distribution. (3) Neither the name of the copyright holder
    nor the names of its contributors may be used to endorse or promote products derived
    from this software without specific prior written permission.

    THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY
    EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF
    MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL
    THE COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL,
    SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT
    OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS
    INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT
    LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE
    OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from seqlab._utils import PathLike

__all__ = ["ENGLISH_STOP_WORDS", "STOP_WORD_LISTS", "read_stop_words", "stop_word_set"]

ENGLISH_STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above across after afterwards again against all almost alone along already also
    although always am among amongst amoungst amount an and another any anyhow anyone anything
    anyway anywhere are around as at back be became because become becomes becoming been before
    beforehand behind being below beside besides between beyond bill both bottom but by call can
    cannot cant co con could couldnt cry de describe detail do done down due during each eg
    eight either eleven else elsewhere empty enough etc even ever every everyone everything
    everywhere except few fifteen fifty fill find fire first five for former formerly forty
    found four from front full further get give go had has hasnt have he hence her here
    hereafter hereby herein hereupon hers herself him himself his how however hundred i ie if in
    inc indeed interest into is it its itself keep last latter latterly least less ltd made many
    may me meanwhile might mill mine more moreover most mostly move much must my myself name
    namely neither never nevertheless next nine no nobody none noone nor not nothing now nowhere
    of off often on once one only onto or other others otherwise our ours ourselves out over own
    part per perhaps please put rather re same see seem seemed seeming seems serious several she
    should show side since sincere six sixty so some somehow someone something sometime
    sometimes somewhere still such system take ten than that the their them themselves then
    thence there thereafter thereby therefore therein thereupon these they thick thin third this
    those though three through throughout thru thus to together too top toward towards twelve
    twenty two un under until up upon us very via was we well were what whatever when whence
    whenever where whereafter whereas whereby wherein whereupon wherever whether which while
    whither who whoever whole whom whose why will with within without would yet you your yours
    yourself yourselves
    """.split()
)
STOP_WORD_LISTS = {"english": ENGLISH_STOP_WORDS}


def stop_word_set(stop_words: str | Iterable[str] | None) -> frozenset[str]:
    """The words ``stop_words`` names: ``None`` (none), ``"english"`` (the built-in list) or
    a collection of words (compared with the standardised tokens, so give them lowercase
    when the standardisation lowercases).

    >>> sorted(stop_word_set(["the", "a"])), len(stop_word_set("english"))
    (['a', 'the'], 318)
    """
    if stop_words is None:
        return frozenset()
    if isinstance(stop_words, str):
        if stop_words not in STOP_WORD_LISTS:
            raise ValueError(
                f"stop_words must be None, {' or '.join(map(repr, STOP_WORD_LISTS))} or a list "
                f"of words, got {stop_words!r}; pass a list (or read a file with "
                "seqlab.text.read_stop_words(path))"
            )
        return STOP_WORD_LISTS[stop_words]
    if isinstance(stop_words, bytes) or not isinstance(stop_words, Iterable):
        raise TypeError(
            f"stop_words must be None, 'english' or a list of words, got "
            f"{type(stop_words).__name__}"
        )
    words = list(stop_words)
    for word in words:
        if not isinstance(word, str) or not word:
            raise ValueError(f"stop_words must be non-empty strings, got {word!r} in the list")
    return frozenset(words)


def read_stop_words(path: PathLike) -> list[str]:
    """The words of a stop-word file: one word per line (UTF-8); blank lines and lines
    starting with ``#`` are skipped, surrounding whitespace is stripped.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "stop.txt")
    >>> _ = open(path, "w").write("# mine\\nthe\\n\\n  film \\n")
    >>> read_stop_words(path)
    ['the', 'film']
    """
    file = Path(path).expanduser()
    if not file.is_file():
        raise FileNotFoundError(
            f"stop-word file {str(path)!r} does not exist; give 'english' or the path of a "
            "file with one word per line"
        )
    words = []
    for line in file.read_text(encoding="utf-8").splitlines():
        word = line.strip()
        if word and not word.startswith("#"):
            words.append(word)
    if not words:
        raise ValueError(f"stop-word file {str(path)!r} holds no words (one word per line)")
    return words
