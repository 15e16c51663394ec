#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""test-licence.py — every source file of the tree says its licence: an SPDX-License-Identifier
line in its first three lines (a shebang may come first), matching the
project's licence in meson.build and the LICENSE text. Files are those git tracks; without git
(a release tarball) the case is skipped."""
import os
import re
import subprocess
import sys

SOURCE = os.environ["VD_SOURCE_ROOT"]
# Not sources: the fuzzers' corpus (data), prose, and the licence texts themselves.
EXEMPT = re.compile(r"^(fuzz/corpus/|.*\.md$|LICENSE$|NEWS$|\.gitignore$)")

r = subprocess.run(["git", "-C", SOURCE, "ls-files"], capture_output=True, text=True)
if r.returncode != 0:
    print("1..0 # SKIP not a git checkout: %s" % r.stderr.strip())
    sys.exit(0)
licence = re.search(r"license: '([^']+)'", open(os.path.join(SOURCE, "meson.build")).read()).group(1)
missing, wrong = [], []
for path in r.stdout.split("\n"):
    if not path or EXEMPT.match(path) or not os.path.isfile(os.path.join(SOURCE, path)):
        continue
    with open(os.path.join(SOURCE, path), "rb") as f:
        head = b"".join(f.readline() for _ in range(3)).decode("utf-8", "replace")
    m = re.search(r"SPDX-License-Identifier: (\S+)", head)
    if not m:
        missing.append(path)
    elif m.group(1) != licence:
        wrong.append("%s: %s" % (path, m.group(1)))
ok = not missing and not wrong
print("%s 1 - every tracked source file has an SPDX-License-Identifier of %s" % ("ok" if ok else "not ok", licence))
for p in missing:
    print("# no SPDX line: " + p)
for p in wrong:
    print("# another licence: " + p)
gpl3 = "GNU GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007"
text = open(os.path.join(SOURCE, "LICENSE")).read()
ok2 = licence.startswith("GPL-3.0") and gpl3 in text
print("%s 2 - LICENSE is the GPL version 3 text that %s names" % ("ok" if ok2 else "not ok", licence))
print("1..2")
sys.exit(0 if ok and ok2 else 1)
