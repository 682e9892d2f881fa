"""`msnsniff report`: the page as a real browser (Debian's headless Chromium) renders it.
Screenshots go to the test's temporary folder (look at them when the layout changes)."""

import shutil
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from conftest import cap, conversation, write_pcap

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                "(.ci/run installs it)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def report(tmp_path, *captures, name="report.html"):
    out = tmp_path / name
    r = subprocess.run([sys.executable, "-m", "msnsniff", "report", *captures, "-o", str(out),
                        "--no-progress"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


def browser(tmp_path, page, screenshot=None):
    """The DOM after Chromium loaded the page (and ran its script)."""
    prof = tmp_path / "profile"
    args = [CHROMIUM, *FLAGS, f"--user-data-dir={prof}"]
    if screenshot:
        subprocess.run(args + ["--window-size=1300,3000", f"--screenshot={screenshot}",
                               page.as_uri()], capture_output=True, timeout=60)
    r = subprocess.run(args + ["--dump-dom", page.as_uri()], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


class Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs, self.title, self._in_title = [], [], "", False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v) for k, v in attrs]
        # the document's title (the <title>s inside the SVG are tooltips)
        self._in_title = tag == "title" and "svg" not in self.tags

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def parse(dom):
    p = Elements()
    p.feed(dom)
    return p


def test_the_page_in_a_browser(tmp_path):
    page = report(tmp_path, cap("msnp8_session.pcap"), cap("p2p_transfers.pcap"))
    dom = browser(tmp_path, page, tmp_path / "report.png")
    assert (tmp_path / "report.png").stat().st_size > 10_000
    # accounts with the corrected port
    assert '<h3>alice@hotmail.com</h3>' in dom
    assert 'ClientPort reported <b class="reported-port">50637</b>, corrected ' \
           '<b class="corrected-port">52677</b> (byte-swapped reading matched) · NAT no' in dom
    # contacts with their list badges
    assert '<td class="passport">bob@hotmail.com</td><td>Bob</td><td><span class="badge FL">FL' \
           '</span><span class="badge AL">AL</span><span class="badge RL">RL</span>' in dom
    # chat text with its parsed colour and effects, and a P2P transfer inline
    assert '<span class="text b" style="color: #0000ff">Hi Bob, are you there?</span>' in dom
    assert "alice@example.com offers Relevé été 2005.txt (9,000 bytes)" in dom
    assert "<td>file</td><td>Relevé été 2005.txt</td>" in dom
    # the timeline is an SVG with one lane per connection
    el = parse(dom)
    assert el.tags.count("svg") == 1 and el.tags.count("rect") >= 9
    assert el.title == "msnsniff report"
    assert not [a for a in el.attrs if a[1] in ("src", "href") and a[2]
                and not a[2].startswith("#")]                    # no external asset


def test_nothing_from_the_network_becomes_markup(tmp_path):
    evil_name = "%3Cimg%20src=x%20onerror=alert(1)%3E"
    evil_group = "%3Csvg%20onload=alert(2)%3E"
    ns = conversation(client=("10.0.0.5", 40001), server=("10.0.0.2", 1863), c2s=[
        b"VER 1 MSNP8 CVR0\r\n", b"USR 2 TWN I alice@x.com\r\n", b"SYN 3 0\r\n"], s2c=[
        b"VER 1 MSNP8\r\n", b"USR 2 OK alice@x.com " + evil_name.encode() + b" 1 0\r\n",
        b"SYN 3 1 1 1\r\nLSG 0 " + evil_group.encode() + b" 0\r\n"
        b"LST bob@x.com %3Cscript%3Edocument.title='pwned'%3C/script%3E 11 0\r\n"])
    text = b"<script>document.title='pwned'</script><b onmouseover=alert(5)>hi</b>"
    body = (b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
            b"X-MMS-IM-Format: FN=x%22;background:url(http://e/); EF=B; CO=zz; CS=0; PF=0\r\n\r\n"
            + text)
    inv = (b"MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinvite; charset=UTF-8\r\n\r\n"
           b"Application-Name: File Transfer\r\nInvitation-Command: INVITE\r\n"
           b"Invitation-Cookie: 7\r\nApplication-File: \"><img src=x onerror=alert(4)>.txt\r\n"
           b"Application-FileSize: 10\r\n\r\n")
    sb = conversation(client=("10.0.0.5", 40002), server=("10.0.0.3", 1863), t0=2.0, c2s=[
        b"USR 1 alice@x.com 1.2.3\r\n", b"MSG 2 N %d\r\n" % len(body) + body,
        b"MSG 3 N %d\r\n" % len(inv) + inv], s2c=[b"USR 1 OK alice@x.com A\r\n",
                                                 b"JOI bob@x.com %3Cimg%20src=y%3E\r\n"])
    path = write_pcap(tmp_path / "xss.pcap", ns + sb)
    page = report(tmp_path, str(path))
    dom = browser(tmp_path, page, tmp_path / "xss.png")
    el = parse(dom)
    assert el.title == "msnsniff report"
    assert "img" not in el.tags and el.tags.count("script") == 1 and el.tags.count("svg") == 1
    assert not [a for a in el.attrs if a[1].startswith("on")]
    styles = [a[2] for a in el.attrs if a[1] == "style"]
    assert all("url(" not in s and "background" not in s for s in styles)
    # the text is there, as text
    for shown in ("&lt;img src=x onerror=alert(1)&gt;", "&lt;svg onload=alert(2)&gt;",
                  "&lt;script&gt;document.title='pwned'&lt;/script&gt;&lt;b onmouseover=alert(5)&gt;hi&lt;/b&gt;",
                  "\"&gt;&lt;img src=x onerror=alert(4)&gt;.txt"):
        assert shown in dom, shown


def test_a_big_capture_gives_a_bounded_page(tmp_path):
    gen = subprocess.run([sys.executable, str(cap("").rsplit("captures", 1)[0] + "bench/gen.py"),
                          str(tmp_path / "big.pcap"), "--packets", "60000", "--msnp-fraction",
                          "1.0"], capture_output=True)
    assert gen.returncode == 0, gen.stderr
    page = report(tmp_path, str(tmp_path / "big.pcap"))
    size = page.stat().st_size
    assert size < 4_000_000, size                    # the documented bound (README)
    html = page.read_text()
    import re                                       # long lists are capped
    assert re.search(r"\d+ more contact lists — see <code>msnsniff read</code>", html)
    assert re.search(r"\d+ more connections not drawn", html)
    assert 'class="bin"' in html                     # the dense timeline is aggregated
    dom = browser(tmp_path, page)
    assert parse(dom).tags.count("svg") == 1
