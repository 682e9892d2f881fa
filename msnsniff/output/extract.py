"""Writing transferred files to disk safely.

File names come from the network (the invitation's Application-File): they are reduced
to a plain base name (no separators, no `..`, no control characters, no device names,
bounded length), and files are created with O_EXCL | O_NOFOLLOW inside the chosen
directory only, never overwriting anything (a numeric suffix is added instead).
"""

from __future__ import annotations

import os
import re
import unicodedata

from ..errors import MsnsniffError

# Windows device names (a file named after one is the device there), with the
# superscript digits Windows also accepts, and the console devices
_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$",
                    *(f"COM{i}" for i in "123456789¹²³"), *(f"LPT{i}" for i in "123456789¹²³")}
_BAD = re.compile('[\x00-\x1f\x7f-\x9f<>:"|?*\u061c\u200b-\u200f\u2028\u2029'
                  '\u202a-\u202e\u2066-\u2069\ufeff]')
MAX_NAME_BYTES = 200


def safe_name(name: str | None) -> str:
    name = (name or "").replace("\\", "/").split("/")[-1]
    name = unicodedata.normalize("NFC", name)
    name = _BAD.sub("_", name).strip(" .")
    # Windows ignores trailing spaces and dots before the extension: "AUX .txt" is AUX
    if name.split(".")[0].rstrip(" .").upper() in _WINDOWS_DEVICES:
        name = "_" + name
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        # cut once, by bytes (not a character at a time: that was quadratic), keeping a
        # short extension
        stem, dot, ext = name.rpartition(".")
        if not (dot and stem and len(ext) < 16):
            stem, ext = name, ""
        tail = ("." + ext) if ext else ""
        room = MAX_NAME_BYTES - len(tail.encode("utf-8"))
        name = stem.encode("utf-8")[:room].decode("utf-8", "ignore") + tail
    return name or "unnamed"


COMPLETE = ("complete", "complete, unacknowledged")

# What the first bytes of an MSN object say it is; the client's own names for objects are
# temporary files ("TFR2C2.tmp", "VC1B.tmp") that no viewer opens.
_MAGIC = ((b"\x89PNG\r\n\x1a\n", ".png"), (b"GIF8", ".gif"), (b"\xff\xd8\xff", ".jpg"),
          (b"BM", ".bmp"), (b"MSCF", ".cab"), (b"RIFF", ".wav"), (b"CWS", ".swf"),
          (b"FWS", ".swf"))
# where the bytes do not say: what each kind usually is (winks are cabinet files holding
# a Flash animation, voice clips RIFF/WAVE)
_KIND_EXT = {"display-picture": ".png", "emoticon": ".png", "wink": ".cab",
             "voice-clip": ".wav", "background": ".png", "scene": ".png"}


def object_name(t: dict, data) -> str:
    """The name an extracted transfer is written under: a file keeps the name it was sent
    with; an MSN object (picture, emoticon, wink, voice clip…) is named by its kind and
    label (shortcut, wink name, or its sender) with an extension by content, so that
    ``emoticon (cafe).png`` opens where ``(cafe)`` would not."""
    kind = t.get("kind") or "file"
    name = t.get("name")
    if kind not in _KIND_EXT:
        return name or f"transfer-{t['session']}"
    head = bytes(data[:8])
    ext = next((e for magic, e in _MAGIC if head.startswith(magic)), _KIND_EXT[kind])
    label = name or t.get("sender") or str(t["session"])
    stem, dot, old = label.rpartition(".")
    if dot and stem and (old.lower() in ("tmp", "dat", "bin") or f".{old.lower()}" == ext):
        label = stem             # (a voice clip's "{GUID}.wav" is not "….wav.wav")
    return f"{kind} {label}{ext}"


def extract_transfer(directory: str, t: dict) -> str | None:
    """Write one transfers row's bytes (MSNFTP or P2P) into ``directory``: the whole file
    under its sanitised name when complete, what was received as ``NAME.partial``
    otherwise (P2P holes zero-filled up to the last byte seen); nothing for a transfer
    that carried no bytes (declined, never started).  Returns the path or None."""
    data = t.get("_data")
    if not t.get("received") or data is None:
        return None
    name = object_name(t, data)
    if t.get("status") in COMPLETE:
        size = t.get("size") or len(data)
        return write_file(directory, name, bytes(data[:size]))
    extent = t.get("_extent", len(data))
    return write_file(directory, safe_name(name) + ".partial", bytes(data[:extent]))


class Extraction:
    """``files --extract DIR``: each transfer's bytes once (identical content is not
    written twice), each file's mtime set to the transfer's end, and a ``SHA256SUMS``
    manifest (``sha256sum -c`` reads it) of what was written."""

    def __init__(self, directory: str):
        self.directory = directory
        self.by_hash: dict = {}
        self.lines: list = []

    def add(self, t: dict) -> str | None:
        import hashlib
        data = t.get("_data")
        if not t.get("received") or data is None:
            return None
        if t.get("status") in COMPLETE:
            blob = bytes(data[:t.get("size") or len(data)])
        else:
            blob = bytes(data[:t.get("_extent", len(data))])
        digest = hashlib.sha256(blob).hexdigest()
        if digest in self.by_hash:
            return self.by_hash[digest]            # the same bytes again: one copy
        path = extract_transfer(self.directory, t)
        assert path is not None         # (it writes every transfer that has bytes, as here)
        self.by_hash[digest] = path
        self.lines.append(f"{digest}  {os.path.basename(path)}\n")
        end = _epoch(t.get("finished"))
        if end is not None:
            os.utime(path, (end, end))
        return path

    def manifest(self) -> str | None:
        if not self.lines:
            return None
        return write_file(self.directory, "SHA256SUMS", "".join(self.lines).encode())


def _epoch(iso_time):
    if not iso_time:
        return None
    from datetime import datetime
    try:
        return datetime.fromisoformat(iso_time.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def write_file(directory: str, name: str, data: bytes) -> str:
    """Create a new file in ``directory`` (never outside it, never overwriting)."""
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as e:
        raise MsnsniffError(f"{directory}: cannot create directory: {e.strerror}") from None
    real_dir = os.path.realpath(directory)
    base = safe_name(name)
    stem, dot, ext = base.rpartition(".")
    if not dot or not stem:
        stem, ext = base, ""
    for n in range(10000):
        cand = base if n == 0 else (f"{stem}-{n}.{ext}" if ext else f"{stem}-{n}")
        path = os.path.join(real_dir, cand)
        if os.path.dirname(os.path.realpath(path)) != real_dir:
            continue        # defensive: a name that would resolve elsewhere
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                         0o644)
        except FileExistsError:
            if _same_content(path, data):
                return path     # extracted before (a second run): not a copy under -1
            continue
        except OSError as e:
            raise MsnsniffError(f"{path}: cannot write: {e.strerror}") from None
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        except OSError as e:
            # a full disk: no truncated file is left under the final name
            try:
                os.unlink(path)
            except OSError:
                pass
            import errno
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise MsnsniffError(f"{path}: no space left on the device for {len(data)} "
                                    "bytes; the partial file was removed") from None
            raise MsnsniffError(f"{path}: cannot write: {e.strerror or e}") from None
        return path
    raise MsnsniffError(f"{directory}: too many files named {base}")


def _same_content(path: str, data: bytes) -> bool:
    """Whether ``path`` is a regular file (not a link) holding exactly ``data``."""
    import stat
    try:
        st = os.lstat(path)
        if not stat.S_ISREG(st.st_mode) or st.st_size != len(data):
            return False
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as f:
            return f.read() == data
    except OSError:
        return False
