#!/bin/bash
# tests/same_emit.sh [REV]: does this tree's aec emit the same C as aec at REV
# (default HEAD)? Builds aec at REV in a temporary worktree, emits MODEL.c and
# MODEL.h for every models/*.ae and tests/models/*.ae with both, and compares
# them byte for byte. Prints each model as same or different; exits 1 on any
# difference, 2 when either aec cannot be built.
set -u
rev=${1:-HEAD}
root=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel) || exit 2
tmp=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$tmp/old" >/dev/null 2>&1; rm -rf "$tmp"' EXIT

git -C "$root" worktree add --detach "$tmp/old" "$rev" >/dev/null 2>&1 || { echo "same_emit: no revision $rev" >&2; exit 2; }
make -C "$tmp/old" build/aec >"$tmp/old.log" 2>&1 || { cat "$tmp/old.log" >&2; exit 2; }
make -C "$root" build/aec >"$tmp/new.log" 2>&1 || { cat "$tmp/new.log" >&2; exit 2; }

status=0
for ae in "$root"/models/*.ae "$root"/tests/models/*.ae; do
    rel=${ae#"$root"/}
    dir=$(dirname "$rel")
    name=$(basename "$ae" .ae)
    "$tmp/old/build/aec" emit "$ae" -o "$tmp/a/$dir" 2>"$tmp/a.err"; a=$?
    "$root/build/aec" emit "$ae" -o "$tmp/b/$dir" 2>"$tmp/b.err"; b=$?
    if [ $a -eq $b ] && cmp -s "$tmp/a.err" "$tmp/b.err" &&
       cmp -s "$tmp/a/$dir/$name.c" "$tmp/b/$dir/$name.c" &&
       cmp -s "$tmp/a/$dir/$name.h" "$tmp/b/$dir/$name.h"; then
        echo "same       $rel"
    else
        echo "different  $rel"
        status=1
    fi
done
exit $status
