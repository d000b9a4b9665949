#!/usr/bin/env bash
# import_archive.sh: imports from archives (.tar, .tar.gz, .tar.zst, .zip, made here with
# python3's tarfile/zipfile and zstd), streamed and never extracted: plain data files inside,
# and a whole export inside (manifests checked, only listed files read, markers skipped,
# tidemark-schema.json used even when it comes after the data); and plain gzip/zstd files.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
# --json prints the aws CLI's indented form: assertions read it compacted (key order kept)
jc() { python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1]), separators=(",", ":"), ensure_ascii=False))' "$1"; }
make_home
MK="python3 $TM_ROOT/tests/import/mkexport.py"
W="$TM_HOME/w"; mkdir -p "$W"; cd "$W"
same_items() {
  tidemark scan --table "$1" | $MK canon > got
  $MK canon < "$2" > want
  cmp -s got want || { diff want got | head -5; fail "table $1 differs from $2"; }
}
$MK items 300 > items.jsonl
d=$($MK export --items items.jsonl --out "$W/exp" --prefix pre --files 3 --schema pk:S,sk:N)
# an extra, unlisted file in the export dir and a README at the top: ignored
echo '{"Item":{"pk":{"S":"intruder"},"sk":{"N":"1"}}}' | gzip > "$d/data/unlisted.json.gz"

python3 - "$W/exp" <<'PY'
import io, os, sys, tarfile, zipfile, subprocess
root = sys.argv[1]
files = []
for dp, dn, fn in os.walk(root):
    for f in fn:
        p = os.path.join(dp, f)
        files.append((os.path.relpath(p, root), p))
# data first, manifests and schema last (tar order is what the archiver saw)
files.sort(key=lambda x: (not x[0].startswith("pre/AWSDynamoDB/01700000000000-0123abcd/data"), x[0]))
def tar(name, mode):
    with tarfile.open(name, mode) as t:
        ti = tarfile.TarInfo("README"); data = b"not an item\n"; ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
        for rel, p in files:
            t.add(p, arcname="./" + rel)
tar("exp.tar", "w")
tar("exp.tar.gz", "w:gz")
with zipfile.ZipFile("exp.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for rel, p in files:
        z.write(p, rel)
# plain JSON lines (no manifests) in a zip and a tar.zst
items = open("items.jsonl", "rb").read().splitlines(keepends=True)
with zipfile.ZipFile("plain.zip", "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("dir/", b"")
    z.writestr("dir/a.json", b"".join(items[:150]))
    z.writestr("dir/b.json", b"".join(items[150:]))
with tarfile.open("plain.tar", "w") as t:
    for i, chunk in enumerate((items[:100], items[100:])):
        data = b"".join(chunk); ti = tarfile.TarInfo("part-%d.json" % i); ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
PY
zstd -q exp.tar -o exp.tar.zst
zstd -q plain.tar -o plain.tar.zst

for a in exp.tar exp.tar.gz exp.tar.zst exp.zip; do
  t="A_$(echo "$a" | tr . _)"
  expect_exit 0 tidemark-import --from "$a" --table "$t" --json
  same_items "$t" items.jsonl
  assert_contains "$ERR" "imported 300 items into $t (300 in the table, 0 rejected) from 3 files"
  assert_contains "$(jc "$OUT")" '"ImportStatus":"COMPLETED"'
done
for a in plain.zip plain.tar.zst; do
  t="P_$(echo "$a" | tr . _)"
  expect_exit 0 tidemark-import --from "$a" --table "$t" --key pk:S --sort-key sk:N
  same_items "$t" items.jsonl
  assert_contains "$ERR" "from 2 files"
done
# an archived export whose data file is missing or altered fails like a directory would
python3 - <<'PY'
import tarfile
with tarfile.open("exp.tar") as src, tarfile.open("missing.tar", "w") as dst:
    for m in src.getmembers():
        if m.name.endswith("file01.json.gz"): continue
        dst.addfile(m, src.extractfile(m) if m.isfile() else None)
with tarfile.open("exp.tar") as src, tarfile.open("altered.tar", "w") as dst:
    import io, gzip
    for m in src.getmembers():
        f = src.extractfile(m) if m.isfile() else None
        if m.name.endswith("file01.json.gz"):
            lines = gzip.decompress(f.read()).splitlines(keepends=True)
            data = gzip.compress(b"".join(lines[:-1]))      # one item fewer
            m.size = len(data); f = io.BytesIO(data)
        dst.addfile(m, f)
PY
expect_exit 1 tidemark-import --from missing.tar --table Miss
assert_eq "tidemark-import: import failed: data file data/file01.json.gz listed in manifest-files.json is missing from missing.tar (dataFileS3Key pre/AWSDynamoDB/01700000000000-0123abcd/data/file01.json.gz)" "$ERR"
expect_exit 1 tidemark-import --from altered.tar --table Alt
assert_contains "$ERR" "tidemark-import: import failed: $W/altered.tar!/pre/AWSDynamoDB/01700000000000-0123abcd/data/file01.json.gz: MD5 "
tidemark describe-table --table Miss >/dev/null 2>&1 && fail "table Miss"
tidemark describe-table --table Alt >/dev/null 2>&1 && fail "table Alt"
# a bomb inside a tar.gz is bounded too
python3 -c '
import tarfile, io
class Z(io.RawIOBase):
    def __init__(s, n): s.n = n
    def readable(s): return True
    def readinto(s, b):
        k = min(len(b), s.n); b[:k] = b"\n" * k; s.n -= k; return k
with tarfile.open("bomb.tar.gz", "w:gz", compresslevel=9) as t:
    ti = tarfile.TarInfo("x.json"); ti.size = 300 << 20; t.addfile(ti, io.BufferedReader(Z(ti.size)))
'
expect_exit 1 tidemark-import --from bomb.tar.gz --table Bomb --key pk:S --max-ratio 100
assert_contains "$ERR" "bomb.tar.gz: archive expands more than 100:1 (a compression bomb?) (--max-ratio)"
# error pointers name the entry inside the archive
python3 -c '
import zipfile
with zipfile.ZipFile("bad.zip", "w") as z: z.writestr("in/x.json", "{\"Item\":{\"sk\":{\"N\":\"1\"}}}\n")'
expect_exit 3 tidemark-import --from bad.zip --table BadZip --key pk:S --error-log e.jsonl
assert_eq "{\"itemS3Pointer\":{\"bucket\":\"w\",\"key\":\"$W/bad.zip!/in/x.json\",\"itemIndex\":0},\"errorMessages\":[\"One or more parameter values were invalid: Missing the key pk in the item\"]}" "$(cat e.jsonl)"
# links are never followed, the same in tar and zip: a symbolic link that would be data fails
# the import naming it (its bytes are not in the archive); a hard link (its bytes are read under
# the name it links to) and a link the manifest does not list are skipped, named on stderr and
# in --json's SkippedEntries (absent when nothing was skipped)
python3 - "$W/exp" <<'PY'
import io, os, sys, tarfile, zipfile
root = sys.argv[1]
items = open("items.jsonl", "rb").read()
def zlink(z, name, target):
    zi = zipfile.ZipInfo(name); zi.create_system = 3; zi.external_attr = (0o120777 << 16)
    z.writestr(zi, target)
def tlink(t, name, target, kind=tarfile.SYMTYPE):
    ti = tarfile.TarInfo(name); ti.type = kind; ti.linkname = target; t.addfile(ti)
def tfile(t, name, data):
    ti = tarfile.TarInfo(name); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
with zipfile.ZipFile("slink.zip", "w") as z:
    z.writestr("d/a.json", items); zlink(z, "d/b.json", "/etc/passwd")
with tarfile.open("slink.tar", "w") as t:
    tfile(t, "d/a.json", items); tlink(t, "d/b.json", "/etc/passwd")
with tarfile.open("hlink.tar", "w") as t:
    tfile(t, "d/a.json", items); tlink(t, "d/b.json", "d/a.json", tarfile.LNKTYPE)
# an export with an extra link beside it, and one whose listed data file is a link
with tarfile.open("exp.tar") as src, tarfile.open("explink.tar", "w") as dst, \
     tarfile.open("expdata.tar", "w") as dst2, zipfile.ZipFile("explink.zip", "w") as z:
    for m in src.getmembers():
        f = src.extractfile(m).read() if m.isfile() else None
        dst.addfile(m, io.BytesIO(f) if f is not None else None)
        if m.name.endswith("file01.json.gz"): tlink(dst2, m.name, "/tmp/elsewhere.json.gz")
        else: dst2.addfile(m, io.BytesIO(f) if f is not None else None)
        if f is not None: z.writestr(m.name[2:], f)
    tlink(dst, "./latest", "pre/AWSDynamoDB/01700000000000-0123abcd")
    zlink(z, "latest", "pre/AWSDynamoDB/01700000000000-0123abcd")
PY
for a in slink.zip slink.tar; do
  expect_exit 1 tidemark-import --from "$a" --table Link --key pk:S --sort-key sk:N
  assert_eq "tidemark-import: import failed: $a: archive entry d/b.json is a symbolic link to /etc/passwd: links in an archive are never followed; make the archive with the files themselves (tar -h, zip without -y)" "$ERR"
  tidemark describe-table --table Link >/dev/null 2>&1 && fail "table Link from $a"
done
expect_exit 0 tidemark-import --from hlink.tar --table HLink --key pk:S --sort-key sk:N --json
same_items HLink items.jsonl
assert_contains "$ERR" "tidemark-import: hlink.tar: archive entry d/b.json is a hard link of d/a.json: skipped (its data is read once, under the name it links to)"
assert_contains "$(jc "$OUT")" '"SkippedEntries":[{"Entry":"d/b.json","Reason":"hard link of d/a.json: its data is read once, under the name it links to"}],"SkippedEntryCount":1'
for a in explink.tar explink.zip; do
  t="E_$(echo "$a" | tr . _)"
  expect_exit 0 tidemark-import --from "$a" --table "$t" --json
  same_items "$t" items.jsonl
  assert_contains "$ERR" "tidemark-import: $a: archive entry latest is a symbolic link to pre/AWSDynamoDB/01700000000000-0123abcd: skipped (not a file the manifest lists)"
  assert_contains "$(jc "$OUT")" '"SkippedEntries":[{"Entry":"latest","Reason":"symbolic link to pre/AWSDynamoDB/01700000000000-0123abcd: not a file the manifest lists"}],"SkippedEntryCount":1'
done
expect_exit 0 tidemark-import --from exp.tar --table ENoLink --json
case "$OUT" in *Skipped*) fail "SkippedEntries without a skipped entry: $OUT" ;; esac
expect_exit 1 tidemark-import --from expdata.tar --table ELink
assert_eq "tidemark-import: import failed: expdata.tar: archive entry pre/AWSDynamoDB/01700000000000-0123abcd/data/file01.json.gz is a symbolic link to /tmp/elsewhere.json.gz: links in an archive are never followed; make the archive with the files themselves (tar -h, zip without -y)" "$ERR"
echo "import_archive: ok"
