#!/bin/bash
# tests/cycles.sh DIR...: import cycles among the modules whose objects lie
# under DIR... (a module is one .c file, i.e. one .o). Module A calls module
# B when A leaves a symbol undefined (nm -u) that B defines (nm
# --defined-only). Prints the folders' graph (who calls whom, by the folder
# of each object below its DIR), then every cycle: a strongly connected
# component of more than one module, or of more than one folder. Exits 1 on
# any cycle, 2 on bad arguments.
#   tests/cycles.sh build/cc         the compiler
#   tests/cycles.sh build/rt         the runtime
[ $# -gt 0 ] || { echo "usage: tests/cycles.sh DIR..." >&2; exit 2; }
for d in "$@"; do
    [ -d "$d" ] || { echo "cycles: no directory $d" >&2; exit 2; }
done
# one line per symbol: "def|use MODULE SYMBOL"
for d in "$@"; do
    find "$d" -name '*.o' | sort | while read -r o; do
        mod=${o#"$d"/}
        mod=${mod%.o}
        nm --defined-only -g "$o" | awk -v m="$mod" 'NF == 3 { print "def", m, $3 }'
        nm -u "$o" | awk -v m="$mod" '{ print "use", m, $NF }'
    done
done | python3 -c '
import sys, collections
defs, uses = {}, collections.defaultdict(set)
for line in sys.stdin:
    kind, mod, sym = line.split()
    if kind == "def":
        defs[sym] = mod
    else:
        uses[mod].add(sym)
mods = set(defs.values()) | set(uses)
graph = {m: sorted({defs[s] for s in uses[m] if s in defs and defs[s] != m}) for m in mods}

def folder(m):
    return m.rsplit("/", 1)[0] if "/" in m else "."

fgraph = collections.defaultdict(set)
for m, callees in graph.items():
    for c in callees:
        if folder(c) != folder(m):
            fgraph[folder(m)].add(folder(c))
for f in sorted({folder(m) for m in mods}):
    print("folder %-10s calls %s" % (f + "/", " ".join(x + "/" for x in sorted(fgraph[f])) or "nothing"))

def sccs(nodes, edges):
    index, low, stack, on, out = {}, {}, [], set(), []
    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v); on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))
    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out

bad = 0
for comp in sccs(mods, graph):
    bad = 1
    print("cycle of modules:", " ".join(comp))
    for m in comp:
        print("   ", m, "->", " ".join(c for c in graph[m] if c in comp))
for comp in sccs({folder(m) for m in mods}, {k: sorted(v) for k, v in fgraph.items()}):
    bad = 1
    print("cycle of folders:", " ".join(comp))
print("%d modules: %s" % (len(mods), "cycles found" if bad else "no cycle"))
sys.exit(bad)
'
