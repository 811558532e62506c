"""`nc -l` in a container's command: the port it listens on and what it sends.

A container whose command runs netcat in listen mode (`nc -l -p 8080`, `nc -lk -p
8080`, the OpenBSD form `nc -l 8080`, usually in a loop: `while true; do echo -e
"HTTP/1.1 200 OK\\r\\n\\r\\nhello" | nc -l -p 8080; done`) listens on that port. A
client that connects gets what is piped into nc (`echo`/`printf` text, escapes
expanded as `echo -e` and `printf` do), or nothing. Upstream a bare `nc -l` exits
after its first connection (busybox without `-k`); here the listener stays, as in
the loop form every task uses.
"""

from __future__ import annotations

import re
import shlex

from app.sim.nodes.shell import split_flags

# A pipeline stage that starts netcat, with what feeds it: `[FEED |] nc OPTIONS`.
_STAGE = re.compile(
    r"(?:^|[;&\n]|\bdo\b|\bthen\b)\s*(?:(?P<feed>[^;&|\n]*?)\|\s*)?"
    r"(?:\S*/)?(?:nc|netcat|ncat)\s+(?P<opts>[^;&|\n]*)"
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", "0": "\0"}


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), text)


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _fed(feed: str) -> str:
    """The text `echo`/`printf` write into the pipe ("" for anything else)."""
    words = _words(feed.strip())
    while words and words[0] in ("do", "then", "else", "{", "("):
        words = words[1:]  # the shell keyword before the pipeline
    if not words:
        return ""
    if words[0] == "printf" and len(words) > 1:
        return _unescape(words[1])
    if words[0] != "echo":
        return ""
    flags = ""
    args = words[1:]
    while args and re.fullmatch(r"-[neE]+", args[0]):
        flags += args.pop(0)[1:]
    text = " ".join(args)
    if "e" in flags:
        text = _unescape(text)
    return text if "n" in flags else text + "\n"


def _unbundled(words: list[str]) -> list[str]:
    """`-lkp 8080` / `-lp8080` -> `-l -k -p 8080` (`p` and `w` take a value)."""
    out: list[str] = []
    for word in words:
        if not word.startswith("-") or word.startswith("--") or len(word) < 3:
            out.append(word)
            continue
        for index, letter in enumerate(word[1:]):
            out.append("-" + letter)
            if letter in "pw":
                if word[index + 2 :]:
                    out.append(word[index + 2 :])
                break
    return out


def nc_listening(argv: list[str]) -> dict[int, tuple[str, str]]:
    """port -> ("nc", what a connecting client receives), for each `nc -l` of the
    command (`sh -c SCRIPT` or nc itself)."""
    if not argv:
        return {}
    if len(argv) >= 3 and argv[1] in ("-c", "-ec", "-xc"):
        script = argv[2]
    else:
        script = " ".join(shlex.quote(a) for a in argv)
    out: dict[int, tuple[str, str]] = {}
    for stage in _STAGE.finditer(script):
        opts, rest = split_flags(_unbundled(_words(stage.group("opts"))), {"p", "w", "s"})
        if "l" not in opts:
            continue
        port_text = opts.get("p") or next((w for w in rest if w.isdigit()), "")
        if port_text.isdigit() and 0 < int(port_text) < 65536:
            out[int(port_text)] = ("nc", _fed(stage.group("feed") or ""))
    return out


def http_answer(text: str) -> tuple[int, str] | None:
    """(status, body) when what nc sends is an HTTP response, else None."""
    head, _, body = text.replace("\r\n", "\n").partition("\n\n")
    status_line = head.split("\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[0].startswith("HTTP/"):
        return None
    if not status_line[1].isdigit():
        return None
    return int(status_line[1]), body
