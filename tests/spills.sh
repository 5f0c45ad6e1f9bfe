#!/usr/bin/env bash
# tests/spills.sh FILE.s...: do the emitted kernels keep their register
# blocks in registers? In each kernel function of the assembly (a name
# ending _block, _rows or _panel, or a shared block named block_..., as GCC
# may suffix them: .constprop.0), the
# loop that does the multiply-adds, from the last label before its first
# one to the first jump after its last, must not move a vector register to
# or from the stack. x86-64 (AT&T syntax: %xmm/%ymm/%zmm against (%rsp) or
# (%rbp)) and AArch64 (q/v/d/s registers against [sp). Prints one line per
# kernel that does, "FILE: FUNCTION: N", and exits 1 if any does; 0 when
# every kernel is clean. Make the assembly with -S -fno-inline, so that each
# kernel is a function of its own (test_targets.c does).
set -u
[ $# -gt 0 ] || { echo "usage: tests/spills.sh FILE.s..." >&2; exit 2; }
bad=0
for f in "$@"; do
    awk -v file="$f" '
    function flush(   i, first, last, from, to, n) {
        if (fn !~ /(_(block|rows|panel)|^(wino_)?block_[a-z0-9_]*)([.]|$)/) return
        first = 0; last = 0
        for (i = 1; i <= nl; i++)
            if (line[i] ~ /vfmadd|vfnmadd|fmla|mulps/) { if (!first) first = i; last = i }
        if (!first) return
        from = first
        while (from > 1 && line[from] !~ /^[.A-Za-z_][A-Za-z_0-9.]*:/) from--
        to = last
        while (to < nl && line[to] !~ /^[ \t]+(j[a-z]+|b[.a-z]*|cb[n]?z)[ \t]/) to++
        n = 0
        for (i = from; i <= to; i++)
            if (line[i] ~ /%[xyz]mm[0-9]+.*[(]%r[sb]p[)]|[(]%r[sb]p[)].*%[xyz]mm[0-9]+/ ||
                (line[i] ~ /\[sp/ && line[i] ~ /[ \t,][qvds][0-9]+/))
                n++
        if (n) { printf "%s: %s: %d vector stack accesses in its loop\n", file, fn, n; bad = 1 }
    }
    /^[A-Za-z_][A-Za-z_0-9.]*:/ { flush(); fn = substr($1, 1, length($1) - 1); nl = 0; next }
    { line[++nl] = $0 }
    END { flush(); exit bad }' "$f" || bad=1
done
exit $bad
