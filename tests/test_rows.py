"""Rows made once, in the shape the outputs need (issue 29): the model makes the rows of
the common tables with every column in the schema's order, and Rows hands them on as
they are instead of copying each one."""

from conftest import cap

from msnsniff.engine.analyze import CaptureEnd, CaptureNotice, Rows, Run
from msnsniff.model import Analysis
from msnsniff.model.schema import TABLES

COLUMNS = {t: [c[0] for c in cols] for t, cols in TABLES.items()}

# the tables of nearly every row of a dense capture
SHAPED = ("contacts", "groups", "presence", "personal_messages", "list_changes",
          "notifications", "messages", "participants", "challenges", "errors")


def test_the_model_makes_the_common_tables_rows_in_their_columns_order():
    seen: dict = {}
    other: list = []

    def sink(table, row):
        if table in SHAPED:
            # every column in order, then the order the rows were made in (_seq); kept
            # for the end (the model turns an error in its sink into an anomaly row)
            keys = list(row)
            if keys not in (COLUMNS[table], COLUMNS[table] + ["_seq"]):
                other.append((table, keys))
            seen[table] = seen.get(table, 0) + 1
    for name in ("msnp8_session.pcap", "fidelity.pcap", "msnp_dialects.pcap",
                 "escargot_msnp18_mpop.pcap.gz", "p2p_wlm.pcap.gz"):
        a = Analysis(sink=sink)
        for ev in Run([cap(name)]).events():
            if type(ev) is CaptureEnd:
                a.finish()
            elif type(ev) is not CaptureNotice:
                a.apply(ev)
    assert other == []
    assert sorted(seen) == sorted(SHAPED)         # every such table was seen


def test_rows_hands_a_row_in_shape_on_without_a_copy_and_copies_the_others():
    got = []
    rows = Rows("c.pcap", emit=lambda t, r: got.append(r))
    shaped = dict.fromkeys(COLUMNS["groups"])
    shaped.update(session=1, group_id="0", name="Friends")
    rows("groups", shaped)
    assert got[0] is shaped and got[0]["capture"] == "c.pcap"
    loose = {"name": "Work", "group_id": "1", "session": 2, "extra": 1}
    rows("groups", loose)
    assert got[1] is not loose
    assert got[1] == {"session": 2, "capture": "c.pcap", "owner": None, "group_id": "1",
                      "name": "Work"}
    assert list(got[1]) == COLUMNS["groups"]
