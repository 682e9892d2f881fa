"""Give the Escargot server a fresh database with the two test accounts.

Run from the Escargot source tree with its virtualenv (the server must be stopped):

    cd /tmp/escargot && /tmp/escvenv/bin/python captures/escargot/reset_db.py

Creates escargot.sqlite / stats.sqlite from Escargot's own models (script/dbcreate.py) and
the users alice@example.com and bob@example.com, password "secret123", with the MD5 hash
that MSNP2-7 logins need too (script/user.py's set_passwords, oldmsn=True).  Nothing of
Escargot's code is changed; this only uses its scripts as a library.
"""
import os
import sys

sys.path.insert(0, os.getcwd())

import settings  # noqa: E402
from core.conn import Conn  # noqa: E402
from core.db import User  # noqa: E402
from script.dbcreate import create_dbs  # noqa: E402  (Escargot's own script)
from script.user import set_passwords  # noqa: E402
from util import misc  # noqa: E402

USERS = [('alice@example.com', 'alice'), ('bob@example.com', 'bob')]
PASSWORD = 'secret123'


def main():
    for f in ('escargot.sqlite', 'stats.sqlite'):
        if os.path.exists(f):
            os.remove(f)
    create_dbs()
    conn = Conn(settings.DB)
    with conn.session() as sess:
        for email, username in USERS:
            user = User(uuid=misc.gen_uuid(), email=email, username=username, verified=False,
                        friendly_name=email, groups={}, settings={})
            set_passwords(user, PASSWORD, support_old_msn=True)
            sess.add(user)
    print('fresh database with', ', '.join(e for e, _ in USERS))


if __name__ == '__main__':
    main()
