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
    page = report(tmp_path, cap("msnp8_session.pcap"), cap("p2p_transfers.pcap.gz"))
    dom = browser(tmp_path, page, tmp_path / "report.png")
    assert (tmp_path / "report.png").stat().st_size > 10_000
    # accounts with the corrected port
    assert '<h3>alice@hotmail.com</h3>' in dom
    assert 'ClientPort reported <b class="reported-port">50637</b>, corrected ' \
           '<b class="corrected-port">52677</b> (byte-swapped reading matched) · NAT no' in dom
    # contacts with their list badges
    assert '<td class="passport">bob@hotmail.com</td><td>Bob</td><td class="psm"></td><td>' \
           '<span class="badge FL">FL' \
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


@pytest.mark.slow          # over 5 s: CI runs it (plain pytest); -m 'not slow' skips it
def test_a_big_capture_gives_a_bounded_page(tmp_path):
    gen = subprocess.run([sys.executable, str(cap("").rsplit("captures", 1)[0] + "bench/gen.py"),
                          str(tmp_path / "big.pcap"), "--packets", "60000", "--msnp-fraction",
                          "1.0"], capture_output=True)
    assert gen.returncode == 0, gen.stderr
    page = report(tmp_path, str(tmp_path / "big.pcap"))
    size = page.stat().st_size
    assert size < 4_000_000, size                    # the documented bound (README)
    html = page.read_text()
    import re  # long lists are capped
    assert re.search(r"\d+ more contact lists — see <code>msnsniff read</code>", html)
    # past 300 connections the lanes are aggregated: one per kind and one of messages,
    # with counts, so the drawing's height no longer grows with the capture
    lanes = re.findall(r'<text class="lane-label"[^>]*>([^<]*)</text>', html)
    assert [ln.split(":")[0] for ln in lanes] == ["dispatch", "notification", "switchboard",
                                                  "unknown", "messages"], lanes
    assert re.fullmatch(r"switchboard: [\d,]+ connections \(at most [\d,]+ open at once\)",
                        lanes[2])
    height = int(re.search(r'<svg class="timeline"[^>]* height="(\d+)"', html).group(1))
    assert height < 2500, height
    # every presence row drawn has bands (a busy contact is sampled, not left empty)
    names = re.findall(r'<text class="band-name" x="2" y="([\d.]+)"', html)
    band_rows = set(re.findall(r'<rect class="band" x="[\d.]+" y="([\d.]+)"', html))
    assert len(names) == 200 and {str(float(y) - 7).rstrip("0").rstrip(".") for y in names} \
        <= {y.rstrip("0").rstrip(".") if "." in y else y for y in band_rows}
    dom = browser(tmp_path, page)
    assert parse(dom).tags.count("svg") == 1


def _layout(tmp_path, page, width):
    """Chromium's layout of the page at ``width`` CSS pixels: the document's scroll
    width and each h2's and the timeline's box (a script appended to a copy of the page
    writes them into the DOM)."""
    probe = tmp_path / f"probe-{width}.html"
    script = ("<script>window.addEventListener('load',()=>{const r=[];"
              "r.push('doc '+document.documentElement.scrollWidth);"
              "for(const e of document.querySelectorAll('h2,svg.timeline')){"
              "const b=e.getBoundingClientRect();"
              "r.push(e.tagName+' '+Math.round(b.left)+' '+Math.round(b.right));}"
              "const p=document.createElement('pre');p.id='probe';"
              "p.textContent=r.join('\\n');document.body.appendChild(p);});</script>")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", script + "</body>"),
                     encoding="utf-8")
    prof = tmp_path / f"profile-{width}"
    r = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={prof}",
                        f"--window-size={width},900", "--dump-dom", probe.as_uri()],
                       capture_output=True, text=True, timeout=60)
    text = r.stdout.split('<pre id="probe">')[1].split("</pre>")[0]
    return [ln.split() for ln in text.splitlines()]


def test_the_page_fits_a_phone_and_a_desktop(tmp_path):
    page = report(tmp_path, cap("msnp8_session.pcap"), cap("p2p_transfers.pcap.gz"))
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in \
        page.read_text(encoding="utf-8")
    # (headless Chromium lays out no narrower than 500 px: a large phone)
    for width in (500, 1300):
        boxes = _layout(tmp_path, page, width)
        assert boxes[0][0] == "doc" and int(boxes[0][1]) <= width, (width, boxes[0])
        for tag, left, right in boxes[1:]:
            assert 0 <= int(left) and int(right) <= width, (width, tag, left, right)
        assert [b[0] for b in boxes].count("svg") == 1


def test_the_timeline_has_an_axis_a_legend_and_cuts_out_idle_days(tmp_path):
    # two captures 6.2 days apart: the idle stretch is a narrow break, not 99.9% of the
    # width; the axis says the time of day (and the date where it changes)
    page = report(tmp_path, cap("msnp8_session.pcap"), cap("p2p_transfers.pcap.gz"))
    html = page.read_text(encoding="utf-8")
    import re
    labels = re.findall(r'<text class="axis-label"[^>]*>([^<]*)</text>', html)
    assert labels == ["11-25 02:59:09.2", "02:59:09.4", "02:59:09.6", "12-01 08:50:22.8",
                      "08:50:23.0", "08:50:23.2"]
    assert re.findall(r'<rect class="break"[^>]*><title>([^<]*)</title>', html) == \
        ["6.2 d without traffic"]
    legend = re.search(r'<p class="legend">(.*?)</p>', html, re.S).group(1)
    assert re.findall(r'</span>([a-z/ -]+)</span>', legend)[:4] == [
        "dispatch", "file-transfer", "notification", "switchboard"]
    assert "online" in legend and "offline" in legend
    # no Python value and no "1 … changes" leaks into the page; empty sections say so
    assert not re.search(r">(True|False|None)<", html)
    assert not re.search(r"\b1 list changes", html)
    assert '<p class="muted">no damage or anomaly</p>' in html
    assert not re.search(r"<table[^>]*><tr>(<th>[^<]*</th>)+</tr>\s*</table>", html)
    # as Chromium lays it out: the break sits between the two captures' lanes, and every
    # axis label inside the drawing
    probe = tmp_path / "probe.html"
    script = ("<script>window.addEventListener('load',()=>{const r=[];"
              "const box=e=>{const b=e.getBoundingClientRect();"
              "return Math.round(b.left)+' '+Math.round(b.right);};"
              "r.push('svg '+box(document.querySelector('svg.timeline')));"
              "r.push('break '+box(document.querySelector('rect.break')));"
              "for(const e of document.querySelectorAll('text.axis-label'))r.push('axis '+box(e));"
              "for(const e of document.querySelectorAll('rect.lane'))r.push('lane '+box(e));"
              "const p=document.createElement('pre');p.id='probe';"
              "p.textContent=r.join('\\n');document.body.appendChild(p);});</script>")
    probe.write_text(html.replace("</body>", script + "</body>"), encoding="utf-8")
    r = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'prof'}",
                        "--window-size=1300,900", "--dump-dom", probe.as_uri()],
                       capture_output=True, text=True, timeout=60)
    rows = [ln.split() for ln in
            r.stdout.split('<pre id="probe">')[1].split("</pre>")[0].splitlines()]
    svg_l, svg_r = map(int, rows[0][1:])
    brk_l, brk_r = map(int, rows[1][1:])
    for kind, left, right in rows[2:]:
        if kind == "axis":
            assert svg_l <= int(left) and int(right) <= svg_r + 30, (left, right)
    lanes = [(int(a), int(b)) for k, a, b in rows if k == "lane"]
    first, second = lanes[:9], lanes[9:]                 # 9 connections in msnp8_session
    assert max(b for _, b in first) <= brk_l + 1 and min(a for a, _ in second) >= brk_r - 1
    assert brk_r - brk_l < 0.03 * (svg_r - svg_l)


def _hostile_page_capture(path):
    """Small captures whose text is made to fill a page: every character of the names
    and messages is ``<`` (escaped five times larger), 3 contact lists of 500 such
    names, a conversation of 500 such messages, one far longer, and 40 personal
    messages.  Without a byte budget the page was 5.5 MB from 2.7 MB of capture."""
    name = b"%3C" * 380
    login_c = [b"VER 1 MSNP8 CVR0\r\n", b"USR 3 TWN I eve@hotmail.com\r\n", b"SYN 4 0\r\n"]
    packets = []
    for k in range(3):
        lst = b"".join(b"LST c%d@x.com %s 11 0\r\n" % (i, name) for i in range(500))
        s2c = [b"VER 1 MSNP8 CVR0\r\n", b"USR 3 OK eve@hotmail.com Eve 1 0\r\n",
               b"SYN 4 1 500 0\r\n"] + [lst[i:i + 1400] for i in range(0, len(lst), 1400)]
        packets += conversation(client=("10.0.0.1", 40000 + k), s2c=s2c, c2s=login_c,
                                t0=10.0 + k)
    psm = [b"UUX %d %d\r\n" % (10 + i, len(x)) + x for i, x in enumerate(
        b"<Data><PSM>%s %d</PSM><CurrentMedia></CurrentMedia></Data>" % (b"&lt;" * 300, i)
        for i in range(40))]
    packets += conversation(client=("10.0.0.1", 40010), c2s=login_c[:2] + psm,
                            s2c=[b"VER 1 MSNP10 CVR0\r\n", b"USR 3 OK eve@hotmail.com Eve 1 0\r\n"],
                            t0=20.0)
    texts = [b"<" * 1400] * 499 + [b"<" * 5000]
    msgs = []
    for i, t in enumerate(texts):
        body = b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n" + t
        msgs.append(b"MSG %d N %d\r\n" % (i + 2, len(body)) + body)
    packets += conversation(client=("10.0.0.1", 41000), server=("10.0.0.3", 1863),
                            c2s=[b"USR 1 eve@hotmail.com 1.2.3\r\n"] + msgs,
                            s2c=[b"USR 1 OK eve@hotmail.com Eve\r\n"], t0=30.0)
    packets.sort(key=lambda p: p[0])
    return write_pcap(path, packets)


def test_text_made_to_fill_the_page_keeps_it_under_4_mb(tmp_path):
    import re
    page = report(tmp_path, _hostile_page_capture(tmp_path / "fill.pcap"))
    size = page.stat().st_size
    assert size < 4_000_000, size
    html = page.read_text()
    # the conversation says how many lines it has, shows some and counts the rest
    conv = html[html.index('<details class="conversation"'):]
    shown = conv.count('<div class="line')
    assert "eve@hotmail.com" in conv and " · 500 lines" in conv
    assert 0 < shown < 500
    assert f"{500 - shown} more — see <code>msnsniff chats</code>" in conv
    # the contact lists: each listed, the first with rows, the rest counted
    heads = re.findall(r'<h3 id="session-\d+">session \d+ · eve@hotmail.com</h3>', html)
    assert len(heads) == 3
    mores = [int(n) for n in re.findall(r"<p class=\"more\">(\d+) more — see <code>msnsniff "
                                        r"read</code></p>", html)]
    rows = html.count('<td class="passport">c')
    assert rows + sum(mores) == 1500 and rows >= 3
    # one personal message per change is on the card up to 20, then a count
    assert html.count("&amp;lt;" * 300) == 0 and html.count("&lt;" * 300 + " ") == 20
    assert '<span class="more">20 more</span>' in html
    dom = browser(tmp_path, page)
    assert parse(dom).title.startswith("msnsniff report")


def test_contacts_show_their_personal_messages(tmp_path):
    """Each contact row says the contact's last personal message seen on that session
    (UBX), escaped: bob's differs between the MSNP11 and the MSNP15 session."""
    import re
    html = report(tmp_path, cap("msnp_dialects.pcap")).read_text()

    def row(session, passport):
        block = html[html.index(f'<h3 id="session-{session}">'):]
        block = block[:block.index("</table>")]
        return re.search(rf'<tr><td class="passport">{re.escape(passport)}</td>.*?</tr>',
                         block).group(0)
    assert '<td class="psm">“Parti &amp; revenu &lt;3”</td>' in row(2, "bob@example.com")
    assert '<td class="psm">“Quinze &amp; demi”</td>' in row(7, "bob@example.com")
    assert '<td class="psm"></td>' in row(7, "carol@example.com")
