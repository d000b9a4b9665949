#!/usr/bin/python3
"""awscli_compare.py OPERATION AWS OURS WIRE [OWN,...]: compares a program's --json output (OURS) with
what the aws CLI prints for the same wire response (AWS: awscli_format.py's output for WIRE),
field by field, timestamps included. Exit 0 when they agree, 1 (saying where) when not.

Agree means: every field of AWS is in OURS, equal and of the same JSON type; a field only in
OURS is allowed only where the installed botocore model does not know it (a member newer than
this awscli, e.g. ExportType, or tidemark's own, e.g. SkippedEntries) AND the wire response has
it at the same place: the front end invents nothing. No "Tidemark..." member may remain (front
ends strip them), except the members named in OWN (tidemark's own that a program prints on
purpose, e.g. `tidemark describe-table --json`'s Tidemark), and those only where the wire response
has them too. Exit 77 when botocore cannot be imported (the caller prints SKIP)."""
import json
import sys

sys.path.insert(0, "/usr/lib/python3/dist-packages")
try:
    import botocore.session
except Exception as e:  # noqa: BLE001 - any import failure means: not available here
    print("botocore not importable: %s" % e, file=sys.stderr)
    sys.exit(77)


def known(shape, name):
    return shape is not None and shape.type_name == "structure" and name in shape.members


def child(shape, key):
    if shape is None:
        return None
    if shape.type_name == "structure":
        return shape.members.get(key)
    if shape.type_name == "list":
        return shape.member
    if shape.type_name == "map":
        return shape.value
    return None


OWN = set()


def compare(op, aws, ours, wire, shape, path, notes):
    ok = True
    if isinstance(aws, dict):
        if not isinstance(ours, dict):
            print("%s: %s: not an object in tidemark's" % (op, path))
            return False
        for k in aws:
            if k not in ours:
                print("%s: %s.%s missing in tidemark's" % (op, path, k))
                ok = False
            else:
                w = wire.get(k) if isinstance(wire, dict) else None
                ok = compare(op, aws[k], ours[k], w, child(shape, k), path + "." + k, notes) and ok
        for k in ours:
            if k in aws:
                continue
            if k.startswith("Tidemark") and k not in OWN:
                print("%s: %s.%s: a Tidemark member left in --json" % (op, path, k))
                ok = False
            elif known(shape, k):
                print("%s: %s.%s only in tidemark's (the model knows it: aws would print it)" % (op, path, k))
                ok = False
            elif not isinstance(wire, dict) or k not in wire:
                print("%s: %s.%s only in tidemark's, and not in the wire response" % (op, path, k))
                ok = False
            else:
                notes.add(path + "." + k)
        return ok
    if isinstance(aws, list):
        if not isinstance(ours, list) or len(aws) != len(ours):
            print("%s: %s: lists differ" % (op, path))
            return False
        wl = wire if isinstance(wire, list) and len(wire) == len(aws) else [None] * len(aws)
        return all([compare(op, a, o, w, child(shape, 0), "%s[%d]" % (path, i), notes)
                    for i, (a, o, w) in enumerate(zip(aws, ours, wl))])
    if aws != ours or type(aws) is not type(ours):
        print("%s: %s: aws %r, tidemark %r" % (op, path, aws, ours))
        return False
    return True


def main():
    op, aws, ours, wire = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    if len(sys.argv) > 5:
        OWN.update(n for n in sys.argv[5].split(",") if n)
    model = botocore.session.get_session().get_service_model("dynamodb")
    shape = model.operation_model(op).output_shape
    if aws.strip() == "" or ours.strip() == "":
        sys.exit(0 if aws.strip() == ours.strip() else 1)
    notes = set()
    ok = compare(op, json.loads(aws), json.loads(ours), json.loads(wire), shape, op, notes)
    for n in sorted(notes):
        print("%s: %s: not in this awscli's model; present in the wire response" % (op, n))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
