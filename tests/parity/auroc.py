"""sklearn's AUROC, the oracle of aec's (tests/test_score.c).

    /usr/bin/python3 tests/parity/auroc.py SCORES.csv OUT.txt

SCORES.csv: a header, then rows set,anomaly,score (anomaly 0 or 1): one or
more sets of scores. OUT.txt: for each set in order of first appearance, the
AUROC of sklearn.metrics.roc_auc_score, %.17g, a line each.
"""
import sys

import numpy as np
from sklearn.metrics import roc_auc_score

d = np.loadtxt(sys.argv[1], delimiter=",", skiprows=1, ndmin=2)
sets = list(dict.fromkeys(d[:, 0].astype(int)))
with open(sys.argv[2], "w") as f:
    for s in sets:
        rows = d[d[:, 0] == s]
        f.write("%.17g\n" % roc_auc_score(rows[:, 1].astype(int), rows[:, 2]))
