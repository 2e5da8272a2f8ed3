#!/usr/bin/env python3
"""Writes our private conformance scenarios (steps only, no goldens).

The scenario files in scenarios/ are the source of truth once recorded: this
script only creates files that do not exist yet, unless their names are given
with --force (which drops their goldens: re-record them afterwards with
`qmpcheck.py --oracle --record -k NAME test/conformance/scenarios`).

    python3 test/conformance/generate.py            # create missing scenarios
    python3 test/conformance/generate.py --force sync-lookup-errors
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "scenarios")

SCENARIOS = []


def scenario(name, description, steps, setup=(), args=(), tags=(), negotiate=True, drive=False):
    s = {"name": name, "visibility": "private", "description": description}
    if drive:
        s["requires"] = ["drive"]
    s["tags"] = list(tags)
    s["setup"] = list(setup)
    s["args"] = [list(a) for a in args]
    if not negotiate:
        s["negotiate"] = False
    s["steps"] = steps
    SCENARIOS.append(s)


# ---- step helpers -----------------------------------------------------------

def Q(cmd, args=None, id=None, note=None, transform=None, key="execute"):
    m = {key: cmd}
    if args is not None:
        m["arguments"] = args
    if id is not None:
        m["id"] = id
    s = {"qmp": m}
    if transform is not None:
        s["transform"] = transform
    if note:
        s["note"] = note
    return s


def RAW(text, n=1, note=None, delay=None):
    s = {"raw": text, "responses": n}
    if delay is not None:
        s["delay"] = delay
    if note:
        s["note"] = note
    return s


def HEX(h, n=1, note=None):
    s = {"raw_hex": h, "responses": n}
    if note:
        s["note"] = note
    return s


def SH(cmd, json_out=False, note=None):
    s = {"shell": cmd}
    if json_out:
        s["json"] = True
    if note:
        s["note"] = note
    return s


NODE_KEYS = ["node-name", "drv", "ro", "file", "backing_file"]


def NODES(keys=None, note=None):
    return Q("query-named-block-nodes", {"flat": True}, note=note,
             transform=[{"kind": "select", "keys": keys or NODE_KEYS}])


def BITMAPS(note=None):
    return NODES(["node-name", "dirty-bitmaps"], note=note)


def GRAPH(note=None):
    return Q("x-debug-query-block-graph", note=note)


def EXPORTS(note=None):
    return Q("query-block-exports", note=note)


def LS(note=None):
    return SH("ls -1 *.qcow2 *.raw *.img 2>/dev/null; true", note=note)


def INFO(f, chain=False, note=None):
    return SH("qemu-img info -U --output=json %s%s" % ("--backing-chain " if chain else "", f),
              json_out=True, note=note)


def DIRTYMAP(f, name, sock="b.sock"):
    """The stored bitmap's bits, read back by qemu-nbd and nbdinfo after the daemon is gone."""
    return SH(f"(qemu-nbd -r -f qcow2 -B {name} -k \"$TMP/{sock}\" {f} &); for i in $(seq 50); do "
              f"[ -S {sock} ] && break; sleep 0.1; done; "
              f"nbdinfo --map=qemu:dirty-bitmap:{name} 'nbd+unix:///?socket={sock}'",
              note="the stored bitmap's bits, read back by qemu-nbd")


def QUIT():
    return [Q("quit"), {"wait_exit": 3.0}]


def EVENTS(*names, note=None):
    s = {"events": list(names), "timeout": 2.0}
    if note:
        s["note"] = note
    return s


def NBDIO(cmds, name="base", ro=False, note=None):
    c = " ".join("-c '%s'" % x for x in cmds)
    return SH("qemu-io %s-f raw %s 'nbd+unix:///%s?socket=nbd.sock'" % ("-r " if ro else "", c, name),
              note=note)


def SNAP(node, file, name=None, id=None, note=None, **extra):
    a = {"node-name": node, "snapshot-file": file}
    if name:
        a["snapshot-node-name"] = name
    a.update(extra)
    return Q("blockdev-snapshot-sync", a, id=id, note=note)


def sync_action(node, file, name=None, **extra):
    d = {"node-name": node, "snapshot-file": file}
    if name:
        d["snapshot-node-name"] = name
    d.update(extra)
    return {"type": "blockdev-snapshot-sync", "data": d}


def act(type_, **data):
    return {"type": type_, "data": data}


ABORT = {"type": "abort", "data": {}}


def TX(actions, id=None, props=None, note=None):
    a = {"actions": actions}
    if props is not None:
        a["properties"] = props
    return Q("transaction", a, id=id, note=note)


# ---- arg helpers -------------------------------------------------------------

def mk(f="base.qcow2", size="64M", fmt="qcow2", extra=""):
    return "qemu-img create -q -f %s %s%s %s" % (fmt, extra, f, size)


def qcow(name="base", f=None, **extra):
    d = {"driver": "qcow2", "node-name": name,
         "file": {"driver": "file", "filename": f or (name + ".qcow2")}}
    d.update(extra)
    return ["blockdev", d]


NBD = ["nbd-server", "addr.type=unix,addr.path=nbd.sock"]


def EXPORT(node="base", id="exp0", writable=True, name=None):
    s = "type=nbd,id=%s,node-name=%s" % (id, node)
    if name:
        s += ",name=" + name
    if writable:
        s += ",writable=on"
    return ["export", s]


def DRIVE(f="base.qcow2", id="drive0", node="base", ro=False):
    s = "file=%s,if=none,id=%s,format=qcow2,node-name=%s" % (f, id, node)
    if ro:
        s += ",read-only=on"
    return ["drive", s]


EXPORTED_BASE = [qcow(), NBD, EXPORT()]


def QV(id=None):
    return Q("query-version", id=id)


# =============================================================================
# Protocol
# =============================================================================

scenario(
    "proto-id-before-negotiation",
    "Before qmp_capabilities every command is CommandNotFound with the negotiation text, the id of "
    "any JSON type echoed; envelope errors are reported normally; afterwards commands work.",
    negotiate=False, tags=["protocol", "negotiation", "id"],
    steps=[
        Q("query-version", id="a"),
        Q("nosuch", id={"x": [1, None]}),
        Q("blockdev-add", {"bogus": 1}, id=3, note="invalid arguments: still CommandNotFound"),
        Q("transaction", {"actions": []}, id=[4]),
        RAW('{"id": 5}\n', note="lacks execute, id echoed"),
        RAW('{"execute": "query-version", "id": 6, "foo": 1}\n'),
        RAW('{"execute": 7, "id": 7}\n'),
        Q("qmp_capabilities", id=8),
        QV(9),
    ])

scenario(
    "proto-capabilities-twice",
    "A second qmp_capabilities is CommandNotFound, with or without arguments; bad arguments are "
    "validated first; the session stays usable.",
    tags=["protocol", "negotiation"],
    steps=[
        Q("qmp_capabilities", id=1),
        Q("qmp_capabilities", {"enable": ["oob"]}, id=2),
        Q("qmp_capabilities", {"enable": ["nosuch"]}, id=3),
        Q("qmp_capabilities", {"bogus": 1}, id=4),
        QV(5),
    ])

scenario(
    "proto-capabilities-bad-arguments",
    "qmp_capabilities argument errors during negotiation are GenericError (enum inside a list "
    "named 'null'); the session is still negotiating until a valid qmp_capabilities.",
    negotiate=False, tags=["protocol", "negotiation", "validation"],
    steps=[
        Q("qmp_capabilities", {"enable": ["nosuch"]}, id=1),
        Q("qmp_capabilities", {"enable": "oob"}, id=2),
        Q("qmp_capabilities", {"enable": [1]}, id=3),
        Q("qmp_capabilities", {"bogus": 1}, id=4),
        Q("qmp_capabilities", {"enable": None}, id=5),
        RAW('{"execute": "qmp_capabilities", "arguments": [], "id": 6}\n'),
        QV(7),
        Q("qmp_capabilities", {"enable": []}, id=8),
        QV(9),
    ])

scenario(
    "proto-exec-oob-without-capability",
    "exec-oob without OOB negotiated is an envelope error, before and after negotiation; "
    "execute plus exec-oob too.",
    negotiate=False, tags=["protocol", "oob"],
    steps=[
        Q("query-version", id=1, key="exec-oob"),
        Q("qmp_capabilities", id=2),
        Q("query-version", id=3, key="exec-oob"),
        Q("nosuch", id=4, key="exec-oob"),
        RAW('{"execute": "query-version", "exec-oob": "query-version", "id": 5}\n'),
        QV(6),
    ])

scenario(
    "proto-exec-oob-enabled",
    "With OOB negotiated: no command allows OOB, unknown names are CommandNotFound, execute "
    "and exec-oob clash, in-band commands still work.",
    negotiate=False, tags=["protocol", "oob"],
    steps=[
        Q("qmp_capabilities", {"enable": ["oob"]}, id=1),
        Q("quit", id=2, key="exec-oob"),
        Q("nosuch", id=3, key="exec-oob"),
        Q("qmp_capabilities", id=4, key="exec-oob"),
        RAW('{"exec-oob": "query-version", "execute": "query-version", "id": 5}\n'),
        RAW('{"exec-oob": 5, "id": 6}\n'),
        QV(7),
    ])

scenario(
    "proto-malformed-unbalanced-brace",
    "An unclosed brace swallows the following complete commands until the counts balance, then "
    "one parse error; stray closing brackets are errors of their own.",
    tags=["protocol", "malformed", "quirk"],
    steps=[
        RAW(['{"execute": "query-version", "id": 1\n',
             '{"execute": "query-version", "id": 2}\n',
             '}\n'], 1, note="the command with id 2 is never run"),
        QV(3),
        RAW('}\n', 1),
        RAW(']\n', 1),
        RAW(['{"execute": "query-version", "id": [1, 2}\n',
             '{"execute": "query-version", "id": 4}\n',
             ']\n'], 1, note="brackets and braces are counted separately"),
        QV(5),
    ])

scenario(
    "proto-several-commands-one-write",
    "Several commands in one write, with or without whitespace, are answered in order; "
    "whitespace alone gets no answer.",
    tags=["protocol", "framing"],
    steps=[
        RAW('{"execute":"query-version","id":1}{"execute":"query-version","id":2}'
            '{"execute":"query-version","id":3}', 3, note="no separators, no newline"),
        RAW('{"execute":"query-version","id":4}\n  \t{"execute":"query-version","id":5}\r\n'
            '\n{"execute":"query-version","id":6}\n', 3),
        RAW('{"execute":"nosuch","id":"a"} {"execute":"query-version","id":"b"} [1]\n', 3),
        RAW('{"execute":"query-version","id":7}garbage\n', 2),
        RAW('\n\n  \t\r\n', 0),
        QV(8),
    ])

scenario(
    "proto-garbage-bytes",
    "Control characters and invalid UTF-8 each produce their own parse error; the session "
    "recovers.",
    tags=["protocol", "malformed"],
    steps=[
        HEX("0102030a", 3),
        QV(1),
        HEX("ff0a", 1),
        HEX("c0af0a", 1),
        QV(2),
        HEX("7b2265786563757465223a2022717565727922202c20226964223a2022eda080227d0a", 1,
            note="an encoded surrogate inside a string"),
        QV(3),
    ])

scenario(
    "proto-non-object-input",
    "Non-object JSON values and malformed envelopes: exact texts, id echoed whenever the input "
    "was an object.",
    tags=["protocol", "envelope"],
    steps=[
        RAW('[1]\n'), RAW('"x"\n'), RAW('1\n'), RAW('null\n'), RAW('true\n'), RAW('[]\n'),
        RAW('{}\n'),
        RAW('{"id": 5}\n'),
        RAW('{"arguments": {}, "id": 9}\n'),
        RAW('{"execute": 1, "id": 2}\n'),
        RAW('{"execute": null}\n'),
        RAW('{"execute": "query-version", "arguments": [], "id": 3}\n'),
        RAW('{"execute": "query-version", "arguments": null, "id": 4}\n'),
        RAW('{"execute": "query-version", "control": {}, "id": 5}\n'),
        RAW('{"execute": "query-version", "id": 6, "id": 7}\n', note="duplicate key: parse error, no id"),
        QV(8),
    ])

scenario(
    "proto-json-parse-errors",
    "Parse error texts of QEMU's JSON parser, and how many answers one malformed input gives.",
    tags=["protocol", "malformed"],
    steps=[
        RAW('[1 2]\n', 1),
        RAW('{"execute":"query-version" "id":1}\n', 1),
        RAW('{"a" 1}\n', 1),
        RAW('{"execute":"query-version","id":"\\x"}\n', 1),
        RAW('{"execute":"query-version","id":01}\n', 2),
        RAW('nul\n', 1),
        RAW('TRUE\n', 1),
        RAW('%d\n', 1),
        RAW('.5\n', 1),
        QV(9),
    ])

scenario(
    "proto-json-values",
    "String escapes and number forms in the id come back as QEMU re-serializes them.",
    tags=["protocol", "id"],
    steps=[
        RAW('{"execute":"query-version","id":"\\u00e9\\ud83d\\ude00"}\n'),
        RAW('{"execute":"query-version","id":"a\\\'b"}\n', note="\\' is accepted"),
        RAW('{\'execute\':\'query-version\',\'id\':\'say "hi"\'}\n'),
        RAW('{"execute":"query-version","id":"nul\\u0000byte"}\n'),
        RAW('{"execute":"query-version","id":[7.5e3, 1.0, -0, 0.25]}\n'),
        RAW('{"execute":"query-version","id":[18446744073709551615, 18446744073709551616, '
            '-9223372036854775808, -9223372036854775809]}\n'),
        RAW('{"execute":"query-version","id":{"nested":{"deep":[true,false,null]}}}\n'),
    ])

scenario(
    "proto-nesting-limit",
    "1024 levels of nesting are accepted; one more is refused with the nesting-limit text, and "
    "every closing bracket left over gives its own error.",
    tags=["protocol", "limits"],
    steps=[
        RAW('{"execute":"query-version","id":1,"arguments":{"x":' + "[" * 1022 + "]" * 1022 + "}}\n", 1,
            note="1024 levels: accepted, then refused by argument validation"),
        RAW('{"execute":"query-version","id":2,"arguments":{"x":' + "[" * 1023 + "]" * 1023 + "}}\n", 1026),
        QV(1),
    ])

scenario(
    "proto-command-names",
    "Command names are exact and case-sensitive; unknown names are CommandNotFound with the name "
    "unquoted.",
    tags=["protocol"],
    steps=[
        Q("QUERY-VERSION", id=1), Q("query_version", id=2), Q("query-version ", id=3),
        Q("", id=4), Q("block_resize", {}, id=5), Q("block-resize", {}, id=6),
    ])

# =============================================================================
# Argument validation
# =============================================================================

scenario(
    "args-unexpected",
    "Unexpected members are reported with their full path, after the declared members were "
    "checked.",
    tags=["validation"],
    steps=[
        Q("query-version", {"x": 1}, id=1),
        Q("query-named-block-nodes", {"flat": True, "bogus": 1}, id=2),
        Q("block-dirty-bitmap-add", {"node": "n0", "bogus": 1}, id=3, note="missing wins"),
        Q("block-dirty-bitmap-add", {"node": "nosuch", "name": "b", "bogus": 1}, id=4),
        TX([{"type": "abort", "data": {"x": 1}}], id=5),
        TX([], props={"bogus": 1}, id=6),
        Q("blockdev-add", {"driver": "null-co", "node-name": "n", "bogus": 1}, id=7),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "q",
                           "file": {"driver": "file", "filename": "x", "bogus": 1}}, id=8),
        Q("blockdev-snapshot-sync", {"node-name": "n", "snapshot-file": "s", "bogus": True}, id=9),
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "x", "bogus": 1}}}, id=10),
        Q("block-export-add", {"type": "nbd", "id": "e", "node-name": "n", "bogus": 1}, id=11),
        TX([{"type": "abort", "data": {}, "extra": 1}], id=12),
        Q("quit", {"now": True}, id=13),
    ])

scenario(
    "args-wrong-type",
    "Type errors: 'Invalid parameter type' with the full path, integer texts 'expects uint64' / "
    "'expects uint32_t', alternates named by their type, enums by their last name.",
    tags=["validation"],
    steps=[
        Q("block-dirty-bitmap-add", {"node": "n", "name": 5}, id=1),
        Q("block-dirty-bitmap-add", {"node": "n", "name": "b", "granularity": "x"}, id=2),
        Q("block-dirty-bitmap-add", {"node": "n", "name": "b", "granularity": -1}, id=3),
        Q("block-dirty-bitmap-add", {"node": "n", "name": "b", "granularity": 1.0}, id=4),
        Q("block-dirty-bitmap-add", {"node": "n", "name": "b", "granularity": 4294967296}, id=5),
        Q("block-dirty-bitmap-add", {"node": "n", "name": "b", "persistent": "yes"}, id=6),
        Q("query-named-block-nodes", {"flat": "true"}, id=7),
        Q("query-named-block-nodes", {"flat": 1}, id=8),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "q", "file": 5}, id=9),
        Q("blockdev-add", {"driver": "raw", "node-name": "r",
                           "file": {"driver": "raw", "file": 5}}, id=10),
        Q("blockdev-snapshot-sync", {"node-name": "n", "snapshot-file": "s", "format": None}, id=11),
        Q("blockdev-snapshot-sync", {"node-name": "n", "snapshot-file": "s", "mode": "nosuch"}, id=12),
        TX([], props={"completion-mode": 5}, id=13),
        TX([], props={"completion-mode": "nosuch"}, id=14),
        Q("transaction", {"actions": "x"}, id=15),
        Q("transaction", {"actions": [5]}, id=16),
        Q("block-dirty-bitmap-merge", {"node": "n", "target": "t", "bitmaps": [5]}, id=17),
        Q("block-dirty-bitmap-merge", {"node": "n", "target": "t", "bitmaps": "b"}, id=18),
        Q("blockdev-add", {"driver": "null-co", "node-name": "n", "size": "1M"}, id=19),
        Q("blockdev-add", {"driver": "null-co", "node-name": "n", "size": 1.5e3}, id=20),
        Q("blockdev-add", {"driver": "null-co", "node-name": "n", "read-only": "on"}, id=21),
        Q("blockdev-del", {"node-name": 5}, id=22),
        Q("nbd-server-start", {"addr": "x"}, id=23),
        Q("blockdev-add", {"driver": 5, "node-name": "n"}, id=24),
        Q("blockdev-add", {"driver": "null-co", "node-name": "n", "cache": {"direct": "yes"}}, id=25),
    ])

scenario(
    "args-transaction-shape",
    "Shape of transaction arguments: data mandatory for every action (also abort), type "
    "checked as an enum, whole list validated before anything runs, empty list is fine.",
    tags=["validation", "transaction"],
    steps=[
        TX([], id=1),
        TX([{"type": "abort"}], id=2),
        TX([{"data": {}}], id=3),
        TX([{"type": "nosuch-action", "data": {}}], id=4),
        TX([{"type": "abort", "data": 5}], id=5),
        TX([{"type": "blockdev-snapshot-sync", "data": {"node-name": "n"}}], id=6),
        TX([ABORT, {"type": "abort"}], id=7, note="the second action is validated before the first runs"),
        TX([act("block-dirty-bitmap-add", node="n", name="b", granularity=-1)], id=8),
        TX([act("block-dirty-bitmap-add", node="n", name="b", granularity="x")], id=9),
        TX([], props={}, id=10),
        TX([], props={"completion-mode": "grouped"}, id=11),
        Q("transaction", {"actions": None}, id=12),
        TX([act("block-dirty-bitmap-merge", node="n", target="t", bitmaps=[{"node": "n"}])], id=13),
        TX([act("blockdev-snapshot", node="n")], id=14),
        TX([ABORT], id=15),
    ])

scenario(
    "args-integer-ranges",
    "uint64 accepts negative integers (wrapped) and the full unsigned range, refuses doubles and "
    "values past 2^64-1; the node reports what was stored.",
    args=[["blockdev", {"driver": "null-co", "node-name": "n0", "size": 1048576}]],
    tags=["validation", "integers"],
    steps=[
        Q("block-set-write-threshold", {"node-name": "n0", "write-threshold": -5}, id=1),
        NODES(["node-name", "write_threshold"]),
        Q("block-set-write-threshold", {"node-name": "n0", "write-threshold": 18446744073709551615}, id=2),
        NODES(["node-name", "write_threshold"]),
        Q("block-set-write-threshold", {"node-name": "n0", "write-threshold": 18446744073709551616}, id=3),
        Q("block-set-write-threshold", {"node-name": "n0", "write-threshold": 1e3}, id=4),
        Q("block-set-write-threshold", {"node-name": "nosuch", "write-threshold": 1}, id=5),
        Q("block-set-write-threshold", {"node-name": "n0", "write-threshold": 0}, id=6),
        NODES(["node-name", "write_threshold"]),
        Q("blockdev-add", {"driver": "null-co", "node-name": "big", "size": 9223372036854775808}, id=7),
        Q("blockdev-add", {"driver": "null-co", "node-name": "n1", "size": 1024.0}, id=8),
    ])

# =============================================================================
# Graph, blockdev-add / blockdev-del
# =============================================================================

scenario(
    "blockdev-add-errors",
    "blockdev-add failures: duplicate, unknown driver, missing file, unknown reference, invalid "
    "node names, wrong format, image locked by another node; nothing is added.",
    setup=[mk(), mk("raw.img", "1M", "raw")],
    tags=["blockdev", "errors"],
    steps=[
        Q("blockdev-add", qcow()[1], id=1),
        Q("blockdev-add", qcow()[1], id=2),
        Q("blockdev-add", {"driver": "nosuch", "node-name": "x"}, id=3),
        Q("blockdev-add", qcow("m", "missing.qcow2")[1], id=4),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "r", "file": "nosuch"}, id=5),
        Q("blockdev-add", {"driver": "null-co", "node-name": "1bad"}, id=6),
        Q("blockdev-add", {"driver": "null-co", "node-name": "n" * 40}, id=7),
        Q("blockdev-add", {"driver": "null-co", "node-name": "bad name"}, id=8),
        Q("blockdev-add", qcow("notq", "raw.img")[1], id=9),
        Q("blockdev-add", qcow("again", "base.qcow2")[1], id=10),
        Q("blockdev-add", {"driver": "file", "node-name": "f", "filename": "nodir/x.img"}, id=11),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "dup2", "file": {"driver": "file",
                           "filename": "raw.img", "node-name": "base"}}, id=12),
        NODES(["node-name", "drv", "ro"]),
    ])

scenario(
    "blockdev-add-references",
    "Nodes referenced by name: a file node shared by a second format node conflicts on "
    "permissions; raw over a named file node; the graph shows the edges.",
    setup=[mk(), mk("raw.img", "1M", "raw")],
    tags=["blockdev", "graph"],
    steps=[
        Q("blockdev-add", {"driver": "file", "node-name": "basefile", "filename": "base.qcow2"}, id=1),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "base", "file": "basefile"}, id=2),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "other", "file": "basefile"}, id=3),
        Q("blockdev-add", {"driver": "raw", "node-name": "r",
                           "file": {"driver": "file", "filename": "raw.img", "node-name": "rfile"}}, id=4),
        Q("blockdev-add", {"driver": "raw", "node-name": "r2", "file": "rfile", "read-only": True}, id=5),
        NODES(),
        GRAPH(),
    ])

scenario(
    "blockdev-add-read-only",
    "blockdev-add with read-only: the format node and its file child are read-only, the image "
    "can be opened again read-only, writable exports are refused.",
    setup=[mk()],
    args=[NBD],
    tags=["blockdev", "read-only"],
    steps=[
        Q("blockdev-add", qcow(**{"read-only": True})[1], id=1),
        Q("blockdev-add", qcow("base2", "base.qcow2", **{"read-only": True})[1], id=2),
        NODES(),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "base", "writable": True}, id=3),
        Q("block-export-add", {"type": "nbd", "id": "e2", "node-name": "base"}, id=4),
        NBDIO(["write -q -P 0x11 0 64k"], note="a read-write open of a read-only export is refused"),
        NBDIO(["read -q -P 0 0 64k"], ro=True),
    ])

scenario(
    "blockdev-add-null-co",
    "null-co nodes: default and explicit size, read-zeroes, how they are reported.",
    tags=["blockdev", "null-co"],
    steps=[
        Q("blockdev-add", {"driver": "null-co", "node-name": "n1"}, id=1),
        Q("blockdev-add", {"driver": "null-co", "node-name": "n2", "size": 1048576, "read-zeroes": True}, id=2),
        Q("blockdev-add", {"driver": "null-aio", "node-name": "n3", "size": 4096}, id=3),
        Q("query-named-block-nodes", {"flat": True}),
    ])

scenario(
    "blockdev-del",
    "blockdev-del error texts (unknown, in use, not owned by the monitor, backing of an "
    "overlay) and successful deletes in the right order.",
    setup=[mk(), mk("lone.qcow2"), mk("top.qcow2")],
    args=[["blockdev", {"driver": "qcow2", "node-name": "base",
                        "file": {"driver": "file", "filename": "base.qcow2", "node-name": "basefile"}}],
          NBD, EXPORT(),
          qcow("lone"), qcow("top", backing=None)],
    tags=["blockdev", "errors", "quirk"],
    steps=[
        Q("blockdev-del", {"node-name": "tmp"}, id=1),
        Q("blockdev-del", {"node-name": "base"}, id=2),
        Q("blockdev-del", {"node-name": "basefile"}, id=3),
        Q("blockdev-snapshot", {"node": "lone", "overlay": "top"}, id=4),
        Q("blockdev-del", {"node-name": "lone"}, id=5),
        Q("blockdev-del", {"node-name": "top"}, id=6),
        NODES(),
        Q("blockdev-del", {"node-name": "lone"}, id=7),
        Q("block-export-del", {"id": "exp0"}, id=8),
        EVENTS("BLOCK_EXPORT_DELETED"),
        Q("blockdev-del", {"node-name": "base"}, id=9),
        Q("blockdev-del", {"node-name": "base"}, id=10),
        NODES(),
    ])

scenario(
    "blockdev-del-shared-file",
    "A file node added by itself is monitor-owned: in use while a format node uses it, "
    "deletable afterwards.",
    setup=[mk()],
    tags=["blockdev"],
    steps=[
        Q("blockdev-add", {"driver": "file", "node-name": "f", "filename": "base.qcow2"}, id=1),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "q", "file": "f"}, id=2),
        Q("blockdev-del", {"node-name": "f"}, id=3),
        Q("blockdev-del", {"node-name": "q"}, id=4),
        NODES(),
        Q("blockdev-del", {"node-name": "f"}, id=5),
        NODES(),
    ])

scenario(
    "block-resize",
    "block_resize of a qcow2 node and errors (unknown node, shrinking a qcow2 image).",
    setup=[mk(size="16M")],
    args=[qcow()],
    tags=["blockdev", "resize"],
    steps=[
        Q("block_resize", {"node-name": "base", "size": 33554432}, id=1),
        NODES(["node-name", "drv", "image"]),
        Q("block_resize", {"node-name": "nosuch", "size": 1048576}, id=2),
        Q("block_resize", {"node-name": "base", "size": 1048576}, id=3),
        Q("block_resize", {"device": "base", "size": 1048576}, id=4),
        Q("block_resize", {"size": 1048576}, id=5),
        *QUIT(),
        INFO("base.qcow2"),
    ])

# =============================================================================
# blockdev-snapshot-sync
# =============================================================================

scenario(
    "sync-lookup-errors",
    "Lookup of the node to snapshot: absent values print as '', device is tried first and "
    "node-name is the fallback, a node-name passed as device is not found.",
    setup=[mk()], args=EXPORTED_BASE, tags=["snapshot", "errors", "quirk"],
    steps=[
        Q("blockdev-snapshot-sync", {"snapshot-file": "s.qcow2", "snapshot-node-name": "s"}, id=1),
        SNAP("nope", "s.qcow2", "s", id=2),
        Q("blockdev-snapshot-sync", {"device": "nope", "snapshot-file": "s.qcow2",
                                     "snapshot-node-name": "s"}, id=3),
        Q("blockdev-snapshot-sync", {"device": "nope", "node-name": "base", "snapshot-file": "s1.qcow2",
                                     "snapshot-node-name": "s1"}, id=4),
        Q("blockdev-snapshot-sync", {"device": "s1", "snapshot-file": "s2.qcow2",
                                     "snapshot-node-name": "s2"}, id=5),
        Q("blockdev-snapshot-sync", {"device": "", "node-name": "", "snapshot-file": "s2.qcow2",
                                     "snapshot-node-name": "s2"}, id=6),
        TX([sync_action("nope", "s2.qcow2", "s2")], id=7),
        EXPORTS(),
        LS(),
    ])

scenario(
    "sync-format-raw",
    "format raw for the overlay: refused at image creation (no file left) in absolute-paths "
    "mode, refused as 'does not support backing images' in existing mode; unknown formats.",
    setup=[mk(), mk("ex.raw", "64M", "raw")], args=EXPORTED_BASE, tags=["snapshot", "format", "quirk"],
    steps=[
        SNAP("base", "s1.raw", "s1", id=1, format="raw"),
        LS(),
        SNAP("base", "ex.raw", "s1", id=2, format="raw", mode="existing"),
        SNAP("base", "s1.qcow2", "s1", id=3, format="nosuch"),
        SNAP("base", "s1.qcow2", "s1", id=4, format="file"),
        LS(),
        EXPORTS(),
        NODES(),
    ])

scenario(
    "sync-raw-base",
    "A raw base can be snapshotted: the overlay records backing format raw; I/O goes to the "
    "overlay.",
    setup=[mk("base.img", "4M", "raw")],
    args=[["blockdev", {"driver": "raw", "node-name": "base",
                        "file": {"driver": "file", "filename": "base.img"}}], NBD, EXPORT()],
    tags=["snapshot", "raw"],
    steps=[
        NBDIO(["write -q -P 0x11 0 64k"]),
        SNAP("base", "s1.qcow2", "s1", id=1),
        NODES(),
        INFO("s1.qcow2"),
        NBDIO(["write -q -P 0x22 64k 64k", "read -q -P 0x11 0 64k"]),
        *QUIT(),
        SH("qemu-io -r -f raw -c 'read -q -P 0 64k 64k' base.img && "
           "qemu-io -r -f qcow2 -c 'read -q -P 0x22 64k 64k' -c 'read -q -P 0x11 0 64k' s1.qcow2 && echo ok"),
        SH("qemu-img check s1.qcow2"),
    ])

scenario(
    "sync-read-only-node",
    "A snapshot of a read-only node is accepted and the new overlay is read-only too.",
    setup=[mk()],
    args=[qcow(**{"read-only": True}), NBD, EXPORT(writable=False)],
    tags=["snapshot", "read-only", "quirk"],
    steps=[
        SNAP("base", "s1.qcow2", "s1", id=1),
        NODES(),
        EXPORTS(),
        GRAPH(),
        INFO("s1.qcow2"),
        NBDIO(["write -q -P 0x11 0 64k"], note="the export is still read-only"),
    ])

scenario(
    "sync-read-only-orphan",
    "A snapshot of a read-only node without parents: accepted, the file is created, the "
    "overlay is dropped at once.",
    setup=[mk()],
    args=[qcow(**{"read-only": True})],
    tags=["snapshot", "read-only", "orphan"],
    steps=[
        SNAP("base", "s1.qcow2", "s1", id=1),
        NODES(),
        INFO("s1.qcow2"),
    ])

scenario(
    "sync-old-node-read-only",
    "After a snapshot the old node and its file child are read-only: the image can be opened "
    "again read-only but not read-write (write lock).",
    setup=[mk()], args=EXPORTED_BASE, tags=["snapshot", "read-only", "locks", "quirk"],
    steps=[
        SNAP("base", "s1.qcow2", "s1", id=1),
        NODES(),
        Q("blockdev-add", qcow("again", "base.qcow2")[1], id=2),
        Q("blockdev-add", qcow("again", "base.qcow2", **{"read-only": True})[1], id=3),
        Q("blockdev-add", qcow("s1again", "s1.qcow2")[1], id=4),
        NODES(),
    ])

scenario(
    "sync-node-with-overlay",
    "A node that already has an overlay cannot be snapshotted again (busy as backing hd), "
    "plain or in a transaction; the top of the chain can.",
    setup=[mk()], args=EXPORTED_BASE, tags=["snapshot", "busy", "quirk"],
    steps=[
        SNAP("base", "s1.qcow2", "s1", id=1),
        SNAP("base", "s2.qcow2", "s2", id=2),
        TX([sync_action("base", "s2.qcow2", "s2")], id=3),
        LS(),
        SNAP("s1", "s2.qcow2", "s2", id=4),
        EXPORTS(),
        NODES(),
        INFO("s2.qcow2", chain=True),
    ])

scenario(
    "sync-node-name-in-use",
    "snapshot-node-name already used by a node is refused before the image is created.",
    setup=[mk(), mk("other.qcow2")],
    args=EXPORTED_BASE + [qcow("other")],
    tags=["snapshot", "errors"],
    steps=[
        SNAP("base", "s1.qcow2", "other", id=1),
        SNAP("base", "s1.qcow2", "base", id=2),
        LS(),
        TX([sync_action("base", "s1.qcow2", "s1"), sync_action("other", "s2.qcow2", "s1")], id=3),
        LS(),
        NODES(),
        EXPORTS(),
    ])

scenario(
    "sync-create-errors",
    "Image creation errors (missing directory, a directory, empty name) and an invalid node-name "
    "that fails only at open, after the file was created.",
    setup=[mk(), "mkdir adir"], args=EXPORTED_BASE, tags=["snapshot", "errors"],
    steps=[
        SNAP("base", "nodir/s1.qcow2", "s1", id=1),
        SNAP("base", "adir", "s1", id=2),
        SNAP("base", "", "s1", id=3),
        SNAP("base", "bad.qcow2", "1bad", id=4),
        LS(),
        INFO("bad.qcow2"),
        NODES(),
        EXPORTS(),
    ])

scenario(
    "sync-mode-existing",
    "mode existing: a missing file is an open error; a pre-created overlay is opened and "
    "attached as is.",
    setup=[mk(), "qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 pre.qcow2"],
    args=EXPORTED_BASE, tags=["snapshot", "existing"],
    steps=[
        SNAP("base", "missing.qcow2", "s1", id=1, mode="existing"),
        SNAP("base", "pre.qcow2", "s1", id=2, mode="existing"),
        NODES(),
        EXPORTS(),
        INFO("pre.qcow2"),
        NBDIO(["write -q -P 0x33 0 64k"]),
        *QUIT(),
        SH("qemu-io -r -f qcow2 -c 'read -q -P 0x33 0 64k' pre.qcow2 && "
           "qemu-io -r -f qcow2 -c 'read -q -P 0 0 64k' base.qcow2 && echo ok"),
    ])

scenario(
    "sync-mode-existing-foreign-backing",
    "mode existing with an overlay whose header names another backing file: accepted, the "
    "header keeps the other file, the in-memory backing is the old node.",
    setup=[mk(), mk("other.qcow2"), "qemu-img create -q -f qcow2 -b other.qcow2 -F qcow2 ov.qcow2"],
    args=EXPORTED_BASE, tags=["snapshot", "existing", "quirk"],
    steps=[
        SNAP("base", "ov.qcow2", "ov", id=1, mode="existing"),
        NODES(),
        INFO("ov.qcow2"),
        GRAPH(),
    ])

scenario(
    "sync-overwrite-existing-file",
    "absolute-paths mode overwrites a file that exists but is not in use; the new image has the "
    "old node's size and backing.",
    setup=[mk(), mk("s1.qcow2", "1M"), "qemu-io -f qcow2 -c 'write -q -P 0x55 0 64k' s1.qcow2"],
    args=EXPORTED_BASE, tags=["snapshot"],
    steps=[
        SNAP("base", "s1.qcow2", "s1", id=1),
        INFO("s1.qcow2"),
        NBDIO(["read -q -P 0 0 64k"], note="old contents of s1.qcow2 are gone"),
    ])

scenario(
    "sync-absolute-paths",
    "Absolute paths: the overlay's backing string is the old node's filename exactly as given.",
    setup=[mk()],
    args=[["blockdev", {"driver": "qcow2", "node-name": "base",
                        "file": {"driver": "file", "filename": "$TMP/base.qcow2"}}], NBD, EXPORT()],
    tags=["snapshot", "paths"],
    steps=[
        SNAP("base", "$TMP/s1.qcow2", "s1", id=1),
        NODES(),
        INFO("s1.qcow2"),
        SNAP("s1", "s2.qcow2", "s2", id=2),
        INFO("s2.qcow2", chain=True),
    ])

scenario(
    "sync-subdir-overlay",
    "An overlay in a subdirectory records the old node's relative filename verbatim (so it "
    "resolves against the subdirectory); a later snapshot records 'sub/s1.qcow2'.",
    setup=[mk(), "mkdir sub"], args=EXPORTED_BASE, tags=["snapshot", "paths", "quirk"],
    steps=[
        SNAP("base", "sub/s1.qcow2", "s1", id=1),
        NODES(),
        INFO("sub/s1.qcow2"),
        SH("qemu-img info -U --backing-chain sub/s1.qcow2 >/dev/null 2>&1; echo rc=$?"),
        SNAP("s1", "s2.qcow2", "s2", id=2),
        INFO("s2.qcow2"),
        NODES(),
    ])

scenario(
    "sync-protocol-node",
    "Snapshotting a protocol (file) node is allowed in 7.2: the overlay goes between the format "
    "node and its file.",
    setup=[mk()],
    args=[["blockdev", {"driver": "qcow2", "node-name": "base",
                        "file": {"driver": "file", "filename": "base.qcow2", "node-name": "basefile"}}],
          NBD, EXPORT()],
    tags=["snapshot", "protocol-node"],
    steps=[
        SNAP("basefile", "s1.qcow2", "s1", id=1),
        NODES(),
        GRAPH(),
        INFO("s1.qcow2"),
    ])

scenario(
    "sync-null-co-node",
    "Snapshot of a null-co node: the overlay's backing name is a json: pseudo-filename with "
    "backing format null-co.",
    args=[["blockdev", {"driver": "null-co", "node-name": "nul", "size": 1048576}],
          NBD, EXPORT("nul")],
    tags=["snapshot", "null-co"],
    steps=[
        SNAP("nul", "s1.qcow2", "s1", id=1),
        NODES(),
        INFO("s1.qcow2"),
        NBDIO(["write -q -P 0x44 0 4k", "read -q -P 0x44 0 4k"], name="nul"),
    ])

scenario(
    "sync-chain-io",
    "Two snapshots of an exported node with NBD writes in between: every layer holds its own "
    "data, the chain reads back through NBD, qemu-img check/map/info agree after quit.",
    setup=[mk()], args=[qcow(), NBD, EXPORT(name="disk")], tags=["snapshot", "nbd", "io"],
    steps=[
        NBDIO(["write -q -P 0x11 0 64k"], name="disk"),
        SNAP("base", "s1.qcow2", "s1", id=1),
        NBDIO(["write -q -P 0x22 1M 64k"], name="disk"),
        TX([sync_action("s1", "s2.qcow2", "s2")], id=2),
        NBDIO(["write -q -P 0x33 2M 64k", "write -q -z 3M 64k"], name="disk"),
        NBDIO(["read -q -P 0x11 0 64k", "read -q -P 0x22 1M 64k", "read -q -P 0x33 2M 64k",
               "read -q -P 0 3M 64k"], name="disk", ro=True),
        Q("query-named-block-nodes", {"flat": False},
          transform=[{"kind": "select", "keys": ["node-name", "backing_file_depth", "image"]}]),
        *QUIT(),
        SH("qemu-img check s2.qcow2"),
        SH("qemu-img check s1.qcow2"),
        SH("qemu-img check base.qcow2"),
        SH("qemu-img map --output=json s2.qcow2", json_out=True),
        INFO("s2.qcow2", chain=True),
        SH("qemu-img compare -f qcow2 -F qcow2 s2.qcow2 s2.qcow2 && qemu-io -r -f qcow2 "
           "-c 'read -q -P 0 2M 64k' s1.qcow2 && qemu-io -r -f qcow2 -c 'read -q -P 0 1M 64k' "
           "base.qcow2 && echo layers-ok"),
    ])

scenario(
    "sync-multi-disk-io",
    "One transaction snapshots two exported disks; writes after it land in both overlays.",
    setup=[mk("a.qcow2"), mk("b.qcow2")],
    args=[qcow("a"), qcow("b"), NBD, EXPORT("a", "ea"), EXPORT("b", "eb")],
    tags=["snapshot", "transaction", "nbd"],
    steps=[
        TX([sync_action("a", "a1.qcow2", "a1"), sync_action("b", "b1.qcow2", "b1")], id=1),
        EXPORTS(),
        NBDIO(["write -q -P 0x61 0 64k"], name="a"),
        NBDIO(["write -q -P 0x62 0 64k"], name="b"),
        *QUIT(),
        SH("qemu-io -r -f qcow2 -c 'read -q -P 0x61 0 64k' a1.qcow2 && "
           "qemu-io -r -f qcow2 -c 'read -q -P 0x62 0 64k' b1.qcow2 && "
           "qemu-io -r -f qcow2 -c 'read -q -P 0 0 64k' a.qcow2 && echo ok"),
        SH("qemu-img check a1.qcow2 && qemu-img check b1.qcow2"),
    ])

# =============================================================================
# Transactions
# =============================================================================

scenario(
    "tx-same-node-twice",
    "Two snapshots of the same node in one transaction: the second finds the first overlay "
    "already attached (busy); all rolled back, the first overlay file stays.",
    setup=[mk()], args=EXPORTED_BASE, tags=["transaction", "busy", "quirk"],
    steps=[
        TX([sync_action("base", "s1.qcow2", "s1"), sync_action("base", "s2.qcow2", "s2")], id=1),
        LS(),
        NODES(),
        EXPORTS(),
        SNAP("base", "s3.qcow2", "s1", id=2, note="s1 is free again"),
    ])

scenario(
    "tx-abort-first",
    "An abort before a snapshot stops the transaction before the snapshot's prepare: no file.",
    setup=[mk()], args=EXPORTED_BASE, tags=["transaction", "abort"],
    steps=[
        TX([ABORT, sync_action("base", "s1.qcow2", "s1")], id=1),
        LS(),
        NODES(),
        TX([ABORT, sync_action("nosuch", "s1.qcow2", "s1")], id=2, note="later actions are not looked at"),
    ])

scenario(
    "tx-second-fails-late",
    "The second action fails at its node-name check: only the first action's file exists; a "
    "third, invalid action is never looked at.",
    setup=[mk(), mk("other.qcow2")],
    args=EXPORTED_BASE + [qcow("other"), EXPORT("other", "exp1")],
    tags=["transaction", "rollback", "quirk"],
    steps=[
        TX([sync_action("base", "a.qcow2", "snapA"), sync_action("other", "b.qcow2", "snapA"),
            sync_action("nosuch", "c.qcow2", "c")], id=1),
        LS(),
        NODES(),
        EXPORTS(),
        GRAPH(),
    ])

scenario(
    "tx-rollback-with-bitmap",
    "A transaction with a snapshot, a bitmap on the new overlay and a clear of an existing bitmap, "
    "then abort: everything undone, bits restored.",
    setup=[mk()], args=EXPORTED_BASE, tags=["transaction", "rollback", "bitmap"],
    steps=[
        Q("block-dirty-bitmap-add", {"node": "base", "name": "b0"}, id=1),
        NBDIO(["write -q -P 0x11 0 64k"]),
        BITMAPS(),
        TX([sync_action("base", "s1.qcow2", "s1"),
            act("block-dirty-bitmap-add", node="s1", name="b1"),
            act("block-dirty-bitmap-clear", node="base", name="b0"),
            ABORT], id=2),
        BITMAPS(),
        EXPORTS(),
        TX([sync_action("base", "s1.qcow2", "s1"),
            act("block-dirty-bitmap-add", node="s1", name="b1")], id=3),
        NBDIO(["write -q -P 0x22 64k 64k"]),
        BITMAPS(note="the old node's bitmap stays there and sees no new writes"),
    ])

scenario(
    "tx-completion-mode-actions",
    "completion-mode grouped is refused by the bitmap actions and by blockdev-snapshot, even "
    "for unknown nodes; individual works. (block-dirty-bitmap-enable is left out: a failed "
    "enable action crashes QSD 7.2 in its abort.)",
    setup=[mk(), mk("ov.qcow2")], args=[qcow(), qcow("ov", backing=None)],
    tags=["transaction", "completion-mode"],
    steps=[
        TX([act("block-dirty-bitmap-add", node="nosuch", name="b")], props={"completion-mode": "grouped"}, id=1),
        TX([act("block-dirty-bitmap-remove", node="base", name="b")], props={"completion-mode": "grouped"}, id=2),
        TX([act("block-dirty-bitmap-clear", node="base", name="b")], props={"completion-mode": "grouped"}, id=3),
        TX([act("block-dirty-bitmap-disable", node="base", name="b")], props={"completion-mode": "grouped"}, id=5),
        TX([act("block-dirty-bitmap-merge", node="base", target="b", bitmaps=["c"])],
           props={"completion-mode": "grouped"}, id=6),
        TX([act("blockdev-snapshot", node="base", overlay="ov")], props={"completion-mode": "grouped"}, id=7),
        TX([act("block-dirty-bitmap-add", node="base", name="b")], props={"completion-mode": "individual"}, id=8),
        BITMAPS(),
    ])

scenario(
    "tx-blockdev-snapshot-abort",
    "blockdev-snapshot inside an aborted transaction: the overlay is detached again but stays "
    "(monitor-owned), base stays writable and exported.",
    setup=[mk(), mk("ov.qcow2")], args=EXPORTED_BASE + [qcow("ov", backing=None)],
    tags=["transaction", "blockdev-snapshot", "rollback"],
    steps=[
        TX([act("blockdev-snapshot", node="base", overlay="ov"), ABORT], id=1),
        NODES(),
        EXPORTS(),
        GRAPH(),
        TX([act("blockdev-snapshot", node="base", overlay="ov")], id=2),
        EXPORTS(),
        NODES(),
    ])

# =============================================================================
# blockdev-snapshot
# =============================================================================

scenario(
    "blockdev-snapshot-overlay-errors",
    "blockdev-snapshot errors: unknown node/overlay (same string in both slots), overlay with a "
    "backing, overlay in use, raw overlay, node = overlay, old node already with an overlay.",
    setup=[mk(), mk("ov.qcow2"), mk("used.qcow2"), mk("r.img", "64M", "raw"), mk("ov2.qcow2"), mk("other.qcow2"),
           "qemu-img create -q -f qcow2 -b other.qcow2 -F qcow2 withb.qcow2"],
    args=EXPORTED_BASE + [qcow("ov", backing=None), qcow("used", backing=None), EXPORT("used", "exp1"),
                          ["blockdev", {"driver": "raw", "node-name": "r",
                                        "file": {"driver": "file", "filename": "r.img"}}],
                          ["blockdev", {"driver": "qcow2", "node-name": "withb", "read-only": True,
                                        "file": {"driver": "file", "filename": "withb.qcow2"}}],
                          qcow("ov2", backing=None)],
    tags=["blockdev-snapshot", "errors", "quirk"],
    steps=[
        Q("blockdev-snapshot", {"node": "nosuch", "overlay": "ov"}, id=1),
        Q("blockdev-snapshot", {"node": "base", "overlay": "nosuch"}, id=2),
        Q("blockdev-snapshot", {"node": "base", "overlay": "withb"}, id=3),
        Q("blockdev-snapshot", {"node": "base", "overlay": "used"}, id=4),
        Q("blockdev-snapshot", {"node": "base", "overlay": "r"}, id=5),
        Q("blockdev-snapshot", {"node": "base", "overlay": "base"}, id=6),
        Q("blockdev-snapshot", {"node": "base", "overlay": "ov"}, id=7),
        Q("blockdev-snapshot", {"node": "base", "overlay": "ov2"}, id=8),
        Q("blockdev-snapshot", {"node": "ov", "overlay": "base"}, id=9),
        NODES(),
        EXPORTS(),
    ])

scenario(
    "blockdev-snapshot-orphan",
    "blockdev-snapshot of a node without parents: the monitor-owned overlay stays; its header "
    "gets no backing; deleting it leaves the old node read-only.",
    setup=[mk(), mk("ov.qcow2")], args=[qcow(), qcow("ov", backing=None)],
    tags=["blockdev-snapshot", "quirk"],
    steps=[
        Q("blockdev-snapshot", {"node": "base", "overlay": "ov"}, id=1),
        NODES(),
        GRAPH(),
        INFO("ov.qcow2"),
        Q("blockdev-del", {"node-name": "ov"}, id=2),
        NODES(),
        Q("blockdev-snapshot", {"node": "base", "overlay": "base"}, id=3),
    ])

scenario(
    "blockdev-snapshot-exported-io",
    "blockdev-snapshot of an exported node moves the export; data written afterwards lands in "
    "the overlay file, whose header still has no backing reference.",
    setup=[mk(), mk("ov.qcow2")], args=EXPORTED_BASE + [qcow("ov", backing=None)],
    tags=["blockdev-snapshot", "nbd", "io"],
    steps=[
        NBDIO(["write -q -P 0x11 0 64k"]),
        Q("blockdev-snapshot", {"node": "base", "overlay": "ov"}, id=1),
        EXPORTS(),
        NBDIO(["write -q -P 0x22 64k 64k", "read -q -P 0x11 0 64k"]),
        NODES(),
        *QUIT(),
        INFO("ov.qcow2"),
        SH("qemu-io -r -f qcow2 -c 'read -q -P 0x22 64k 64k' -c 'read -q -P 0 0 64k' ov.qcow2 && echo ok"),
    ])

# =============================================================================
# Named drives (qemu-system-x86_64 -M none)
# =============================================================================

scenario(
    "drive-read-only",
    "A snapshot of a read-only drive (by device) is accepted; the new overlay is read-only.",
    setup=[mk()], args=[DRIVE(ro=True)], drive=True, tags=["drive", "read-only", "quirk"],
    steps=[
        Q("blockdev-snapshot-sync", {"device": "drive0", "snapshot-file": "s1.qcow2",
                                     "snapshot-node-name": "s1"}, id=1),
        Q("query-block", transform=[{"kind": "select", "keys": ["device", "inserted"]}]),
        NODES(),
        INFO("s1.qcow2"),
    ])

scenario(
    "drive-device-rollback",
    "A transaction on a drive that aborts: the drive keeps its node, base stays writable, the "
    "overlay file stays on disk.",
    setup=[mk()], args=[DRIVE()], drive=True, tags=["drive", "rollback", "quirk"],
    steps=[
        TX([{"type": "blockdev-snapshot-sync", "data": {"device": "drive0", "snapshot-file": "s1.qcow2",
                                                         "snapshot-node-name": "s1"}}, ABORT], id=1),
        Q("query-block"),
        NODES(),
        LS(),
        GRAPH(),
    ])

scenario(
    "drive-overlay-in-use",
    "With named drives: an overlay that a drive uses is in use; a snapshot-node-name equal to a "
    "drive name is in use; unknown device plus valid node-name falls back; device wins.",
    setup=[mk(), mk("d1.qcow2"), mk("ov.qcow2")],
    args=[DRIVE(), DRIVE("d1.qcow2", "drive1", "d1"),
          ["blockdev", {"driver": "qcow2", "node-name": "ov", "backing": None,
                        "file": {"driver": "file", "filename": "ov.qcow2"}}]],
    drive=True, tags=["drive", "errors", "quirk"],
    steps=[
        Q("blockdev-snapshot", {"node": "base", "overlay": "d1"}, id=1),
        Q("blockdev-snapshot-sync", {"device": "drive0", "snapshot-file": "s.qcow2",
                                     "snapshot-node-name": "drive1"}, id=2),
        Q("blockdev-snapshot-sync", {"node-name": "base", "snapshot-file": "s.qcow2",
                                     "snapshot-node-name": "d1"}, id=3),
        Q("blockdev-snapshot-sync", {"device": "nosuch", "node-name": "base", "snapshot-file": "s1.qcow2",
                                     "snapshot-node-name": "s1"}, id=4),
        Q("blockdev-snapshot-sync", {"device": "drive1", "node-name": "s1", "snapshot-file": "s2.qcow2",
                                     "snapshot-node-name": "s2"}, id=5),
        Q("query-block", transform=[{"kind": "select", "keys": ["device", "inserted"]}]),
        Q("blockdev-snapshot", {"node": "drive0", "overlay": "ov"}, id=6),
        NODES(),
        LS(),
    ])

scenario(
    "drive-empty",
    "A drive without medium: query-block has no 'inserted'; a snapshot by device says it has no "
    "medium.",
    args=[["drive", "if=none,id=empty0"]], drive=True, tags=["drive", "errors"],
    steps=[
        Q("query-block"),
        Q("blockdev-snapshot-sync", {"device": "empty0", "snapshot-file": "s1.qcow2"}, id=1),
        TX([{"type": "blockdev-snapshot-sync", "data": {"device": "empty0", "snapshot-file": "s1.qcow2"}}], id=2),
        LS(),
        Q("query-named-block-nodes"),
    ])

scenario(
    "drive-snapshot-chain",
    "Two snapshots of a drive by device (auto-named overlays): depth 2, chain on disk, graph.",
    setup=[mk()], args=[DRIVE()], drive=True, tags=["drive", "snapshot"],
    steps=[
        Q("blockdev-snapshot-sync", {"device": "drive0", "snapshot-file": "s1.qcow2"}, id=1),
        Q("blockdev-snapshot-sync", {"device": "drive0", "snapshot-file": "s2.qcow2", "format": "qcow2"}, id=2),
        Q("query-block", transform=[{"kind": "select", "keys": ["device", "inserted"]}]),
        GRAPH(),
        INFO("s2.qcow2", chain=True),
    ])

scenario(
    "drive-blockdev-del",
    "blockdev-del of a drive's root node is refused as in use; a drive name is not a node-name.",
    setup=[mk()], args=[DRIVE()], drive=True, tags=["drive", "blockdev"],
    steps=[
        Q("blockdev-del", {"node-name": "base"}, id=1),
        Q("blockdev-del", {"node-name": "drive0"}, id=2),
        NODES(["node-name", "drv"]),
    ])

scenario(
    "drive-bitmaps",
    "Dirty bitmaps addressed by drive name and by node-name.",
    setup=[mk()], args=[DRIVE()], drive=True, tags=["drive", "bitmap"],
    steps=[
        Q("block-dirty-bitmap-add", {"node": "drive0", "name": "b1"}, id=1),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "b2"}, id=2),
        Q("block-dirty-bitmap-remove", {"node": "drive0", "name": "b2"}, id=3),
        Q("query-block", transform=[{"kind": "select", "keys": ["device", "dirty-bitmaps"]}]),
        BITMAPS(),
    ])

# =============================================================================
# Dirty bitmaps
# =============================================================================

scenario(
    "bitmap-errors",
    "Bitmap error texts: exists, empty or too long names, bad granularity, unknown node or "
    "bitmap, persistent on raw, a remove of the same bitmap twice in one transaction.",
    setup=[mk(), mk("r.img", "1M", "raw")],
    args=[qcow(), ["blockdev", {"driver": "raw", "node-name": "r",
                                "file": {"driver": "file", "filename": "r.img"}}]],
    tags=["bitmap", "errors", "quirk"],
    steps=[
        Q("block-dirty-bitmap-add", {"node": "base", "name": "b1"}, id=1),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "b1"}, id=2),
        Q("block-dirty-bitmap-add", {"node": "base", "name": ""}, id=3),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "x" * 1024}, id=4),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "g", "granularity": 0}, id=5),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "g", "granularity": 100}, id=6),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "g", "granularity": 256}, id=7),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "g", "granularity": 1000}, id=8),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "g", "granularity": -1}, id=9),
        Q("block-dirty-bitmap-add", {"node": "nosuch", "name": "g"}, id=10),
        Q("block-dirty-bitmap-add", {"node": "r", "name": "p", "persistent": True}, id=11),
        Q("block-dirty-bitmap-remove", {"node": "base", "name": "nosuch"}, id=12),
        Q("block-dirty-bitmap-clear", {"node": "base", "name": "nosuch"}, id=13),
        Q("block-dirty-bitmap-enable", {"node": "base", "name": "nosuch"}, id=14),
        Q("block-dirty-bitmap-disable", {"node": "base", "name": "nosuch"}, id=15),
        Q("block-dirty-bitmap-merge", {"node": "base", "target": "b1", "bitmaps": ["nosuch"]}, id=16),
        Q("block-dirty-bitmap-merge", {"node": "base", "target": "nosuch", "bitmaps": ["b1"]}, id=17),
        Q("block-dirty-bitmap-merge", {"node": "base", "target": "b1",
                                       "bitmaps": [{"node": "nosuch", "name": "b1"}]}, id=18),
        Q("x-debug-block-dirty-bitmap-sha256", {"node": "base", "name": "nosuch"}, id=19),
        Q("block-dirty-bitmap-remove", {"node": "nosuch", "name": "b1"}, id=20),
        TX([act("block-dirty-bitmap-remove", node="base", name="b1"),
            act("block-dirty-bitmap-remove", node="base", name="b1")], id=21),
        TX([act("block-dirty-bitmap-add", node="base", name="b2"),
            act("block-dirty-bitmap-add", node="base", name="b2")], id=22),
        BITMAPS(),
    ])

scenario(
    "bitmap-granularity",
    "Granularity: explicit powers of two from 512 up, defaults for qcow2 (cluster size), raw and "
    "null-co nodes; bitmaps listed newest first.",
    setup=[mk(), mk("small.qcow2", "16M", extra="-o cluster_size=4096 "), mk("r.img", "1M", "raw")],
    args=[qcow(), qcow("small"),
          ["blockdev", {"driver": "raw", "node-name": "r", "file": {"driver": "file", "filename": "r.img"}}],
          ["blockdev", {"driver": "null-co", "node-name": "nul"}]],
    tags=["bitmap"],
    steps=[
        Q("block-dirty-bitmap-add", {"node": "base", "name": "g512", "granularity": 512}, id=1),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "g4k", "granularity": 4096}, id=2),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "g2m", "granularity": 2097152}, id=3),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "g2g", "granularity": 2147483648}, id=4),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "gdef"}, id=5),
        Q("block-dirty-bitmap-add", {"node": "small", "name": "d"}, id=6),
        Q("block-dirty-bitmap-add", {"node": "r", "name": "d"}, id=7),
        Q("block-dirty-bitmap-add", {"node": "nul", "name": "d"}, id=8),
        BITMAPS(),
    ])

scenario(
    "bitmap-enable-disable",
    "A bitmap added disabled records nothing until enabled; disable stops recording; counts "
    "follow NBD writes.",
    setup=[mk()], args=EXPORTED_BASE, tags=["bitmap", "nbd"],
    steps=[
        Q("block-dirty-bitmap-add", {"node": "base", "name": "b1", "disabled": True}, id=1),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "b2"}, id=2),
        NBDIO(["write -q -P 0x11 0 64k"]),
        BITMAPS(),
        Q("block-dirty-bitmap-enable", {"node": "base", "name": "b1"}, id=3),
        Q("block-dirty-bitmap-disable", {"node": "base", "name": "b2"}, id=4),
        NBDIO(["write -q -P 0x22 1M 4k"]),
        BITMAPS(),
        Q("block-dirty-bitmap-enable", {"node": "base", "name": "b1"}, id=5),
        Q("block-dirty-bitmap-disable", {"node": "base", "name": "b2"}, id=6),
        BITMAPS(),
    ])

scenario(
    "bitmap-clear-merge",
    "Counts after writes, merge by name and by {node,name} across granularities, clear, and "
    "sha256 of equal bitmaps.",
    setup=[mk()], args=EXPORTED_BASE, tags=["bitmap", "nbd"],
    steps=[
        Q("block-dirty-bitmap-add", {"node": "base", "name": "b1"}, id=1),
        NBDIO(["write -q -P 0x11 0 64k", "write -q -P 0x11 1M 64k"]),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "b2", "granularity": 512}, id=2),
        NBDIO(["write -q -P 0x22 2M 4k"]),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "m", "disabled": True}, id=3),
        BITMAPS(),
        Q("block-dirty-bitmap-merge", {"node": "base", "target": "m", "bitmaps": ["b2"]}, id=4),
        BITMAPS(),
        Q("block-dirty-bitmap-merge", {"node": "base", "target": "m",
                                       "bitmaps": [{"node": "base", "name": "b1"}, "b2"]}, id=5),
        BITMAPS(),
        Q("x-debug-block-dirty-bitmap-sha256", {"node": "base", "name": "m"}, id=6),
        Q("x-debug-block-dirty-bitmap-sha256", {"node": "base", "name": "b1"}, id=7),
        Q("block-dirty-bitmap-clear", {"node": "base", "name": "b1"}, id=8),
        Q("x-debug-block-dirty-bitmap-sha256", {"node": "base", "name": "b1"}, id=9),
        BITMAPS(),
    ])

scenario(
    "bitmap-transaction-abort",
    "Bitmap actions rolled back by abort: add, clear, remove, enable, disable, merge; then the "
    "same merge committed.",
    setup=[mk()], args=EXPORTED_BASE, tags=["bitmap", "transaction", "rollback"],
    steps=[
        Q("block-dirty-bitmap-add", {"node": "base", "name": "b1"}, id=1),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "b2", "disabled": True}, id=2),
        NBDIO(["write -q -P 0x11 0 64k"]),
        TX([act("block-dirty-bitmap-add", node="base", name="b3"),
            act("block-dirty-bitmap-clear", node="base", name="b3"),
            act("block-dirty-bitmap-clear", node="base", name="b1"), ABORT], id=3),
        BITMAPS(),
        TX([act("block-dirty-bitmap-remove", node="base", name="b1"), ABORT], id=4),
        TX([act("block-dirty-bitmap-enable", node="base", name="b2"),
            act("block-dirty-bitmap-disable", node="base", name="b1"), ABORT], id=5),
        TX([act("block-dirty-bitmap-merge", node="base", target="b2", bitmaps=["b1"]), ABORT], id=6),
        BITMAPS(),
        TX([act("block-dirty-bitmap-merge", node="base", target="b2", bitmaps=["b1"]),
            act("block-dirty-bitmap-enable", node="base", name="b2")], id=7),
        BITMAPS(),
    ])

scenario(
    "bitmap-persistent-reload",
    "A persistent bitmap stored in the image is loaded at open; removing it removes it from the "
    "image at close.",
    setup=[mk(), "qemu-img bitmap --add -g 131072 base.qcow2 pb",
           "qemu-img bitmap --add --disable base.qcow2 off"],
    args=[qcow()], tags=["bitmap", "persistent"],
    steps=[
        BITMAPS(),
        Q("block-dirty-bitmap-remove", {"node": "base", "name": "pb"}, id=1),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "np", "persistent": True,
                                     "disabled": True}, id=2),
        BITMAPS(),
        *QUIT(),
        INFO("base.qcow2"),
        SH("qemu-img check base.qcow2"),
    ])

scenario(
    "quit-with-export-and-bitmap",
    "quit with an export and bitmaps: BLOCK_EXPORT_DELETED before the reply, persistent bitmap "
    "written to the image (with its bits), the other not.",
    setup=[mk()], args=EXPORTED_BASE, tags=["quit", "bitmap", "nbd", "quirk"],
    steps=[
        Q("block-dirty-bitmap-add", {"node": "base", "name": "p1", "persistent": True,
                                     "granularity": 131072}, id=1),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "t1"}, id=2),
        NBDIO(["write -q -P 0x11 0 64k"]),
        Q("quit", id=3),
        EVENTS("BLOCK_EXPORT_DELETED"),
        {"wait_exit": 3.0},
        INFO("base.qcow2"),
        SH("qemu-img check base.qcow2"),
        DIRTYMAP("base.qcow2", "p1"),
    ])

scenario(
    "bitmap-with-snapshot",
    "A bitmap on the old node stays there after a snapshot; a bitmap added on the overlay in the "
    "same transaction counts the new writes.",
    setup=[mk()], args=EXPORTED_BASE, tags=["bitmap", "snapshot", "transaction"],
    steps=[
        Q("block-dirty-bitmap-add", {"node": "base", "name": "old"}, id=1),
        NBDIO(["write -q -P 0x11 0 64k"]),
        TX([sync_action("base", "s1.qcow2", "s1"),
            act("block-dirty-bitmap-add", node="s1", name="new", granularity=65536)], id=2),
        NBDIO(["write -q -P 0x22 0 128k"]),
        BITMAPS(),
        Q("block-dirty-bitmap-clear", {"node": "base", "name": "old"}, id=3),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "p", "persistent": True}, id=4),
        BITMAPS(),
    ])

# =============================================================================
# Exports / NBD
# =============================================================================

scenario(
    "nbd-export-errors",
    "NBD server and export errors: export before the server, flat address form, server twice, "
    "unknown node, duplicate id, duplicate NBD name, unknown export.",
    setup=[mk()], args=[qcow()], tags=["nbd", "export", "errors", "quirk"],
    steps=[
        Q("block-export-add", {"type": "nbd", "id": "e0", "node-name": "base"}, id=1),
        Q("nbd-server-start", {"addr": {"type": "unix", "path": "nbd.sock"}}, id=2),
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "nbd.sock"}}}, id=3),
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "nbd2.sock"}}}, id=4),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "nosuch"}, id=5),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "base"}, id=6),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "base", "name": "other"}, id=7),
        Q("block-export-add", {"type": "nbd", "id": "e2", "node-name": "base"}, id=8),
        Q("block-export-add", {"type": "nbd", "id": "e3", "node-name": "base", "name": "x"}, id=9),
        Q("block-export-add", {"type": "nbd", "id": "e4", "node-name": "base", "name": "x"}, id=10),
        Q("block-export-del", {"id": "nosuch"}, id=11),
        Q("block-export-add", {"type": "nbd", "id": "e5", "node-name": "base", "name": "bm",
                               "bitmaps": ["nosuch"]}, id=12),
        Q("block-export-add", {"type": "nbd", "id": "", "node-name": "base", "name": "y"}, id=13),
        EXPORTS(),
    ])

scenario(
    "nbd-legacy-commands",
    "The deprecated nbd-server-add / nbd-server-remove still work and show up as exports.",
    setup=[mk()], args=[qcow(), NBD], tags=["nbd", "export"],
    steps=[
        Q("nbd-server-add", {"device": "base", "name": "legacy", "writable": True}, id=1),
        EXPORTS(),
        NBDIO(["write -q -P 0x11 0 4k", "read -q -P 0x11 0 4k"], name="legacy"),
        Q("nbd-server-add", {"device": "nosuch"}, id=2),
        Q("nbd-server-add", {"device": "base", "name": "legacy"}, id=3),
        Q("nbd-server-remove", {"name": "nosuch"}, id=4),
        Q("nbd-server-remove", {"name": "legacy"}, id=5),
        EVENTS("BLOCK_EXPORT_DELETED"),
        EXPORTS(),
    ])

scenario(
    "nbd-export-read-only",
    "An export without writable refuses writes from clients; a writable export of a read-only "
    "node is refused.",
    setup=[mk(), mk("ro.qcow2")],
    args=[qcow(), NBD, EXPORT(writable=False), qcow("ro", **{"read-only": True})],
    tags=["nbd", "export", "read-only"],
    steps=[
        NBDIO(["write -q -P 0x11 0 4k"]),
        NBDIO(["read -q -P 0 0 4k"], ro=True),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "ro", "writable": True}, id=1),
        EXPORTS(),
    ])

scenario(
    "nbd-server-stop-events",
    "nbd-server-stop removes every export, each announced before the reply; block-export-add "
    "then fails; the server can be started again.",
    setup=[mk(), mk("b.qcow2")], args=[qcow(), qcow("b"), NBD, EXPORT(), EXPORT("b", "exp1", name="bee")],
    tags=["nbd", "export", "events"],
    steps=[
        Q("nbd-server-stop", id=1),
        EVENTS("BLOCK_EXPORT_DELETED", "BLOCK_EXPORT_DELETED"),
        EXPORTS(),
        Q("nbd-server-stop", id=2),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "base"}, id=3),
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "nbd.sock"}}}, id=4),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "base"}, id=5),
        NBDIO(["read -q -P 0 0 4k"], ro=True),
        Q("blockdev-del", {"node-name": "b"}, id=6),
    ])

scenario(
    "nbd-export-bitmap",
    "An export of a dirty bitmap: clients read it as the qemu:dirty-bitmap meta context; the "
    "bitmap is busy while exported; an enabled bitmap or an unknown one is refused.",
    setup=[mk()], args=EXPORTED_BASE, tags=["nbd", "export", "bitmap"],
    steps=[
        Q("block-dirty-bitmap-add", {"node": "base", "name": "b1"}, id=1),
        NBDIO(["write -q -P 0x11 64k 64k"]),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "base", "name": "bm",
                               "bitmaps": ["b1"]}, id=2),
        Q("block-dirty-bitmap-disable", {"node": "base", "name": "b1"}, id=3),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "base", "name": "bm",
                               "bitmaps": ["b1"]}, id=4),
        Q("block-export-add", {"type": "nbd", "id": "e2", "node-name": "base", "name": "bm2",
                               "bitmaps": ["nosuch"]}, id=5),
        BITMAPS(),
        SH("nbdinfo --map=qemu:dirty-bitmap:b1 'nbd+unix:///bm?socket=nbd.sock'"),
        Q("block-dirty-bitmap-remove", {"node": "base", "name": "b1"}, id=6),
        Q("block-dirty-bitmap-enable", {"node": "base", "name": "b1"}, id=7),
        Q("block-dirty-bitmap-clear", {"node": "base", "name": "b1"}, id=8),
        Q("block-export-del", {"id": "e1"}, id=9),
        EVENTS("BLOCK_EXPORT_DELETED"),
        Q("block-dirty-bitmap-remove", {"node": "base", "name": "b1"}, id=10),
        BITMAPS(),
    ])

scenario(
    "nbd-export-del-node-in-use",
    "Removing a node with an export fails until the export is deleted; query-block stays empty "
    "in QSD while exports exist.",
    setup=[mk()], args=EXPORTED_BASE, tags=["nbd", "export", "blockdev"],
    steps=[
        Q("query-block"),
        Q("blockdev-del", {"node-name": "base"}, id=1),
        Q("block-export-del", {"id": "exp0", "mode": "hard"}, id=2),
        EVENTS("BLOCK_EXPORT_DELETED"),
        Q("blockdev-del", {"node-name": "base"}, id=3),
        NODES(),
        Q("block-export-del", {"id": "exp0"}, id=4),
    ])

# =============================================================================
# Queries, jobs
# =============================================================================

scenario(
    "query-named-block-nodes-full",
    "query-named-block-nodes without flat nests the backing images; with flat it does not.",
    setup=[mk("base.qcow2", "16M")], args=[qcow(), NBD, EXPORT()], tags=["query"],
    steps=[
        SNAP("base", "s1.qcow2", "s1", id=1),
        Q("query-named-block-nodes"),
        Q("query-named-block-nodes", {"flat": True}),
    ])

scenario(
    "query-empty",
    "Queries on an empty daemon: block nodes, block devices, exports, jobs, graph.",
    tags=["query"],
    steps=[
        Q("query-named-block-nodes"), Q("query-block"), Q("query-block-exports"),
        Q("query-jobs"), Q("query-block-jobs"), GRAPH(), Q("query-blockstats"),
    ])

scenario(
    "jobs-blockdev-create",
    "blockdev-create jobs for a file and a qcow2 image: job events, query-jobs, dismiss; job "
    "lookup errors of job-* (GenericError) and block-job-* (DeviceNotActive).",
    tags=["jobs", "create"],
    steps=[
        Q("blockdev-create", {"job-id": "c1", "options": {"driver": "file", "filename": "new.qcow2",
                                                          "size": 0}}, id=1),
        EVENTS("JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE",
               "JOB_STATUS_CHANGE"),
        Q("query-jobs"),
        Q("job-dismiss", {"id": "c1"}, id=2),
        EVENTS("JOB_STATUS_CHANGE"),
        Q("blockdev-add", {"driver": "file", "node-name": "newfile", "filename": "new.qcow2"}, id=3),
        Q("blockdev-create", {"job-id": "c2", "options": {"driver": "qcow2", "file": "newfile",
                                                          "size": 16777216}}, id=4),
        EVENTS("JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE",
               "JOB_STATUS_CHANGE"),
        Q("job-dismiss", {"id": "c2"}, id=5),
        EVENTS("JOB_STATUS_CHANGE"),
        Q("query-jobs"),
        Q("job-dismiss", {"id": "nosuch"}, id=6),
        Q("job-cancel", {"id": "nosuch"}, id=7),
        Q("block-job-cancel", {"device": "nosuch"}, id=8),
        Q("block-job-dismiss", {"id": "nosuch"}, id=9),
        Q("blockdev-create", {"job-id": "c3", "options": {"driver": "qcow2", "file": "nosuch",
                                                          "size": 16777216}}, id=10),
        EVENTS("JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE"),
        Q("query-jobs"),
        Q("job-dismiss", {"id": "c3"}, id=11),
        EVENTS("JOB_STATUS_CHANGE"),
        INFO("new.qcow2"),
    ])

# =============================================================================
# More graph cases: backing chains, command-line keyval, internal snapshots
# =============================================================================

scenario(
    "blockdev-add-with-backing",
    "A qcow2 image with a backing file opens its chain (backing node auto-named, read-only); "
    "backing given by reference or null instead.",
    setup=[mk(), "qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2",
           "qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top2.qcow2"],
    tags=["blockdev", "backing"],
    steps=[
        Q("blockdev-add", qcow("top")[1], id=1),
        NODES(),
        GRAPH(),
        Q("blockdev-add", qcow("base", **{"read-only": True})[1], id=2),
        Q("blockdev-add", qcow("top2", backing="base")[1], id=3),
        NODES(),
        Q("blockdev-del", {"node-name": "base"}, id=4),
        Q("blockdev-del", {"node-name": "top2"}, id=5),
        Q("blockdev-del", {"node-name": "base"}, id=6),
        NODES(["node-name", "drv", "ro", "backing_file"]),
    ])

scenario(
    "blockdev-cli-keyval",
    "Nodes and exports given on the command line as dotted key=value options.",
    setup=[mk(), mk("r.img", "1M", "raw")],
    args=[["blockdev", "driver=qcow2,node-name=base,file.driver=file,file.filename=base.qcow2"],
          ["blockdev", "driver=file,node-name=rfile,filename=r.img,read-only=on"],
          ["blockdev", "raw,node-name=r,file=rfile,read-only=on"],
          ["blockdev", "driver=null-co,node-name=nul,size=4194304"],
          NBD, ["export", "nbd,id=e1,node-name=r,name=rr"]],
    tags=["cli", "blockdev"],
    steps=[
        NODES(["node-name", "drv", "ro", "file"]),
        EXPORTS(),
        NBDIO(["read -q -P 0 0 4k"], name="rr", ro=True),
        Q("query-named-block-nodes", {"flat": True},
          transform=[{"kind": "select", "keys": ["node-name", "image"]}]),
    ])

scenario(
    "internal-snapshot-errors",
    "blockdev-snapshot-internal-sync / -delete-internal-sync: lookups, read-only and raw nodes, "
    "duplicate and empty names, and a snapshot that lands in the image.",
    setup=[mk(), mk("ro.qcow2"), mk("r.img", "1M", "raw")],
    args=[qcow(), qcow("ro", **{"read-only": True}),
          ["blockdev", {"driver": "raw", "node-name": "r", "file": {"driver": "file", "filename": "r.img"}}]],
    tags=["snapshot", "internal", "errors"],
    steps=[
        Q("blockdev-snapshot-internal-sync", {"device": "nosuch", "name": "s"}, id=1),
        Q("blockdev-snapshot-internal-sync", {"device": "ro", "name": "s"}, id=2),
        Q("blockdev-snapshot-internal-sync", {"device": "r", "name": "s"}, id=3),
        Q("blockdev-snapshot-internal-sync", {"device": "base", "name": ""}, id=4),
        Q("blockdev-snapshot-internal-sync", {"device": "base", "name": "snap1"}, id=5),
        Q("blockdev-snapshot-internal-sync", {"device": "base", "name": "snap1"}, id=6),
        TX([act("blockdev-snapshot-internal-sync", device="base", name="snap2"), ABORT], id=7),
        Q("blockdev-snapshot-delete-internal-sync", {"device": "base", "name": "nosuch"}, id=8),
        Q("blockdev-snapshot-delete-internal-sync", {"device": "base"}, id=9),
        Q("blockdev-snapshot-delete-internal-sync", {"device": "nosuch", "name": "snap1"}, id=10),
        *QUIT(),
        SH("qemu-img snapshot -l base.qcow2 | sed 1,2d | awk '{print $2}'"),
    ])

SET_IN_USE = (
    "python3 -c \"import struct,sys\n"
    "f=open('base.qcow2','r+b'); h=f.read(4096)\n"
    "hl=struct.unpack('>I',h[100:104])[0]; o=hl\n"
    "while True:\n"
    " t,l=struct.unpack('>II',h[o:o+8])\n"
    " if t==0x23852875: break\n"
    " o+=8+((l+7)//8)*8\n"
    "d=struct.unpack('>Q',h[o+8+16:o+8+24])[0]\n"
    "f.seek(d+12); fl=struct.unpack('>I',f.read(4))[0]; f.seek(d+12); f.write(struct.pack('>I',fl|1))\""
)

scenario(
    "bitmap-readonly-inconsistent",
    "Persistent bitmaps of a read-only image are read-only (clear/remove refused, enable "
    "allowed); a bitmap left 'in use' in the image loads as inconsistent and is refused.",
    setup=[mk(), "qemu-img bitmap --add base.qcow2 b1", "cp base.qcow2 ro.qcow2",
           SET_IN_USE],
    args=[qcow(), qcow("ro", **{"read-only": True})],
    tags=["bitmap", "persistent", "errors"],
    steps=[
        BITMAPS(),
        Q("block-dirty-bitmap-clear", {"node": "ro", "name": "b1"}, id=1),
        Q("block-dirty-bitmap-remove", {"node": "ro", "name": "b1"}, id=2),
        Q("block-dirty-bitmap-disable", {"node": "ro", "name": "b1"}, id=3),
        Q("block-dirty-bitmap-add", {"node": "ro", "name": "m"}, id=4),
        Q("block-dirty-bitmap-merge", {"node": "ro", "target": "m", "bitmaps": ["b1"]}, id=5),
        Q("block-dirty-bitmap-clear", {"node": "base", "name": "b1"}, id=6),
        Q("block-dirty-bitmap-enable", {"node": "base", "name": "b1"}, id=7),
        Q("block-dirty-bitmap-merge", {"node": "base", "target": "b1", "bitmaps": ["b1"]}, id=8),
        Q("x-debug-block-dirty-bitmap-sha256", {"node": "base", "name": "b1"}, id=9),
        Q("block-dirty-bitmap-remove", {"node": "base", "name": "b1"}, id=10),
        BITMAPS(),
    ])

scenario(
    "quit-two-exports",
    "quit with two exports: both deletions announced before the reply, in creation order.",
    setup=[mk(), mk("b.qcow2")], args=[qcow(), qcow("b"), NBD, EXPORT(), EXPORT("b", "exp1")],
    tags=["quit", "nbd", "events"],
    steps=[
        Q("block-export-add", {"type": "nbd", "id": "exp2", "node-name": "base", "name": "third"}, id=1),
        Q("quit", id=2),
        EVENTS("BLOCK_EXPORT_DELETED", "BLOCK_EXPORT_DELETED", "BLOCK_EXPORT_DELETED"),
        {"wait_exit": 3.0},
    ])

scenario(
    "sync-overlay-is-image-in-use",
    "snapshot-file naming an image that an open node uses.",
    setup=[mk(), mk("other.qcow2")], args=EXPORTED_BASE + [qcow("other")],
    tags=["snapshot", "locks"],
    steps=[
        SNAP("base", "base.qcow2", "s1", id=1),
        SNAP("base", "other.qcow2", "s1", id=2),
        NODES(),
        EXPORTS(),
        SH("qemu-img info -U --output=json other.qcow2 | grep -c backing-filename; true"),
    ])

scenario(
    "blockdev-add-options",
    "Common block options (cache, detect-zeroes, discard, read-only, auto-read-only, "
    "force-share) and how query-named-block-nodes reports them.",
    setup=[mk(), mk("b.qcow2"), mk("c.qcow2")],
    tags=["blockdev", "options"],
    steps=[
        Q("blockdev-add", qcow(cache={"direct": False, "no-flush": True}, **{"detect-zeroes": "on",
                                                                              "discard": "unmap"})[1], id=1),
        Q("blockdev-add", qcow("b", **{"detect-zeroes": "unmap"})[1], id=2),
        Q("blockdev-add", qcow("c", **{"read-only": True, "force-share": True})[1], id=3),
        Q("blockdev-add", qcow("d", "b.qcow2", **{"force-share": True})[1], id=4),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "e", "auto-read-only": True,
                           "file": {"driver": "file", "filename": "c.qcow2", "auto-read-only": True}}, id=5),
        NODES(["node-name", "ro", "detect_zeroes", "cache"]),
    ])

scenario(
    "blockdev-add-image-variants",
    "qcow2 variants made by qemu-img (compat 0.10, 4k and 2M clusters, refcount widths, "
    "lazy refcounts, extended L2, zstd): opened, reported, snapshotted, written through NBD.",
    setup=["qemu-img create -q -f qcow2 -o compat=0.10 v2.qcow2 16M",
           "qemu-img create -q -f qcow2 -o cluster_size=4096,refcount_bits=1 c4k.qcow2 16M",
           "qemu-img create -q -f qcow2 -o cluster_size=2M,refcount_bits=64 c2m.qcow2 16M",
           "qemu-img create -q -f qcow2 -o lazy_refcounts=on lazy.qcow2 16M",
           "qemu-img create -q -f qcow2 -o extended_l2=on el2.qcow2 16M",
           "qemu-img create -q -f qcow2 -o compression_type=zstd zstd.qcow2 16M"],
    args=[qcow("v2"), qcow("c4k"), qcow("c2m"), qcow("lazy"), NBD, EXPORT("v2", "e1"), EXPORT("c4k", "e2"),
          EXPORT("c2m", "e3"), EXPORT("lazy", "e4")],
    tags=["blockdev", "qcow2"],
    steps=[
        Q("blockdev-add", qcow("el2")[1], id=1),
        Q("blockdev-add", qcow("zstd")[1], id=2),
        Q("query-named-block-nodes", {"flat": True},
          transform=[{"kind": "select", "keys": ["node-name", "image"]}]),
        NBDIO(["write -q -P 0x11 0 64k", "write -q -P 0x12 8M 4k"], name="v2"),
        NBDIO(["write -q -P 0x21 0 64k", "write -q -P 0x22 8M 4k"], name="c4k"),
        NBDIO(["write -q -P 0x31 0 64k", "write -q -P 0x32 8M 4k"], name="c2m"),
        NBDIO(["write -q -P 0x41 0 64k", "write -q -P 0x42 8M 4k"], name="lazy"),
        TX([sync_action("v2", "v2s.qcow2", "v2s"), sync_action("c4k", "c4ks.qcow2", "c4ks")], id=3),
        NBDIO(["write -q -P 0x13 64k 4k", "read -q -P 0x11 0 64k"], name="v2"),
        *QUIT(),
        SH("for f in v2 c4k c2m lazy v2s c4ks; do qemu-img check -q $f.qcow2 && echo $f ok; done"),
        SH("qemu-img info --output=json lazy.qcow2", json_out=True),
        SH("qemu-img compare -f qcow2 -F qcow2 v2s.qcow2 v2.qcow2; echo rc=$?"),
        SH("qemu-io -r -f qcow2 -c 'read -q -P 0x32 8M 4k' c2m.qcow2 && "
           "qemu-io -r -f qcow2 -c 'read -q -P 0x22 8M 4k' c4ks.qcow2 && echo data-ok"),
    ])

scenario(
    "drive-export-follows-snapshot",
    "A drive's node exported over NBD (server started by QMP in the system emulator): a "
    "snapshot by device moves the drive and the export to the overlay.",
    setup=[mk()], args=[DRIVE()], drive=True, tags=["drive", "nbd", "snapshot"],
    steps=[
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "nbd.sock"}}}, id=1),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "base", "writable": True}, id=2),
        NBDIO(["write -q -P 0x11 0 64k"]),
        Q("blockdev-snapshot-sync", {"device": "drive0", "snapshot-file": "s1.qcow2",
                                     "snapshot-node-name": "s1"}, id=3),
        EXPORTS(),
        NBDIO(["write -q -P 0x22 64k 64k", "read -q -P 0x11 0 64k"]),
        Q("query-block", transform=[{"kind": "select", "keys": ["device", "inserted"]}]),
        GRAPH(),
        Q("block-export-del", {"id": "e1"}, id=4),
        EVENTS("BLOCK_EXPORT_DELETED"),
        Q("nbd-server-stop", id=5),
    ])

scenario(
    "tx-mixed-snapshot-kinds",
    "A transaction with blockdev-snapshot-sync on one node and two blockdev-snapshot of another "
    "(the second fails as busy): all rolled back; then sync plus one blockdev-snapshot commits.",
    setup=[mk("a.qcow2"), mk("b.qcow2"), mk("ovb.qcow2"), mk("ovb2.qcow2")],
    args=[qcow("a"), qcow("b"), NBD, EXPORT("a", "ea"), EXPORT("b", "eb"), qcow("ovb", backing=None),
          qcow("ovb2", backing=None)],
    tags=["transaction", "snapshot", "blockdev-snapshot"],
    steps=[
        TX([sync_action("a", "a1.qcow2", "a1"), act("blockdev-snapshot", node="b", overlay="ovb2"),
            act("blockdev-snapshot", node="b", overlay="ovb")], id=1),
        EXPORTS(),
        NODES(),
        TX([sync_action("a", "a1.qcow2", "a1"), act("blockdev-snapshot", node="b", overlay="ovb")], id=2),
        EXPORTS(),
        GRAPH(),
    ])

scenario(
    "sync-overlay-del",
    "blockdev-del around a sync snapshot: the overlay is in use while exported and not "
    "monitor-owned afterwards; the old node is busy as backing.",
    setup=[mk()], args=EXPORTED_BASE, tags=["snapshot", "blockdev"],
    steps=[
        SNAP("base", "s1.qcow2", "s1", id=1),
        Q("blockdev-del", {"node-name": "s1"}, id=2),
        Q("blockdev-del", {"node-name": "base"}, id=3),
        Q("block-export-del", {"id": "exp0"}, id=4),
        EVENTS("BLOCK_EXPORT_DELETED"),
        NODES(),
        Q("blockdev-del", {"node-name": "s1"}, id=5),
        Q("blockdev-del", {"node-name": "base"}, id=6),
        NODES(),
    ])

scenario(
    "nbd-server-options",
    "nbd-server-start options and their errors: unknown TLS credentials, max-connections; "
    "the address form of the answer to a bad socket path.",
    setup=[mk()], args=[qcow()], tags=["nbd", "errors"],
    steps=[
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "nbd.sock"}},
                               "tls-creds": "nosuch"}, id=1),
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "nodir/nbd.sock"}}}, id=2),
        Q("nbd-server-start", {"addr": {"type": "nosuch", "data": {}}}, id=3),
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "nbd.sock"}},
                               "max-connections": 1}, id=4),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "base"}, id=5),
        NBDIO(["read -q -P 0 0 4k"], ro=True),
        Q("nbd-server-stop", id=6),
        EVENTS("BLOCK_EXPORT_DELETED"),
    ])

scenario(
    "nbd-export-options",
    "block-export-add options seen by an NBD client: description, writable, allocation-depth "
    "meta context; unknown iothread.",
    setup=[mk("base.qcow2", "4M"), "qemu-io -f qcow2 -c 'write -q -P 0x11 0 64k' base.qcow2"],
    args=[qcow(), NBD], tags=["nbd", "export"],
    steps=[
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "base", "name": "d",
                               "description": "a disk", "writable": True, "allocation-depth": True}, id=1),
        Q("block-export-add", {"type": "nbd", "id": "e2", "node-name": "base", "name": "x",
                               "iothread": "nosuch"}, id=2),
        SH("nbdinfo --json 'nbd+unix:///d?socket=nbd.sock'", json_out=True),
        SH("nbdinfo --map=qemu:allocation-depth 'nbd+unix:///d?socket=nbd.sock'"),
        SH("nbdinfo --map 'nbd+unix:///d?socket=nbd.sock'"),
        SH("nbdinfo --list --json 'nbd+unix://?socket=nbd.sock'", json_out=True),
    ])

scenario(
    "nbd-block-status-after-snapshot",
    "NBD block status through an overlay: base:allocation and qemu:allocation-depth show which "
    "layer holds the data.",
    setup=[mk("base.qcow2", "4M"), "qemu-io -f qcow2 -c 'write -q -P 0x11 0 64k' -c 'write -q -z 1M 64k' base.qcow2"],
    args=[qcow(), NBD, ["export", "type=nbd,id=exp0,node-name=base,writable=on,allocation-depth=on"]],
    tags=["nbd", "snapshot", "block-status"],
    steps=[
        SNAP("base", "s1.qcow2", "s1", id=1),
        NBDIO(["write -q -P 0x22 2M 64k", "write -q -z 3M 64k"]),
        SH("nbdinfo --map 'nbd+unix:///base?socket=nbd.sock'"),
        SH("nbdinfo --map=qemu:allocation-depth 'nbd+unix:///base?socket=nbd.sock'"),
        SH("qemu-img map --output=json -f raw 'nbd+unix:///base?socket=nbd.sock'", json_out=True),
    ])

scenario(
    "jobs-blockdev-create-errors",
    "blockdev-create argument and driver errors, and qcow2 images created with options (cluster "
    "size, backing file; lazy refcounts, refcount width).",
    setup=[mk("base.qcow2", "16M"), "touch t.qcow2 f.img"],
    args=[["blockdev", {"driver": "file", "node-name": "tf", "filename": "t.qcow2"}],
          ["blockdev", {"driver": "file", "node-name": "ff", "filename": "f.img"}]],
    tags=["jobs", "create", "errors"],
    steps=[
        Q("blockdev-create", {"job-id": "c1", "options": {"driver": "qcow2", "file": "tf", "size": 1000}}, id=1),
        EVENTS("JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE"),
        Q("query-jobs"),
        Q("job-dismiss", {"id": "c1"}, id=2),
        EVENTS("JOB_STATUS_CHANGE"),
        Q("blockdev-create", {"job-id": "c2", "options": {"driver": "null-co", "size": 1024}}, id=3),
        Q("blockdev-create", {"job-id": "c3", "options": {"driver": "qcow2", "file": "tf", "size": 16777216,
                                                          "cluster-size": 4096,
                                                          "backing-file": "base.qcow2",
                                                          "backing-fmt": "qcow2"}}, id=4),
        EVENTS("JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE",
               "JOB_STATUS_CHANGE"),
        Q("blockdev-create", {"job-id": "c3", "options": {"driver": "qcow2", "file": "ff", "size": 1048576}}, id=5),
        Q("blockdev-create", {"job-id": "c4", "options": {"driver": "qcow2", "file": "ff", "size": 1048576,
                                                          "cluster-size": 1000}}, id=6),
        EVENTS("JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE"),
        Q("query-jobs"),
        Q("blockdev-create", {"job-id": "", "options": {"driver": "file", "filename": "g.img", "size": 0}}, id=7),
        Q("blockdev-create", {"job-id": "1bad", "options": {"driver": "file", "filename": "g.img", "size": 0}}, id=8),
        INFO("t.qcow2"),
        Q("blockdev-create", {"job-id": "c5", "options": {"driver": "qcow2", "file": "ff", "size": 1048576,
                                                          "lazy-refcounts": True, "refcount-bits": 64}}, id=9),
        EVENTS("JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE",
               "JOB_STATUS_CHANGE"),
        Q("query-jobs", transform=[{"kind": "select", "keys": ["id", "status", "error"]}]),
        INFO("f.img"),
    ])

scenario(
    "jobs-verbs",
    "Job verbs on a concluded create job are refused with the state/verb text; block-job-* do "
    "not see it; dismiss works once.",
    tags=["jobs"],
    steps=[
        Q("blockdev-create", {"job-id": "c1", "options": {"driver": "file", "filename": "n.img", "size": 0}}, id=1),
        EVENTS("JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE", "JOB_STATUS_CHANGE",
               "JOB_STATUS_CHANGE"),
        Q("job-pause", {"id": "c1"}, id=2),
        Q("job-resume", {"id": "c1"}, id=3),
        Q("job-complete", {"id": "c1"}, id=4),
        Q("job-finalize", {"id": "c1"}, id=5),
        Q("job-cancel", {"id": "c1"}, id=6),
        Q("block-job-cancel", {"device": "c1"}, id=7),
        Q("query-block-jobs"),
        Q("job-dismiss", {"id": "c1"}, id=8),
        EVENTS("JOB_STATUS_CHANGE"),
        Q("job-dismiss", {"id": "c1"}, id=9),
    ])

scenario(
    "proto-split-utf8",
    "A multi-byte UTF-8 character split across two writes, and input split inside a keyword "
    "and an escape: one answer when complete.",
    tags=["protocol", "framing"],
    steps=[
        {"raw_hex": "7b2265786563757465223a2271756572792d76657273696f6e222c226964223a22c3", "responses": 0},
        {"raw_hex": "a9227d0a", "responses": 1},
        RAW(['{"execute":"query-version","id":tr', 'ue}\n'], 1),
        RAW(['{"execute":"query-version","id":"\\u00', 'e9"}\n'], 1),
        RAW(['{"execute":"query-version","id":12', '34}\n'], 1),
    ])

BIG = "x" * 70000

scenario(
    "proto-large-message",
    "A 70 kB string argument is parsed and validated like any other; a 70 kB id is echoed.",
    tags=["protocol", "limits"],
    steps=[
        Q("query-version", {"x": BIG}, id=1),
        Q("query-version", id=BIG),
        QV(2),
    ])

scenario(
    "bitmap-merge-nodes",
    "Merging bitmaps across nodes with different granularities, and into a persistent bitmap.",
    setup=[mk(), mk("b.qcow2")], args=[qcow(), qcow("b"), NBD, EXPORT(), EXPORT("b", "exp1")],
    tags=["bitmap", "nbd"],
    steps=[
        Q("block-dirty-bitmap-add", {"node": "b", "name": "src", "granularity": 4096}, id=1),
        NBDIO(["write -q -P 0x11 8k 4k", "write -q -P 0x11 1M 128k"], name="b"),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "dst", "persistent": True, "disabled": True}, id=2),
        Q("block-dirty-bitmap-merge", {"node": "base", "target": "dst",
                                       "bitmaps": [{"node": "b", "name": "src"}]}, id=3),
        BITMAPS(),
        Q("x-debug-block-dirty-bitmap-sha256", {"node": "base", "name": "dst"}, id=4),
        Q("x-debug-block-dirty-bitmap-sha256", {"node": "b", "name": "src"}, id=5),
        TX([act("block-dirty-bitmap-merge", node="b", target="src", bitmaps=[{"node": "base", "name": "dst"}]),
            act("block-dirty-bitmap-clear", node="base", name="dst")], id=6),
        BITMAPS(),
        *QUIT(),
        INFO("base.qcow2"),
    ])

scenario(
    "bitmap-persistent-on-overlay",
    "A persistent bitmap added on the new overlay in the snapshot transaction is stored in the "
    "overlay image at quit, with the bits written after the snapshot.",
    setup=[mk()], args=EXPORTED_BASE, tags=["bitmap", "persistent", "snapshot"],
    steps=[
        TX([sync_action("base", "s1.qcow2", "s1"),
            act("block-dirty-bitmap-add", node="s1", name="inc", persistent=True)], id=1),
        NBDIO(["write -q -P 0x22 192k 64k"]),
        BITMAPS(),
        Q("quit", id=2),
        EVENTS("BLOCK_EXPORT_DELETED"),
        {"wait_exit": 3.0},
        INFO("s1.qcow2"),
        INFO("base.qcow2"),
        SH("(qemu-nbd -r -f qcow2 -B inc -k \"$TMP/b.sock\" s1.qcow2 &); for i in $(seq 50); do "
           "[ -S b.sock ] && break; sleep 0.1; done; "
           "nbdinfo --map=qemu:dirty-bitmap:inc 'nbd+unix:///?socket=b.sock'"),
        SH("qemu-img check s1.qcow2"),
    ])

scenario(
    "blockdev-reopen",
    "blockdev-reopen: switch a node to read-only and back, refused option changes, unknown "
    "nodes. (An empty options list is left out: it crashes QSD 7.2.)",
    setup=[mk()], args=[qcow()], tags=["blockdev", "reopen"],
    steps=[
        Q("blockdev-reopen", {"options": [dict(qcow()[1], **{"read-only": True})]}, id=1),
        NODES(),
        Q("blockdev-reopen", {"options": [qcow()[1]]}, id=2),
        NODES(),
        Q("blockdev-reopen", {"options": [{"driver": "raw", "node-name": "base",
                                           "file": {"driver": "file", "filename": "base.qcow2"}}]}, id=3),
        Q("blockdev-reopen", {"options": [{"driver": "qcow2", "node-name": "nosuch",
                                           "file": {"driver": "file", "filename": "base.qcow2"}}]}, id=4),
    ])

scenario(
    "nbd-server-inet",
    "nbd-server-start on a TCP address (ephemeral port) and an unresolvable port.",
    tags=["nbd"],
    steps=[
        Q("nbd-server-start", {"addr": {"type": "inet", "data": {"host": "127.0.0.1", "port": "abc"}}}, id=1),
        Q("nbd-server-start", {"addr": {"type": "inet", "data": {"host": "127.0.0.1", "port": "0"}}}, id=2),
        Q("nbd-server-stop", id=3),
        Q("nbd-server-start", {"addr": {"type": "inet", "data": {"host": "127.0.0.1"}}}, id=4),
    ])

scenario(
    "sync-mode-existing-errors",
    "mode existing with a file that is not an image of the format, an overlay of another size, "
    "and a file another node holds.",
    setup=[mk(), mk("small.qcow2", "1M"), mk("junk.raw", "1M", "raw"), mk("held.qcow2")],
    args=EXPORTED_BASE + [qcow("held")],
    tags=["snapshot", "existing", "errors"],
    steps=[
        SNAP("base", "junk.raw", "s1", id=1, mode="existing"),
        SNAP("base", "held.qcow2", "s1", id=2, mode="existing"),
        SNAP("base", "small.qcow2", "s1", id=3, mode="existing"),
        NODES(["node-name", "drv", "ro", "file", "backing_file", "image"]),
        SH("nbdinfo --size 'nbd+unix:///base?socket=nbd.sock'"),
    ])

scenario(
    "blockdev-snapshot-overlay-variants",
    "blockdev-snapshot with a read-only overlay under a writable export, and with an overlay "
    "smaller than its backing node.",
    setup=[mk(), mk("b.qcow2"), mk("ro.qcow2"), mk("small.qcow2", "1M")],
    args=[qcow(), qcow("b"), NBD, EXPORT(), EXPORT("b", "exp1"),
          qcow("ro", backing=None, **{"read-only": True}), qcow("small", backing=None)],
    tags=["blockdev-snapshot"],
    steps=[
        Q("blockdev-snapshot", {"node": "base", "overlay": "ro"}, id=1),
        EXPORTS(),
        Q("blockdev-snapshot", {"node": "b", "overlay": "small"}, id=2),
        EXPORTS(),
        SH("nbdinfo --size 'nbd+unix:///b?socket=nbd.sock'"),
        NODES(),
    ])

scenario(
    "drive-change-backing-file",
    "change-backing-file on a drive's chain: errors for a node outside the chain and without "
    "backing, and a rewrite of the header of an overlay's image.",
    setup=[mk()], args=[DRIVE()], drive=True, tags=["drive", "backing"],
    steps=[
        Q("blockdev-snapshot-sync", {"device": "drive0", "snapshot-file": "s1.qcow2",
                                     "snapshot-node-name": "s1"}, id=1),
        Q("change-backing-file", {"device": "drive0", "image-node-name": "base",
                                  "backing-file": "x.qcow2"}, id=2),
        Q("change-backing-file", {"device": "drive0", "image-node-name": "nosuch",
                                  "backing-file": "x.qcow2"}, id=3),
        Q("change-backing-file", {"device": "nosuch", "image-node-name": "s1",
                                  "backing-file": "x.qcow2"}, id=4),
        Q("change-backing-file", {"device": "drive0", "image-node-name": "s1",
                                  "backing-file": "renamed.qcow2"}, id=5),
        INFO("s1.qcow2"),
        NODES(),
    ])

# =============================================================================
# Introspection
# =============================================================================

def SCHEMA(commands=(), events=(), depth=3):
    return Q("query-qmp-schema", transform=[{"kind": "qapi", "commands": list(commands),
                                             "events": list(events), "depth": depth}])


scenario(
    "introspect-schema-bitmaps",
    "query-qmp-schema: the dirty-bitmap commands, structurally.",
    tags=["introspection"],
    steps=[SCHEMA(["block-dirty-bitmap-add", "block-dirty-bitmap-remove", "block-dirty-bitmap-clear",
                   "block-dirty-bitmap-enable", "block-dirty-bitmap-disable", "block-dirty-bitmap-merge",
                   "x-debug-block-dirty-bitmap-sha256"], depth=5)])

scenario(
    "introspect-schema-exports",
    "query-qmp-schema: NBD server and export commands.",
    tags=["introspection"],
    steps=[SCHEMA(["nbd-server-start", "nbd-server-stop", "nbd-server-add", "nbd-server-remove",
                   "block-export-add", "block-export-del", "query-block-exports"], depth=5)])

scenario(
    "introspect-schema-events",
    "query-qmp-schema: all 13 events of QSD with their data.",
    tags=["introspection"],
    steps=[SCHEMA(events=["JOB_STATUS_CHANGE", "BLOCK_JOB_COMPLETED", "BLOCK_JOB_CANCELLED",
                          "BLOCK_JOB_ERROR", "BLOCK_JOB_READY", "BLOCK_JOB_PENDING", "BLOCK_EXPORT_DELETED",
                          "BLOCK_IMAGE_CORRUPTED", "BLOCK_IO_ERROR", "BLOCK_WRITE_THRESHOLD",
                          "QUORUM_FAILURE", "QUORUM_REPORT_BAD", "VSERPORT_CHANGE", "SHUTDOWN"], depth=4)])

scenario(
    "introspect-schema-queries",
    "query-qmp-schema: the query commands and their return types.",
    tags=["introspection"],
    steps=[SCHEMA(["query-named-block-nodes", "query-block", "query-version", "query-commands",
                   "query-jobs", "query-block-jobs", "x-debug-query-block-graph"], depth=4)])

scenario(
    "introspect-schema-blockdev",
    "query-qmp-schema: blockdev-add (union over drivers), blockdev-del, blockdev-create, "
    "block_resize, block-set-write-threshold.",
    tags=["introspection"],
    steps=[SCHEMA(["blockdev-add", "blockdev-del", "block_resize", "block-set-write-threshold"], depth=3),
           SCHEMA(["blockdev-create"], depth=3)])

scenario(
    "introspect-schema-jobs",
    "query-qmp-schema: job-* and block-job-* commands.",
    tags=["introspection"],
    steps=[SCHEMA(["job-pause", "job-resume", "job-cancel", "job-complete", "job-dismiss", "job-finalize",
                   "block-job-cancel", "block-job-pause", "block-job-resume", "block-job-complete",
                   "block-job-dismiss", "block-job-finalize", "block-job-set-speed"], depth=4)])

scenario(
    "introspect-schema-integrity",
    "query-qmp-schema as a whole: meta-types, no dangling references, unique names; unknown "
    "names resolve to null.",
    tags=["introspection"],
    steps=[SCHEMA(["nosuch", "qmp_capabilities"], ["NOSUCH"], depth=2)])


# =============================================================================
# Internal snapshots (success paths; the errors are in internal-snapshot-errors)
# =============================================================================

SNAP_KEYS = [{"kind": "select", "keys": ["id", "name", "vm-state-size"]}]


def ISNAP(node, name, id=None):
    return Q("blockdev-snapshot-internal-sync", {"device": node, "name": name}, id=id)


def IDEL(node, id=None, name=None, qid=None):
    a = {"device": node}
    if id is not None:
        a["id"] = id
    if name is not None:
        a["name"] = name
    return Q("blockdev-snapshot-delete-internal-sync", a, id=qid, transform=SNAP_KEYS)


def SNAPLIST(f="base.qcow2"):
    return SH("qemu-img snapshot -l %s | sed 1,2d | awk '{print $1, $2, $3, $4}'" % f)


scenario(
    "internal-snapshot-lifecycle",
    "Internal snapshots of an exported qcow2 node: data written after a snapshot stays out of "
    "it, ids count up from the largest left, deletes by name and by id return the snapshot, "
    "and qemu-img sees a clean image whose remaining snapshot restores its data.",
    setup=[mk()], args=EXPORTED_BASE, tags=["snapshot", "internal", "nbd", "io"],
    steps=[
        NBDIO(["write -q -P 1 0 1M"]),
        ISNAP("base", "s1", id=1),
        NBDIO(["write -q -P 2 64k 64k"]),
        ISNAP("base", "s2", id=2),
        IDEL("base", name="s1", qid=3),
        NBDIO(["write -q -P 3 0 4k", "read -q -P 2 64k 64k"]),
        ISNAP("base", "s3", id=4),
        IDEL("base", id="3", qid=5),
        IDEL("base", id="2", name="s1", qid=6),
        *QUIT(),
        SH("qemu-img check base.qcow2"),
        SNAPLIST(),
        SH("cp base.qcow2 r.qcow2 && qemu-img snapshot -a s2 r.qcow2 && qemu-io -r -f qcow2 "
           "-c 'read -q -P 1 0 64k' -c 'read -q -P 2 64k 64k' -c 'read -q -P 1 128k 896k' r.qcow2 && echo ok"),
        SH("qemu-io -r -f qcow2 -c 'read -q -P 3 0 4k' -c 'read -q -P 1 4k 60k' base.qcow2 && echo ok"),
    ])

scenario(
    "internal-snapshot-transaction",
    "blockdev-snapshot-internal-sync as a transaction action: two nodes at once; a later "
    "action's failure deletes what an earlier one took; grouped completion is refused.",
    setup=[mk(), mk("b.qcow2")], args=[qcow(), qcow("b")],
    tags=["snapshot", "internal", "transaction"],
    steps=[
        TX([act("blockdev-snapshot-internal-sync", device="base", name="both"),
            act("blockdev-snapshot-internal-sync", device="b", name="both")], id=1),
        TX([act("blockdev-snapshot-internal-sync", device="base", name="gone"),
            act("blockdev-snapshot-internal-sync", device="b", name="both")], id=2),
        TX([act("blockdev-snapshot-internal-sync", device="base", name="g")],
           props={"completion-mode": "grouped"}, id=3),
        TX([act("blockdev-snapshot-internal-sync", device="b", name="x"),
            act("blockdev-snapshot-internal-sync", device="b", name="y")], id=4),
        IDEL("b", name="x", qid=5),
        *QUIT(),
        SNAPLIST(),
        SNAPLIST("b.qcow2"),
        SH("qemu-img check base.qcow2 && qemu-img check b.qcow2"),
    ])

scenario(
    "internal-snapshot-delete-errors",
    "blockdev-snapshot-delete-internal-sync refusals: non-root nodes, a raw node (no snapshot "
    "list), id and name that match different snapshots, snapshots QEMU took, and a read-only image.",
    setup=[mk(), "qemu-img snapshot -c q1 base.qcow2", "qemu-img snapshot -c q2 base.qcow2",
           "qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2",
           "qemu-img snapshot -c t1 top.qcow2", "qemu-img snapshot -c t2 top.qcow2",
           mk("ro.qcow2"), "qemu-img snapshot -c rs ro.qcow2", mk("r.img", "1M", "raw")],
    args=[["blockdev", {"driver": "qcow2", "node-name": "top",
                        "file": {"driver": "file", "filename": "top.qcow2", "node-name": "topf"},
                        "backing": {"driver": "qcow2", "node-name": "base",
                                    "file": {"driver": "file", "filename": "base.qcow2"}}}],
          qcow("ro", **{"read-only": True}),
          ["blockdev", {"driver": "raw", "node-name": "r", "file": {"driver": "file", "filename": "r.img"}}],
          ],
    tags=["snapshot", "internal", "errors"],
    steps=[
        IDEL("base", name="q1", qid=1),
        IDEL("topf", name="q1", qid=2),
        ISNAP("base", "x", id=3),
        IDEL("r", name="x", qid=4),
        IDEL("r", qid=5),
        IDEL("top", id="1", name="t2", qid=6),
        IDEL("top", id="2", name="t2", qid=7),
        IDEL("top", id="2", qid=8),
        IDEL("ro", name="rs", qid=9),
        *QUIT(),
        SNAPLIST("top.qcow2"),
        SNAPLIST("ro.qcow2"),
        SH("qemu-img check top.qcow2"),
    ])

scenario(
    "internal-snapshot-resize",
    "block_resize of qcow2 images with internal snapshots: a v3 image shrinks and grows (its "
    "snapshot keeps its own size and data); a v2 image with a snapshot refuses.",
    setup=[mk("base.qcow2", "4M"), "qemu-io -f qcow2 -c 'write -q -P 4 0 4M' base.qcow2",
           "qemu-img snapshot -c whole base.qcow2",
           mk("v2.qcow2", "1M", extra="-o compat=0.10 "), "qemu-img snapshot -c s v2.qcow2"],
    args=[qcow(), qcow("v2", "v2.qcow2")],
    tags=["snapshot", "internal", "resize"],
    steps=[
        Q("block_resize", {"node-name": "base", "size": 1048576}, id=1),
        ISNAP("base", "small", id=2),
        Q("block_resize", {"node-name": "base", "size": 2097152}, id=3),
        Q("block_resize", {"node-name": "v2", "size": 2097152}, id=4),
        Q("block_resize", {"node-name": "v2", "size": 524288}, id=5),
        *QUIT(),
        SH("qemu-img check base.qcow2"),
        SH("qemu-img info base.qcow2 | grep 'virtual size'"),
        SH("cp base.qcow2 r.qcow2 && qemu-img snapshot -a whole r.qcow2 && qemu-img info r.qcow2 | grep 'virtual size' "
           "&& qemu-io -r -f qcow2 -c 'read -q -P 4 0 4M' r.qcow2 && echo ok"),
        SH("qemu-io -r -f qcow2 -c 'read -q -P 4 0 1M' -c 'read -q -P 0 1M 1M' base.qcow2 && echo ok"),
    ])


# =============================================================================
# Persistent bitmaps: in-use flags in the image, storing when a node turns read-only
# =============================================================================

BASE_CHAIN3 = ["blockdev", {"driver": "qcow2", "node-name": "top",
                            "file": {"driver": "file", "filename": "top.qcow2"},
                            "backing": {"driver": "qcow2", "node-name": "mid",
                                        "file": {"driver": "file", "filename": "mid.qcow2"},
                                        "backing": {"driver": "qcow2", "node-name": "bot",
                                                    "file": {"driver": "file",
                                                             "filename": "bot.qcow2"}}}}]

scenario(
    "bitmap-open-in-use",
    "Bitmaps qemu-img made (enabled; disabled with 128k granularity) are flagged in-use in the "
    "image as soon as a writable node opens it (query-named-block-nodes and qemu-img info -U "
    "show the flags); a read-only node leaves its copy alone; quit clears the flags.",
    setup=[mk(), "qemu-img bitmap --add base.qcow2 on",
           "qemu-img bitmap --add --disable -g 131072 base.qcow2 off", "cp base.qcow2 ro.qcow2"],
    args=[qcow(), qcow("ro", **{"read-only": True})],
    tags=["bitmap", "persistent", "query"],
    steps=[
        NODES(["node-name", "ro", "image"]),
        BITMAPS(),
        INFO("base.qcow2", note="in-use on disk while the daemon runs"),
        INFO("ro.qcow2"),
        *QUIT(),
        INFO("base.qcow2"),
        SH("qemu-img check base.qcow2"),
    ])

scenario(
    "bitmap-snapshot-stores-base",
    "blockdev-snapshot-sync turns the old node read-only: its persistent bitmaps (one loaded, "
    "one added over QMP with bits from an NBD write) are stored in its image first and lose "
    "their in-use flag there while the daemon still runs; quit leaves them as they were.",
    setup=[mk(), "qemu-img bitmap --add base.qcow2 loaded"],
    args=EXPORTED_BASE, tags=["bitmap", "persistent", "snapshot"],
    steps=[
        Q("block-dirty-bitmap-add", {"node": "base", "name": "p1", "persistent": True,
                                     "granularity": 131072}, id=1),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "t1"}, id=2),
        NBDIO(["write -q -P 0x11 0 64k"]),
        INFO("base.qcow2", note="before the snapshot: only the loaded bitmap, in use"),
        SNAP("base", "s1.qcow2", "s1", id=3),
        INFO("base.qcow2", note="stored as the node turned read-only"),
        NODES(["node-name", "ro", "image"]),
        BITMAPS(),
        NBDIO(["write -q -P 0x22 1M 64k"]),
        BITMAPS(note="writes go to the overlay: the base's bitmaps do not change"),
        *QUIT(),
        INFO("base.qcow2"),
        INFO("s1.qcow2"),
        SH("qemu-img check base.qcow2"),
        DIRTYMAP("base.qcow2", "p1"),
    ])

scenario(
    "bitmap-add-persistent-readonly",
    "block-dirty-bitmap-add persistent on a read-only qcow2 node succeeds, but the bitmap never "
    "reaches the image (QEMU does not store bitmaps of a read-only node at close).",
    setup=[mk("ro.qcow2"), "qemu-img bitmap --add ro.qcow2 old"],
    args=[qcow("ro", **{"read-only": True})],
    tags=["bitmap", "persistent", "read-only", "quirk"],
    steps=[
        Q("block-dirty-bitmap-add", {"node": "ro", "name": "p", "persistent": True}, id=1),
        Q("block-dirty-bitmap-add", {"node": "ro", "name": "old", "persistent": True}, id=2),
        BITMAPS(),
        NODES(["node-name", "image"]),
        Q("block-dirty-bitmap-remove", {"node": "ro", "name": "p"}, id=3),
        Q("block-dirty-bitmap-add", {"node": "ro", "name": "p2", "persistent": True,
                                     "disabled": True}, id=4),
        *QUIT(),
        INFO("ro.qcow2"),
    ])

scenario(
    "bitmap-reopen-readonly",
    "blockdev-reopen to read-only stores the node's persistent bitmaps (flags no longer in-use, "
    "a QMP-added one appears); they are then read-only; reopen to read-write flags them in-use "
    "again; a remove after that takes the bitmap out of the image at once.",
    setup=[mk(), "qemu-img bitmap --add base.qcow2 loaded"],
    args=[qcow()], tags=["bitmap", "persistent", "reopen"],
    steps=[
        Q("block-dirty-bitmap-add", {"node": "base", "name": "p1", "persistent": True,
                                     "granularity": 131072}, id=1),
        INFO("base.qcow2"),
        Q("blockdev-reopen", {"options": [dict(qcow()[1], **{"read-only": True})]}, id=2),
        INFO("base.qcow2", note="stored at the reopen"),
        NODES(["node-name", "ro", "image"]),
        BITMAPS(),
        Q("block-dirty-bitmap-remove", {"node": "base", "name": "p1"}, id=3),
        Q("block-dirty-bitmap-clear", {"node": "base", "name": "loaded"}, id=4),
        Q("blockdev-reopen", {"options": [dict(qcow()[1], **{"read-only": False})]}, id=5),
        INFO("base.qcow2", note="in use again"),
        NODES(["node-name", "ro", "image"]),
        BITMAPS(),
        Q("block-dirty-bitmap-remove", {"node": "base", "name": "loaded"}, id=6),
        INFO("base.qcow2"),
        *QUIT(),
        INFO("base.qcow2"),
        SH("qemu-img check base.qcow2"),
    ])

scenario(
    "bitmap-change-backing-file-readonly",
    "change-backing-file on a read-only backing image with bitmaps: the node goes read-write "
    "(its bitmaps flagged in-use) and back read-only (stored again) around the header rewrite.",
    setup=[mk("bot.qcow2"),
           "qemu-img create -q -f qcow2 -b bot.qcow2 -F qcow2 mid.qcow2",
           "qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2",
           "qemu-img bitmap --add mid.qcow2 mb",
           "qemu-img bitmap --add --disable mid.qcow2 md"],
    args=[BASE_CHAIN3], tags=["bitmap", "persistent", "backing", "read-only"],
    steps=[
        NODES(["node-name", "ro", "image"]),
        INFO("mid.qcow2"),
        Q("change-backing-file", {"device": "top", "image-node-name": "mid",
                                  "backing-file": "./bot.qcow2"}, id=1),
        INFO("mid.qcow2", note="new backing name, bitmaps stored again"),
        NODES(["node-name", "ro", "image"]),
        BITMAPS(),
        *QUIT(),
        INFO("mid.qcow2"),
        SH("qemu-img check mid.qcow2"),
    ])

scenario(
    "bitmap-remove-persistent-live",
    "block-dirty-bitmap-remove of a persistent bitmap takes it out of the image at once (qemu-img "
    "info -U while running); a transaction remove that aborts drops it from the image too, but "
    "keeps it in memory, and quit stores it again.",
    setup=[mk(), "qemu-img bitmap --add base.qcow2 b1", "qemu-img bitmap --add base.qcow2 b2",
           "qemu-img bitmap --add --disable base.qcow2 b3"],
    args=[qcow()], tags=["bitmap", "persistent", "transaction", "rollback"],
    steps=[
        Q("block-dirty-bitmap-remove", {"node": "base", "name": "b1"}, id=1),
        INFO("base.qcow2"),
        TX([act("block-dirty-bitmap-remove", node="base", name="b2"),
            act("block-dirty-bitmap-remove", node="base", name="nosuch")], id=2),
        INFO("base.qcow2", note="the failed transaction's prepare already dropped b2 on disk"),
        BITMAPS(),
        TX([act("block-dirty-bitmap-remove", node="base", name="b3")], id=3),
        INFO("base.qcow2"),
        BITMAPS(),
        *QUIT(),
        INFO("base.qcow2"),
        SH("qemu-img check base.qcow2"),
    ])


scenario(
    "bitmap-readonly-flag-reopen",
    "A bitmap's read-only flag is its own, not its node's: on a read-only node the loaded bitmap "
    "cannot be cleared but a persistent one added there can; reopen read-write frees the loaded "
    "one; reopen read-only stores both and makes both read-only; back read-write both can change.",
    setup=[mk("ro.qcow2"), "qemu-img bitmap --add ro.qcow2 old"],
    args=[qcow("ro", **{"read-only": True})],
    tags=["bitmap", "persistent", "read-only", "reopen"],
    steps=[
        Q("block-dirty-bitmap-add", {"node": "ro", "name": "p", "persistent": True}, id=1),
        Q("block-dirty-bitmap-clear", {"node": "ro", "name": "p"}, id=2),
        Q("block-dirty-bitmap-clear", {"node": "ro", "name": "old"}, id=3),
        Q("block-dirty-bitmap-merge", {"node": "ro", "target": "p", "bitmaps": ["old"]}, id=4),
        Q("blockdev-reopen", {"options": [dict(qcow("ro")[1], **{"read-only": False})]}, id=5),
        INFO("ro.qcow2", note="the loaded bitmap is in use; the added one is not stored yet"),
        Q("block-dirty-bitmap-clear", {"node": "ro", "name": "old"}, id=6),
        Q("blockdev-reopen", {"options": [dict(qcow("ro")[1], **{"read-only": True})]}, id=7),
        INFO("ro.qcow2"),
        Q("block-dirty-bitmap-clear", {"node": "ro", "name": "p"}, id=8),
        Q("block-dirty-bitmap-clear", {"node": "ro", "name": "old"}, id=9),
        Q("block-dirty-bitmap-add", {"node": "ro", "name": "t"}, id=10),
        Q("block-dirty-bitmap-clear", {"node": "ro", "name": "t"}, id=11),
        Q("blockdev-reopen", {"options": [dict(qcow("ro")[1], **{"read-only": False})]}, id=12),
        Q("block-dirty-bitmap-clear", {"node": "ro", "name": "p"}, id=13),
        Q("block-dirty-bitmap-remove", {"node": "ro", "name": "old"}, id=14),
        INFO("ro.qcow2"),
        BITMAPS(),
        *QUIT(),
        INFO("ro.qcow2"),
        SH("qemu-img check ro.qcow2"),
    ])


# =============================================================================
# Graph and queries after graph changes
# =============================================================================

def GRAPH_VIEWS():
    """Every view of the graph, in full: the graph, nested and flat node lists, exports."""
    return [GRAPH(), Q("query-named-block-nodes"), Q("query-named-block-nodes", {"flat": True}), EXPORTS()]


CHAIN_SETUP = [mk(), "qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2"]
TOP_WITH_BASE = {"driver": "qcow2", "node-name": "top",
                 "file": {"driver": "file", "filename": "top.qcow2", "node-name": "topf"},
                 "backing": {"driver": "qcow2", "node-name": "base",
                             "file": {"driver": "file", "filename": "base.qcow2", "node-name": "basef"}}}


def REOPEN_TOP(id, **opts):
    return Q("blockdev-reopen", {"options": [dict({"driver": "qcow2", "node-name": "top", "file": "topf"}, **opts)]}, id=id)


scenario(
    "graph-del-after-overlays",
    "Two blockdev-snapshot overlays over an exported node, then the export and the overlays go: "
    "a node that loses its last parent shows no permissions on its backing edge any more; the "
    "middle overlay cannot go before the top one; the views after each step.",
    setup=[mk(), mk("o1.qcow2"), mk("o2.qcow2")],
    args=EXPORTED_BASE + [qcow("o1", backing=None), qcow("o2", backing=None)],
    tags=["graph", "blockdev-del", "blockdev-snapshot"],
    steps=[
        Q("blockdev-snapshot", {"node": "base", "overlay": "o1"}, id=1),
        Q("blockdev-snapshot", {"node": "o1", "overlay": "o2"}, id=2),
        *GRAPH_VIEWS(),
        Q("block-export-del", {"id": "exp0"}, id=3),
        EVENTS("BLOCK_EXPORT_DELETED"),
        GRAPH(),
        Q("blockdev-del", {"node-name": "o1"}, id=4),
        Q("blockdev-del", {"node-name": "o2"}, id=5),
        *GRAPH_VIEWS(),
        Q("blockdev-del", {"node-name": "o1"}, id=6),
        *GRAPH_VIEWS(),
    ])

scenario(
    "graph-export-del-chain",
    "block-export-del under a chain (a blockdev-add'ed node with its backing, snapshotted): the "
    "permissions of every edge below fall back to those of a node without users; a read-only "
    "export of the old base afterwards. Before that, blockdev-reopen in the chain: the exported "
    "overlay cannot go read-only (QEMU names the node); the old node cannot go read-write while "
    "its file, given by reference, stays read-only, but can with its file given inline.",
    setup=CHAIN_SETUP, args=[["blockdev", TOP_WITH_BASE], NBD, EXPORT("top")],
    tags=["graph", "nbd", "snapshot", "reopen"],
    steps=[
        SNAP("top", "s1.qcow2", "s1", id=1),
        GRAPH(),
        Q("blockdev-reopen", {"options": [{"driver": "qcow2", "node-name": "s1", "backing": "top", "read-only": True,
                                           "file": {"driver": "file", "filename": "s1.qcow2"}}]}, id=4),
        REOPEN_TOP(5, backing="base"),
        REOPEN_TOP(7, backing="base", file={"driver": "file", "filename": "top.qcow2", "node-name": "topf"}),
        *GRAPH_VIEWS(),
        REOPEN_TOP(6, backing="base", **{"read-only": True}),
        Q("block-export-del", {"id": "exp0"}, id=2),
        EVENTS("BLOCK_EXPORT_DELETED"),
        *GRAPH_VIEWS(),
        Q("block-export-add", {"type": "nbd", "id": "e2", "node-name": "base"}, id=3),
        *GRAPH_VIEWS(),
    ])

scenario(
    "blockdev-reopen-backing",
    "blockdev-reopen and the backing child: left out on a node with a backing it is an error; "
    "the file given by reference keeps its read-only state unless the parent sets one; null "
    "detaches the backing (closed with its file), a node-name attaches that node; unknown nodes "
    "and cycles are refused.",
    setup=CHAIN_SETUP + [mk("o.qcow2")],
    args=[["blockdev", TOP_WITH_BASE], qcow("o", **{"read-only": True})],
    tags=["reopen", "graph", "backing"],
    steps=[
        REOPEN_TOP(1, **{"read-only": True}),
        REOPEN_TOP(2, **{"read-only": True, "backing": "base"}),
        NODES(),
        REOPEN_TOP(3, backing="base"),
        REOPEN_TOP(4, **{"read-only": True, "backing": "nosuch"}),
        REOPEN_TOP(5, **{"read-only": True, "backing": "top"}),
        REOPEN_TOP(6, **{"read-only": True, "backing": None}),
        *GRAPH_VIEWS(),
        REOPEN_TOP(7, **{"read-only": True, "backing": "o"}),
        *GRAPH_VIEWS(),
        Q("blockdev-reopen", {"options": [{"driver": "qcow2", "node-name": "o", "read-only": True,
                                           "file": {"driver": "file", "filename": "o.qcow2"}, "backing": "top"}]}, id=8),
        Q("blockdev-del", {"node-name": "o"}, id=9),
    ])

scenario(
    "drive-tx-read-only-mix",
    "One transaction over three drives (by device and by node-name, one read-only, one overlay "
    "auto-named); a second one whose last action fails leaves every view as it was; block_resize "
    "of the read-only drive and change-backing-file on a node that is not a root are refused; "
    "an overlay grown over a backing of its old size and then shrunk: sizes of the files.",
    setup=[mk(), mk("b.qcow2"), mk("c.qcow2")],
    args=[DRIVE(), DRIVE("b.qcow2", "drive1", "b", ro=True), DRIVE("c.qcow2", "drive2", "c")],
    drive=True, tags=["drive", "transaction", "read-only", "graph"],
    steps=[
        TX([{"type": "blockdev-snapshot-sync", "data": {"device": "drive0", "snapshot-file": "s1.qcow2",
                                                        "snapshot-node-name": "s1"}},
            sync_action("b", "sb.qcow2", "sb"),
            {"type": "blockdev-snapshot-sync", "data": {"device": "drive2", "snapshot-file": "sc.qcow2",
                                                        "format": "qcow2"}}], id=1),
        Q("query-block"),
        *GRAPH_VIEWS(),
        TX([sync_action("s1", "t1.qcow2", "t1"), sync_action("sb", "tb.qcow2", "tb"),
            sync_action("nosuch", "x.qcow2", "x")], id=2),
        Q("query-block"),
        *GRAPH_VIEWS(),
        Q("block_resize", {"device": "drive1", "size": 134217728}, id=3),
        Q("block_resize", {"node-name": "base", "size": 134217728}, id=4),
        Q("change-backing-file", {"device": "base", "image-node-name": "base", "backing-file": "x.qcow2"}, id=5),
        Q("block_resize", {"device": "drive0", "size": 134217728}, id=6),
        Q("block_resize", {"node-name": "s1", "size": 33554432}, id=7),
        Q("query-block"),
        *GRAPH_VIEWS(),
        SH("stat -c '%n %s' base.qcow2 s1.qcow2", note="t1/tb.qcow2 left by the failed transaction are not listed"),
    ])

scenario(
    "tx-snapshot-kinds-full-views",
    "blockdev-snapshot and blockdev-snapshot-sync in one transaction, the second sync action on "
    "the first one's overlay: the nested node list shows the json: backing names in full; a "
    "failing transaction afterwards changes nothing.",
    setup=[mk(), mk("b.qcow2"), mk("ov.qcow2")],
    args=[qcow(), qcow("b"), NBD, EXPORT(), EXPORT("b", "exp1"), qcow("ov", backing=None)],
    tags=["transaction", "blockdev-snapshot", "graph"],
    steps=[
        TX([act("blockdev-snapshot", node="base", overlay="ov"), sync_action("b", "sb.qcow2", "sb"),
            sync_action("ov", "s2.qcow2", "s2")], id=1),
        *GRAPH_VIEWS(),
        TX([sync_action("s2", "x.qcow2", "x"), act("blockdev-snapshot", node="sb", overlay="nosuch")], id=2),
        *GRAPH_VIEWS(),
    ])

scenario(
    "change-backing-file-node-chain",
    "change-backing-file on blockdev nodes: the header's new name makes the node's filename a "
    "json: one while its backing child stays; a snapshot's overlay records that name; only a "
    "root node may be the device; block_resize by node-name of a busy node prints '(null)'.",
    setup=CHAIN_SETUP, args=[["blockdev", TOP_WITH_BASE], NBD, EXPORT("top")],
    tags=["backing", "graph"],
    steps=[
        Q("change-backing-file", {"device": "top", "image-node-name": "top", "backing-file": "other.qcow2"}, id=1),
        *GRAPH_VIEWS(),
        INFO("top.qcow2"),
        SNAP("top", "s1.qcow2", "s1", id=2),
        Q("change-backing-file", {"device": "s1", "image-node-name": "top", "backing-file": "base.qcow2"}, id=3),
        Q("change-backing-file", {"device": "top", "image-node-name": "top", "backing-file": "x.qcow2"}, id=4),
        Q("block_resize", {"node-name": "top", "size": 134217728}, id=5),
        *GRAPH_VIEWS(),
        INFO("s1.qcow2"),
    ])


# ---- transaction / snapshot argument probes (helper: tx/snapshot args) ------

scenario(
    "sync-format-names",
    "blockdev-snapshot-sync with overlay formats other than qcow2 in absolute-paths mode: "
    "formats without backing support, an empty and a mis-cased name, protocol drivers; what is "
    "left on disk.",
    setup=[mk()], args=EXPORTED_BASE, tags=["snapshot", "format", "errors"],
    steps=[
        SNAP("base", "f1.img", "f1", id=1, format="vdi"),
        SNAP("base", "f2.img", "f2", id=2, format="luks"),
        SNAP("base", "f3.img", "f3", id=3, format="vpc"),
        SNAP("base", "f4.img", "f4", id=4, format=""),
        SNAP("base", "f5.img", "f5", id=5, format="QCOW2"),
        SNAP("base", "f6.img", "f6", id=6, format="null-co"),
        SNAP("base", "f7.img", "f7", id=7, format="nbd"),
        SNAP("base", "f8.img", "f8", id=8, format="vhdx"),
        SNAP("base", "f9.img", "f9", id=9, format="raw", mode="existing"),
        LS(),
        SH("ls -1 f* 2>/dev/null; true"),
        EXPORTS(),
        NODES(),
    ])

scenario(
    "sync-node-name-values",
    "snapshot-node-name values: empty, too long, auto-name style, with a space, equal to the old "
    "node's file child, to the old node itself; node-name empty with a snapshot-node-name; which "
    "of them leave a file behind.",
    setup=[mk()],
    args=[["blockdev", {"driver": "qcow2", "node-name": "base",
                        "file": {"driver": "file", "filename": "base.qcow2", "node-name": "basef"}}],
          NBD, EXPORT()],
    tags=["snapshot", "errors", "node-name"],
    steps=[
        SNAP("base", "n1.qcow2", "", id=1, **{"snapshot-node-name": ""}),
        SNAP("base", "n2.qcow2", "a" * 32, id=2),
        SNAP("base", "n3.qcow2", "#block123", id=3),
        SNAP("base", "n4.qcow2", "a b", id=4),
        SNAP("base", "n5.qcow2", "basef", id=5),
        Q("blockdev-snapshot-sync", {"node-name": "", "snapshot-file": "n6.qcow2",
                                     "snapshot-node-name": "n6"}, id=6),
        Q("blockdev-snapshot-sync", {"device": "", "snapshot-file": "n7.qcow2"}, id=7),
        SNAP("base", "n8.qcow2", "a" * 31, id=8),
        LS(),
        NODES(),
        EXPORTS(),
    ])

scenario(
    "sync-existing-mode-files",
    "mode existing with an empty file name, a directory, a raw image named with format qcow2, "
    "a node-name in use, and an image that has a backing of its own.",
    setup=[mk(), "mkdir adir", mk("ok.qcow2"), mk("r.raw", "64M", "raw"),
           "qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 chained.qcow2"],
    args=EXPORTED_BASE, tags=["snapshot", "existing", "errors"],
    steps=[
        SNAP("base", "", "s1", id=1, mode="existing"),
        SNAP("base", "adir", "s1", id=2, mode="existing"),
        SNAP("base", "r.raw", "s1", id=5, mode="existing", format="qcow2"),
        SNAP("base", "ok.qcow2", "base", id=6, mode="existing"),
        SNAP("base", "ok.qcow2", "s1", id=7, mode="existing", format="qcow2"),
        NODES(),
        EXPORTS(),
        GRAPH(),
    ])

scenario(
    "sync-existing-foreign-format",
    "mode existing naming a qcow2 image with format qed or vmdk: the format driver's open error.",
    setup=[mk(), mk("ok.qcow2")], args=EXPORTED_BASE, tags=["snapshot", "existing", "errors"],
    steps=[
        SNAP("base", "ok.qcow2", "s1", id=1, mode="existing", format="qed"),
        SNAP("base", "ok.qcow2", "s1", id=2, mode="existing", format="vmdk"),
        EXPORTS(),
    ])

scenario(
    "tx-action-data-errors",
    "Argument errors inside transaction action data: unexpected members, wrong types and bad "
    "enums per action kind (paths below actions[N].data), a bad second action after a good "
    "first one (nothing runs, no file), odd properties values.",
    setup=[mk()], args=EXPORTED_BASE, tags=["validation", "transaction"],
    steps=[
        TX([sync_action("base", "s1.qcow2", "s1", bogus=1)], id=1),
        TX([sync_action("base", 5, "s1")], id=2),
        TX([sync_action("base", "s1.qcow2", "s1", mode="nosuch")], id=3),
        TX([sync_action("base", "s1.qcow2", "s1", format=5)], id=4),
        TX([act("blockdev-snapshot", node="base")], id=5),
        TX([act("blockdev-snapshot", node="base", overlay="ov", bogus=True)], id=6),
        TX([act("blockdev-snapshot-internal-sync", device="base")], id=7),
        TX([{"type": 5, "data": {}}], id=8),
        TX([{"type": "abort", "data": []}], id=9),
        TX([sync_action("base", "s1.qcow2", "s1"), sync_action("base", "s2.qcow2")], id=10),
        TX([sync_action("base", "s1.qcow2", "s1"), {"type": "abort", "data": {}, "bogus": 1}], id=11),
        TX([], props=None, id=12),
        Q("transaction", {"actions": [], "properties": None}, id=13),
        Q("transaction", {"actions": [], "properties": "grouped"}, id=14),
        Q("transaction", {"actions": [ABORT], "properties": {"completion-mode": "individual"}}, id=15),
        Q("transaction", {}, id=16),
        Q("transaction", {"actions": [{}]}, id=17),
        TX([sync_action("base", "s1.qcow2", "s1", **{"node-name": 7})], id=18),
        TX([act("block-dirty-bitmap-add", node="base", name="b", bogus=1)], id=19),
        TX([act("blockdev-snapshot-sync", **{"snapshot-file": "s9.qcow2"})], id=20),
        LS(),
        NODES(),
    ])

scenario(
    "tx-grouped-ordering",
    "completion-mode grouped against other failures: an abort before a snapshot aborts first, "
    "a snapshot before an abort is refused for grouped, unknown nodes and missing node-names "
    "are refused for grouped first; internal snapshots too; nothing is created.",
    setup=[mk()], args=EXPORTED_BASE, tags=["transaction", "completion-mode"],
    steps=[
        TX([ABORT, sync_action("base", "s1.qcow2", "s1")], props={"completion-mode": "grouped"}, id=1),
        TX([sync_action("base", "s1.qcow2", "s1"), ABORT], props={"completion-mode": "grouped"}, id=2),
        TX([sync_action("nosuch", "s1.qcow2", "s1")], props={"completion-mode": "grouped"}, id=3),
        TX([sync_action("base", "s1.qcow2")], props={"completion-mode": "grouped"}, id=4),
        TX([act("blockdev-snapshot-internal-sync", device="base", name="i1")],
           props={"completion-mode": "grouped"}, id=5),
        TX([act("blockdev-snapshot-internal-sync", device="nosuch", name="i1")],
           props={"completion-mode": "grouped"}, id=6),
        TX([ABORT, ABORT], props={"completion-mode": "grouped"}, id=7),
        LS(),
        NODES(),
        EXPORTS(),
    ])

scenario(
    "blockdev-snapshot-overlay-parents",
    "blockdev-snapshot with an overlay that a non-backend parent uses (a raw node over it), the "
    "old node's own file child as overlay, and a protocol node as the node.",
    setup=[mk(), mk("ovq.qcow2"), mk("ovp.qcow2")],
    args=[["blockdev", {"driver": "qcow2", "node-name": "base",
                        "file": {"driver": "file", "filename": "base.qcow2", "node-name": "basef"}}],
          NBD, EXPORT(), qcow("ovq", backing=None),
          ["blockdev", {"driver": "raw", "node-name": "wrap", "file": "ovq"}],
          qcow("ovp", backing=None)],
    tags=["blockdev-snapshot", "errors"],
    steps=[
        Q("blockdev-snapshot", {"node": "base", "overlay": "basef"}, id=1),
        Q("blockdev-snapshot", {"node": "basef", "overlay": "ovp"}, id=2),
        Q("blockdev-snapshot", {"node": "base", "overlay": "wrap"}, id=3),
        Q("blockdev-snapshot", {"node": "base", "overlay": "ovq"}, id=4),
        EXPORTS(),
        NODES(),
        GRAPH(),
    ])

scenario(
    "drive-sync-arg-combos",
    "Snapshots by device: snapshot-node-name equal to the drive's own id or to an existing node, "
    "format raw, mode existing with an auto-named overlay, an empty drive later in a transaction "
    "(rolls back the first action), a node-name of a drive's old root after a snapshot by device.",
    setup=[mk(), "qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 pre.qcow2"],
    args=[DRIVE(), ["drive", "if=none,id=empty0"]], drive=True, tags=["drive", "snapshot", "errors"],
    steps=[
        Q("blockdev-snapshot-sync", {"device": "drive0", "snapshot-file": "s.qcow2",
                                     "snapshot-node-name": "drive0"}, id=1),
        Q("blockdev-snapshot-sync", {"device": "drive0", "snapshot-file": "s.qcow2",
                                     "snapshot-node-name": "base"}, id=2),
        Q("blockdev-snapshot-sync", {"device": "drive0", "snapshot-file": "s.raw", "format": "raw"}, id=3),
        TX([{"type": "blockdev-snapshot-sync", "data": {"device": "drive0", "snapshot-file": "t.qcow2",
                                                        "snapshot-node-name": "t"}},
            {"type": "blockdev-snapshot-sync", "data": {"device": "empty0", "snapshot-file": "e.qcow2"}}], id=4),
        Q("query-block", transform=[{"kind": "select", "keys": ["device", "inserted"]}]),
        Q("blockdev-snapshot-sync", {"device": "drive0", "snapshot-file": "pre.qcow2", "mode": "existing"}, id=5),
        Q("blockdev-snapshot-sync", {"node-name": "base", "snapshot-file": "u.qcow2",
                                     "snapshot-node-name": "u"}, id=6),
        Q("blockdev-snapshot-sync", {"device": "empty0", "node-name": "base", "snapshot-file": "u.qcow2",
                                     "snapshot-node-name": "u"}, id=7),
        Q("query-block", transform=[{"kind": "select", "keys": ["device", "inserted"]}]),
        NODES(["node-name", "drv", "ro", "file"]),
        LS(),
    ])


# ---- NBD export probes (export add/del variants) -----------------------------

def BGCLIENT(name="base", ms=3000):
    """A client that stays connected for ms milliseconds, started in the background."""
    return SH("(setsid qemu-io -r -f raw -c 'sleep %d' 'nbd+unix:///%s?socket=nbd.sock' "
              ">/dev/null 2>&1 &); sleep 0.5" % (ms, name), note="a client stays connected")


scenario(
    "nbd-export-bitmap-forms",
    "block-export-add bitmaps given as {node, name}: a bitmap of another node, unknown node or "
    "bitmap, an enabled bitmap (not refused in this form), a bitmap busy in another export, "
    "the same bitmap twice; the meta contexts a client sees.",
    setup=[mk(), mk("o.qcow2")], args=[qcow(), qcow("o"), NBD], tags=["nbd", "export", "bitmap"],
    steps=[
        Q("block-dirty-bitmap-add", {"node": "base", "name": "b1", "disabled": True}, id=1),
        Q("block-dirty-bitmap-add", {"node": "o", "name": "ob"}, id=2),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "base", "name": "a",
                               "bitmaps": [{"node": "nosuch", "name": "b1"}]}, id=3),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "base", "name": "a",
                               "bitmaps": [{"node": "base", "name": "nosuch"}]}, id=4),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "base", "name": "a",
                               "bitmaps": [{"node": "o", "name": "ob"}]}, id=5),
        Q("block-export-add", {"type": "nbd", "id": "e2", "node-name": "base", "name": "b",
                               "bitmaps": ["b1", {"node": "o", "name": "ob"}]}, id=6),
        Q("block-export-add", {"type": "nbd", "id": "e3", "node-name": "base", "name": "c",
                               "bitmaps": ["b1", "b1"]}, id=7),
        BITMAPS(),
        SH("nbdinfo --json 'nbd+unix:///a?socket=nbd.sock' | grep -A4 contexts"),
        SH("nbdinfo --json 'nbd+unix:///c?socket=nbd.sock' | grep -A4 contexts"),
        Q("block-export-add", {"type": "nbd", "id": "e4", "node-name": "o", "name": "d",
                               "bitmaps": ["ob"]}, id=8),
        EXPORTS(),
        Q("block-export-del", {"id": "e3"}, id=9),
        EVENTS("BLOCK_EXPORT_DELETED"),
        BITMAPS(),
    ])

scenario(
    "nbd-export-add-check-order",
    "Which block-export-add check wins when several fail: id, node, iothread, read-only, server, "
    "name and description length, empty name; writethrough and fixed-iothread accepted.",
    setup=[mk(), mk("ro.qcow2")], args=[qcow(), qcow("ro", **{"read-only": True})],
    tags=["nbd", "export", "errors"],
    steps=[
        Q("block-export-add", {"type": "nbd", "id": "1x", "node-name": "nosuch"}, id=1),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "nosuch", "iothread": "t"}, id=2),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "ro", "writable": True,
                               "iothread": "t"}, id=3),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "ro", "writable": True}, id=4),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "base", "name": "x" * 4097}, id=5),
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "nbd.sock"}}}, id=6),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "ro", "writable": True}, id=7),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "base", "name": "x" * 4097}, id=8),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "base", "name": "y",
                               "description": "d" * 4097}, id=9),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "base", "name": "x" * 4096,
                               "description": "d" * 4096}, id=10),
        Q("block-export-add", {"type": "nbd", "id": "e2", "node-name": "base", "name": "",
                               "writethrough": True, "fixed-iothread": True, "writable": True}, id=11),
        Q("block-export-add", {"type": "nbd", "id": "e3", "node-name": "ro", "writable": False,
                               "fixed-iothread": False}, id=12),
        NBDIO(["write -q -P 0x11 0 4k", "read -q -P 0x11 0 4k"], name=""),
        SH("nbdinfo --list 'nbd+unix://?socket=nbd.sock' | grep -c export="),
        EXPORTS(),
    ])

scenario(
    "nbd-export-del-connected",
    "block-export-del and nbd-server-remove with a client connected: safe refuses, hard drops "
    "the client; the export is gone afterwards.",
    setup=[mk()], args=[qcow(), NBD, EXPORT(writable=False)], tags=["nbd", "export", "events"],
    steps=[
        BGCLIENT(),
        Q("block-export-del", {"id": "exp0"}, id=1),
        Q("block-export-del", {"id": "exp0", "mode": "safe"}, id=2),
        Q("nbd-server-remove", {"name": "base"}, id=3),
        Q("nbd-server-remove", {"name": "exp0"}, id=4),
        EXPORTS(),
        Q("block-export-del", {"id": "exp0", "mode": "hard"}, id=5),
        EVENTS("BLOCK_EXPORT_DELETED"),
        EXPORTS(),
        Q("block-export-del", {"id": "exp0", "mode": "hard"}, id=6),
        Q("blockdev-del", {"node-name": "base"}, id=7),
    ])

scenario(
    "nbd-legacy-remove-connected",
    "nbd-server-add export with a client connected: nbd-server-remove safe refuses, "
    "block-export-del on it, nbd-server-remove hard; nbd-server-remove looks exports up by id.",
    setup=[mk(), mk("ro.qcow2")], args=[qcow(), qcow("ro", **{"read-only": True}), NBD],
    tags=["nbd", "export", "legacy"],
    steps=[
        Q("nbd-server-add", {"device": "base"}, id=1),
        Q("nbd-server-add", {"device": "ro", "name": "r", "writable": True, "description": "rd"}, id=2),
        EXPORTS(),
        SH("nbdinfo --list --json 'nbd+unix://?socket=nbd.sock' | grep -E 'export-name|description|read_only'"),
        BGCLIENT(),
        Q("nbd-server-remove", {"name": "base"}, id=3),
        Q("nbd-server-remove", {"name": "base", "mode": "safe"}, id=4),
        Q("nbd-server-remove", {"name": "base", "mode": "hard"}, id=5),
        EVENTS("BLOCK_EXPORT_DELETED"),
        Q("block-export-del", {"id": "r"}, id=6),
        EVENTS("BLOCK_EXPORT_DELETED"),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "base", "name": "disk"}, id=7),
        Q("nbd-server-remove", {"name": "disk"}, id=8),
        Q("nbd-server-remove", {"name": "e1"}, id=9),
        EVENTS("BLOCK_EXPORT_DELETED"),
        EXPORTS(),
    ])

scenario(
    "nbd-stop-quit-connected",
    "nbd-server-stop with a client connected drops it and removes the exports; quit with a "
    "client connected to a new export.",
    setup=[mk()], args=[qcow(), NBD, EXPORT(writable=False)], tags=["nbd", "export", "quit"],
    steps=[
        BGCLIENT(),
        Q("nbd-server-stop", id=1),
        EVENTS("BLOCK_EXPORT_DELETED"),
        EXPORTS(),
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "nbd.sock"}},
                               "max-connections": 1}, id=2),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "base"}, id=3),
        SH("nbdinfo --json 'nbd+unix:///base?socket=nbd.sock' | grep can_multi_conn"),
        BGCLIENT(ms=1500),
        SH("timeout 6 nbdinfo --size 'nbd+unix:///base?socket=nbd.sock' 2>&1 | head -c 300; true",
           note="a second client while max-connections=1 is used"),
        Q("quit"), EVENTS("BLOCK_EXPORT_DELETED"), {"wait_exit": 3.0},
    ])



scenario(
    "nbd-server-start-addr-variants",
    "nbd-server-start with an unknown fd name, an over-long unix path, tls-authz without "
    "tls-creds, a bad max-connections, a stale socket file, an abstract unix socket; the "
    "socket file after nbd-server-stop.",
    setup=["touch nbd.sock", "touch stale.sock"], tags=["nbd", "errors"],
    steps=[
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "nodir/x.sock"}},
                               "tls-creds": "nosuch"}, id=20),
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "stale.sock"}},
                               "tls-creds": "nosuch"}, id=21),
        SH("ls stale.sock 2>&1; true"),
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "a" * 108, "abstract": True}}}, id=22),
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "q" * 108}}}, id=23),
        SH("ls q* 2>&1 | cut -c1-20; true"),
        Q("nbd-server-stop", id=24),
        SH("ls q* 2>&1 | cut -c1-20; true"),
        Q("nbd-server-start", {"addr": {"type": "fd", "data": {"str": "nosuch"}}}, id=1),
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "p" * 120}}}, id=2),
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "nbd.sock"}},
                               "tls-authz": "authz0"}, id=3),
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "nbd.sock"}},
                               "max-connections": -1}, id=4),
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "nbd.sock"}},
                               "max-connections": 4294967296}, id=5),
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "nbd.sock"}},
                               "max-connections": 0}, id=6),
        Q("nbd-server-start", {"addr": {"type": "fd", "data": {"str": "nosuch"}}}, id=25),
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "p" * 120}}}, id=26),
        SH("test -S nbd.sock && echo socket"),
        Q("nbd-server-stop", id=7),
        SH("ls nbd.sock 2>&1; true"),
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "qmpd-conf-abs.sock",
                                                                  "abstract": True}}}, id=8),
        SH("ls qmpd-conf-abs.sock 2>&1; true"),
        Q("nbd-server-stop", id=9),
        Q("nbd-server-stop", id=10),
    ])

scenario(
    "nbd-legacy-add-variants",
    "nbd-server-add without a server, with a bitmap (enabled: refused for a read-only export), "
    "with a description, with an over-long name; nbd-server-remove of an unknown name.",
    setup=[mk()], args=[qcow()], tags=["nbd", "export", "legacy"],
    steps=[
        Q("nbd-server-add", {"device": "nosuch"}, id=1),
        Q("nbd-server-add", {"device": "base"}, id=2),
        Q("nbd-server-remove", {"name": "base"}, id=3),
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "nbd.sock"}}}, id=4),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "b1"}, id=5),
        Q("nbd-server-add", {"device": "base", "bitmap": "b1"}, id=6),
        Q("nbd-server-add", {"device": "base", "bitmap": "nosuch", "writable": True}, id=7),
        Q("nbd-server-add", {"device": "base", "bitmap": "b1", "writable": True}, id=8),
        BITMAPS(),
        Q("nbd-server-add", {"device": "base", "name": "n" * 4097}, id=9),
        Q("nbd-server-add", {"device": "base", "name": "1bad"}, id=10),
        Q("nbd-server-add", {"device": "base", "name": "d2", "description": "second"}, id=11),
        SH("nbdinfo --list --json 'nbd+unix://?socket=nbd.sock' | grep -E 'export-name|description|read_only|dirty'"),
        EXPORTS(),
        Q("nbd-server-stop", id=12),
        EVENTS("BLOCK_EXPORT_DELETED", "BLOCK_EXPORT_DELETED", "BLOCK_EXPORT_DELETED"),
        BITMAPS(),
    ])

scenario(
    "tx-same-node-action-kinds",
    "The same node in different action kinds of one transaction: sync then blockdev-snapshot "
    "(busy), sync then an internal snapshot and a bitmap on the old node, blockdev-snapshot "
    "with the overlay the sync action just made, bitmap-add then sync (commits; the bitmap stays "
    "on the old node).",
    setup=[mk(), mk("ov.qcow2")], args=EXPORTED_BASE + [qcow("ov", backing=None)],
    tags=["transaction", "snapshot", "busy"],
    steps=[
        TX([sync_action("base", "s1.qcow2", "s1"), act("blockdev-snapshot", node="base", overlay="ov")], id=1),
        TX([sync_action("base", "s1.qcow2", "s1"), act("blockdev-snapshot-internal-sync", device="base",
                                                       name="i1")], id=2),
        TX([sync_action("base", "s1.qcow2", "s1"), act("blockdev-snapshot", node="ov", overlay="s1")], id=3),
        TX([act("blockdev-snapshot", node="base", overlay="ov"), sync_action("base", "s1.qcow2", "s1")], id=4),
        TX([act("blockdev-snapshot-internal-sync", device="base", name="i2"),
            sync_action("base", "s2.qcow2", "s2"), ABORT], id=5),
        SH("qemu-img snapshot -U -l base.qcow2"),
        TX([act("block-dirty-bitmap-add", node="base", name="b1"), sync_action("base", "s3.qcow2", "s3"),
            act("block-dirty-bitmap-add", node="base", name="b2")], id=6),
        BITMAPS(),
        EXPORTS(),
        GRAPH(),
    ])

scenario(
    "sync-chain-inner-node",
    "Snapshots of nodes inside a blockdev chain (top over base, explicit file nodes): the backing "
    "node and the file nodes, plain and as blockdev-snapshot, and the top.",
    setup=CHAIN_SETUP + [mk("ov.qcow2")],
    args=[["blockdev", TOP_WITH_BASE], NBD, EXPORT("top"), qcow("ov", backing=None)],
    tags=["snapshot", "chain", "busy"],
    steps=[
        SNAP("base", "s1.qcow2", "s1", id=1),
        SNAP("basef", "s1.qcow2", "s1", id=2),
        Q("blockdev-snapshot", {"node": "base", "overlay": "ov"}, id=3),
        Q("blockdev-snapshot", {"node": "top", "overlay": "base"}, id=4),
        SNAP("topf", "s2.qcow2", "s2", id=5),
        LS(),
        SNAP("top", "s3.qcow2", "s3", id=6),
        EXPORTS(),
        NODES(),
        INFO("s3.qcow2", chain=True),
    ])


scenario(
    "tx-sync-persistent-bitmaps",
    "Persistent bitmaps added in the same transaction as a snapshot: on the old node (stored "
    "when it goes read-only) and on the new overlay; afterwards the read-only old node refuses a "
    "new persistent bitmap; what the images hold after quit.",
    setup=[mk()], args=EXPORTED_BASE, tags=["transaction", "snapshot", "bitmap"],
    steps=[
        TX([sync_action("base", "s1.qcow2", "s1"),
            act("block-dirty-bitmap-add", node="base", name="pb", persistent=True),
            act("block-dirty-bitmap-add", node="s1", name="ps", persistent=True)], id=1),
        BITMAPS(),
        SH("qemu-img info -U --output=json base.qcow2 | grep -c '\"name\": \"pb\"'; true"),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "late", "persistent": True}, id=2),
        Q("block-dirty-bitmap-add", {"node": "base", "name": "late2"}, id=3),
        Q("block-dirty-bitmap-remove", {"node": "base", "name": "pb"}, id=4),
        BITMAPS(),
        *QUIT(),
        SH("qemu-img info --output=json base.qcow2 | grep '\"name\"'; qemu-img info --output=json s1.qcow2 | grep '\"name\"'; true"),
    ])

scenario(
    "drive-snapshot-views-each",
    "Named drives: query-block and the graph after each kind of snapshot: by device in existing "
    "mode (auto-named), blockdev-snapshot of the drive's new root with a read-only overlay, and "
    "a sync by node-name of the top; a blockdev-snapshot naming the empty drive.",
    setup=[mk(), "qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 pre.qcow2", mk("ov.qcow2")],
    args=[DRIVE(), ["drive", "if=none,id=empty0"],
          ["blockdev", {"driver": "qcow2", "node-name": "ov", "backing": None, "read-only": True,
                        "file": {"driver": "file", "filename": "ov.qcow2"}}]],
    drive=True, tags=["drive", "snapshot", "graph"],
    steps=[
        Q("blockdev-snapshot-sync", {"device": "drive0", "snapshot-file": "pre.qcow2", "mode": "existing",
                                     "format": "qcow2"}, id=1),
        Q("query-block"),
        Q("blockdev-snapshot", {"node": "empty0", "overlay": "ov"}, id=2),
        Q("blockdev-snapshot", {"node": "drive0", "overlay": "ov"}, id=3),
        Q("query-block"),
        GRAPH(),
        SNAP("ov", "t.qcow2", "t", id=4),
        Q("query-block"),
        NODES(),
        INFO("t.qcow2"),
    ])


# ---- blockdev-add option handling and argument/envelope corners -------------

scenario(
    "blockdev-add-nested-arg-errors",
    "blockdev-add argument errors inside nested BlockdevRef dicts and alternates: full paths for "
    "type errors, missing and unexpected members, enum values named by their own key, "
    "BlockdevRef / BlockdevRefOrNull refused for null, lists and booleans; nothing is added.",
    setup=[mk()],
    tags=["validation", "blockdev"],
    steps=[
        Q("blockdev-add", {"driver": "qcow2", "node-name": "q", "file": {"driver": "file", "filename": 5}}, id=1),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "q", "file": {"driver": "file"}}, id=2),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "q", "file": {"filename": "x"}}, id=3),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "q", "file": None}, id=4),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "q", "file": [1]}, id=5),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "q", "file": True}, id=6),
        Q("blockdev-add", qcow("q", "base.qcow2", backing=5)[1], id=7),
        Q("blockdev-add", qcow("q", "base.qcow2", backing=[1])[1], id=8),
        Q("blockdev-add", qcow("q", "base.qcow2", backing={"driver": "qcow2", "file": {
            "driver": "file", "filename": "x", "bogus": {}}})[1], id=9),
        Q("blockdev-add", qcow("q", "base.qcow2", backing={"driver": "nosuch"})[1], id=10),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "q", "file": {
            "driver": "file", "filename": "base.qcow2", "aio": "bogus"}}, id=11),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "q", "file": {
            "driver": "file", "filename": "base.qcow2", "locking": "maybe"}}, id=12),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "q", "file": {
            "driver": "file", "filename": "base.qcow2", "locking": 1}}, id=13),
        Q("blockdev-add", qcow("q", "base.qcow2", bogus1=1, bogus2=2)[1], id=14,
          note="two unexpected members: QEMU names the later one"),
        Q("blockdev-add", {"driver": "qcow2", "node-name": 5, "file": {"driver": "file", "filename": "base.qcow2"}}, id=15),
        Q("blockdev-add", qcow("q", "base.qcow2", discard="bogus")[1], id=16),
        Q("blockdev-add", qcow("q", "base.qcow2", **{"detect-zeroes": "bogus"})[1], id=17),
        Q("blockdev-add", qcow("q", "base.qcow2", cache=5)[1], id=18),
        Q("blockdev-add", qcow("q", "base.qcow2", cache={"bogus": 1})[1], id=19),
        Q("blockdev-add", qcow("q", "base.qcow2", discard="off")[1], id=20),
        Q("blockdev-add", qcow("q", "base.qcow2", **{"overlap-check": 5})[1], id=21),
        Q("blockdev-add", qcow("q", "base.qcow2", **{"overlap-check": {"template": "bogus"}})[1], id=22),
        Q("blockdev-add", qcow("q", "base.qcow2", **{"data-file": 5})[1], id=23),
        Q("blockdev-add", qcow("q", "base.qcow2", **{"lazy-refcounts": "on"})[1], id=24),
        Q("blockdev-add", {"driver": "null-co", "node-name": "x9", "discard": "unmap", "bogus": 1, "size": "x"}, id=25,
          note="type errors before unexpected members"),
        Q("blockdev-add", {"driver": "file", "node-name": "x10", "filename": "nosuch", "bogus": 1}, id=26),
        Q("blockdev-add", {}, id=27),
        Q("blockdev-add", {"node-name": "x"}, id=28),
        NODES(["node-name", "drv"]),
    ])

scenario(
    "blockdev-add-raw-window",
    "raw offset/size: negative values fail as QemuOpts sizes before the file is opened, the "
    "window must lie inside the file (offset checked first, with QEMU's double space), size "
    "must be whole sectors while offset need not be; the accepted nodes report their size.",
    setup=[mk("raw.img", "1M", "raw")],
    tags=["blockdev", "raw", "validation"],
    steps=[
        Q("blockdev-add", {"driver": "raw", "node-name": "r", "file": {"driver": "file", "filename": "raw.img"},
                           "offset": -1}, id=1),
        Q("blockdev-add", {"driver": "raw", "node-name": "r", "file": {"driver": "file", "filename": "raw.img"},
                           "size": -1}, id=2),
        Q("blockdev-add", {"driver": "raw", "node-name": "r", "file": {"driver": "file", "filename": "raw.img"},
                           "offset": -1, "size": -1}, id=3),
        Q("blockdev-add", {"driver": "raw", "node-name": "r", "file": {"driver": "file", "filename": "missing.img"},
                           "offset": -512}, id=4, note="the missing file is reported before the option"),
        Q("blockdev-add", {"driver": "raw", "node-name": "r", "file": {"driver": "file", "filename": "raw.img"},
                           "offset": 512, "size": 100}, id=5),
        Q("blockdev-add", {"driver": "raw", "node-name": "r", "file": {"driver": "file", "filename": "raw.img"},
                           "offset": 2000000}, id=6),
        Q("blockdev-add", {"driver": "raw", "node-name": "r", "file": {"driver": "file", "filename": "raw.img"},
                           "size": 2000000}, id=7),
        Q("blockdev-add", {"driver": "raw", "node-name": "r", "file": {"driver": "file", "filename": "raw.img"},
                           "offset": 512, "size": 1048576}, id=8),
        Q("blockdev-add", {"driver": "raw", "node-name": "r", "file": {"driver": "file", "filename": "raw.img"},
                           "offset": 9223372036854775807}, id=9),
        Q("blockdev-add", {"driver": "raw", "node-name": "r", "file": {"driver": "file", "filename": "raw.img"},
                           "offset": 9223372036854775808}, id=10),
        Q("blockdev-add", {"driver": "raw", "node-name": "r", "file": {"driver": "file", "filename": "raw.img"},
                           "offset": 100, "size": 1000}, id=11),
        Q("blockdev-add", {"driver": "raw", "node-name": "r", "file": {"driver": "file", "filename": "raw.img"},
                           "offset": 100, "size": 1024}, id=12),
        Q("blockdev-add", {"driver": "raw", "node-name": "r2", "file": {"driver": "file", "filename": "raw.img"},
                           "offset": 1048576}, id=13, note="an empty window at the very end"),
        Q("blockdev-add", {"driver": "raw", "node-name": "r3", "file": {"driver": "file", "filename": "raw.img"},
                           "offset": 1048577}, id=14),
        Q("blockdev-add", {"driver": "raw", "node-name": "r4", "file": {"driver": "file", "filename": "raw.img"},
                           "offset": 0, "size": 0}, id=15),
        Q("query-named-block-nodes", {"flat": True},
          transform=[{"kind": "select", "keys": ["node-name", "drv", "image"]}]),
    ])

scenario(
    "blockdev-add-qcow2-runtime-options",
    "qcow2 runtime options checked at open as QEMU does: negative cache sizes, cache-size "
    "combinations, l2-cache-entry-size bounds, too-big refcount cache, cache-clean-interval "
    "range, lazy-refcounts on a compat=0.10 image, encrypt options on a plain image; the "
    "accepted combinations open.",
    setup=[mk(), mk("b.qcow2"), mk("c.qcow2"), mk("d.qcow2"), mk("e.qcow2"), mk("f.qcow2"),
           mk("v2.qcow2", extra="-o compat=0.10 "), mk("small.qcow2", extra="-o cluster_size=4096 ")],
    tags=["blockdev", "qcow2", "validation"],
    steps=[
        Q("blockdev-add", qcow("x", "base.qcow2", **{"l2-cache-size": -1})[1], id=1),
        Q("blockdev-add", qcow("x", "base.qcow2", **{"refcount-cache-size": -4096})[1], id=2),
        Q("blockdev-add", qcow("x", "base.qcow2", **{"l2-cache-entry-size": 100})[1], id=3),
        Q("blockdev-add", qcow("x", "base.qcow2", **{"l2-cache-entry-size": 131072})[1], id=4),
        Q("blockdev-add", qcow("x", "base.qcow2", **{"l2-cache-entry-size": 0})[1], id=5),
        Q("blockdev-add", qcow("x", "base.qcow2", **{"l2-cache-entry-size": 3000})[1], id=6),
        Q("blockdev-add", qcow("x", "small.qcow2", **{"l2-cache-entry-size": 8192})[1], id=7),
        Q("blockdev-add", qcow("x", "base.qcow2", **{"cache-size": 1000, "l2-cache-size": 2000})[1], id=8),
        Q("blockdev-add", qcow("x", "base.qcow2", **{"cache-size": 1000, "l2-cache-size": 200,
                                                     "refcount-cache-size": 200})[1], id=9),
        Q("blockdev-add", qcow("x", "base.qcow2", **{"cache-size": 100, "refcount-cache-size": 200})[1], id=10),
        Q("blockdev-add", qcow("x", "base.qcow2", **{"refcount-cache-size": 9223372036854775807})[1], id=11),
        Q("blockdev-add", qcow("x", "base.qcow2", **{"cache-size": 9223372036854775807})[1], id=12),
        Q("blockdev-add", qcow("x", "base.qcow2", **{"cache-clean-interval": -1})[1], id=13),
        Q("blockdev-add", qcow("x", "base.qcow2", **{"cache-clean-interval": 4294967296})[1], id=14),
        Q("blockdev-add", qcow("x", "base.qcow2", **{"cache-clean-interval": -1,
                                                     "l2-cache-entry-size": 100})[1], id=15,
          note="cache sizes are checked before the clean interval"),
        Q("blockdev-add", qcow("x", "v2.qcow2", **{"lazy-refcounts": True})[1], id=16),
        Q("blockdev-add", qcow("x", "base.qcow2", encrypt={"format": "aes"})[1], id=17),
        Q("blockdev-add", qcow("x", "base.qcow2", encrypt={"format": "luks", "key-secret": "s"})[1], id=18),
        Q("blockdev-add", qcow("x", "base.qcow2", **{"l2-cache-entry-size": 100, "encrypt": {"format": "aes"}})[1],
          id=19),
        Q("blockdev-add", qcow("base", **{"l2-cache-entry-size": 4096})[1], id=20),
        Q("blockdev-add", qcow("b", **{"l2-cache-size": 9223372036854775807, "l2-cache-entry-size": 1024})[1], id=21),
        Q("blockdev-add", qcow("c", **{"cache-size": 0, "cache-clean-interval": 4294967295})[1], id=22),
        Q("blockdev-add", qcow("d", **{"l2-cache-size": 1048576, "refcount-cache-size": 65536,
                                      "lazy-refcounts": True})[1], id=23),
        Q("blockdev-add", qcow("e", **{"cache-size": 1, "overlap-check": {}})[1], id=24),
        Q("blockdev-add", qcow("f", **{"overlap-check": {"template": "all", "main-header": False},
                                      "pass-discard-request": True, "pass-discard-other": False})[1], id=25),
        Q("blockdev-add", qcow("v2", **{"lazy-refcounts": False, "read-only": True})[1], id=26),
        NODES(["node-name", "drv", "ro"]),
    ])

scenario(
    "blockdev-add-option-combos",
    "Base option combinations: detect-zeroes=unmap needs discard=unmap (also on null-co), "
    "discard accepts only ignore/unmap, force-share needs read-only, an empty cache dict is left "
    "over and refused as an unknown option (protocol and format texts differ, also for an inline "
    "file child), null-co latency-ns below zero; the accepted nodes report their settings.",
    setup=[mk(), mk("b.qcow2"), mk("raw.img", "1M", "raw")],
    tags=["blockdev", "options"],
    steps=[
        Q("blockdev-add", qcow("base", **{"detect-zeroes": "unmap", "discard": "ignore"})[1], id=1),
        Q("blockdev-add", qcow("base", **{"discard": "on"})[1], id=2),
        Q("blockdev-add", {"driver": "null-co", "node-name": "n1", "detect-zeroes": "unmap"}, id=3),
        Q("blockdev-add", {"driver": "null-co", "node-name": "n1", "detect-zeroes": "unmap",
                           "discard": "unmap"}, id=4),
        Q("blockdev-add", {"driver": "null-co", "node-name": "n2", "read-only": True, "auto-read-only": True}, id=5),
        Q("blockdev-add", {"driver": "null-co", "node-name": "n3", "read-only": False, "auto-read-only": True,
                           "force-share": True}, id=6),
        Q("blockdev-add", {"driver": "null-co", "node-name": "n3", "cache": {"direct": True}}, id=7),
        Q("blockdev-add", {"driver": "null-co", "node-name": "n4", "cache": {}}, id=8),
        Q("blockdev-add", {"driver": "null-co", "node-name": "n4", "cache": {}, "bogus": 1}, id=9),
        Q("blockdev-add", qcow("base", cache={})[1], id=10),
        Q("blockdev-add", {"driver": "raw", "node-name": "r", "file": {"driver": "file", "filename": "raw.img",
                                                                       "cache": {}}}, id=11),
        Q("blockdev-add", {"driver": "raw", "node-name": "r", "file": {"driver": "file", "filename": "raw.img"},
                           "cache": {}}, id=12),
        Q("blockdev-add", {"driver": "null-co", "node-name": "n4", "latency-ns": -1}, id=13),
        Q("blockdev-add", {"driver": "null-co", "node-name": "n4", "latency-ns": 0, "read-zeroes": False}, id=14),
        Q("blockdev-add", qcow("b", **{"detect-zeroes": "unmap", "discard": "unmap",
                                      "cache": {"no-flush": True}})[1], id=15),
        NODES(["node-name", "ro", "detect_zeroes", "cache"]),
    ])

scenario(
    "proto-envelope-combos",
    "Envelope corners: unknown top-level keys against bad arguments, unknown commands and bad "
    "'control'; NUL and non-ASCII in command names and node names; surrogate escapes; number "
    "forms of the id as QEMU prints them back.",
    tags=["protocol", "envelope", "id"],
    steps=[
        RAW('{"execute": "query-version", "arguments": {"a": 1}, "bogus": 2, "id": 1}\n'),
        RAW('{"execute": "nosuch", "bogus": 2, "id": 2}\n'),
        RAW('{"execute": "nosuch", "arguments": 5, "id": 3}\n'),
        RAW('{"execute": "query-version", "arguments": "x", "id": 4}\n'),
        RAW('{"bogus": 1, "arguments": 5, "id": 5}\n'),
        RAW('{"exec-oob": "query-version", "arguments": 5, "id": 6}\n'),
        RAW('{"execute": "query-version", "id": 7, "exec-oob": 1}\n'),
        RAW('{"execute": "query-version", "control": 5, "id": 8}\n'),
        RAW('{"execute": "query-version", "control": {"run-oob": true}, "id": 9}\n'),
        RAW('{"execute": "blockdev-add", "arguments": {"driver":"null-co","node-name":"a\\u0000b"}, "id": 10}\n'),
        RAW('{"execute": "blockdev-add", "arguments": {"driver":"null-co","node-name":"\\ud83d\\ude00"}, "id": 11}\n'),
        RAW('{"execute": "nosuch\\u00e9", "id": 12}\n'),
        RAW('{"execute": "nos\\u0000uch", "id": 13}\n'),
        RAW('{"execute": "blockdev-add", "arguments": {"driver":"nosuch\\u00e9"}, "id": 14}\n'),
        RAW('{"execute": "blockdev-del", "arguments": {"node-name":"' + "x" * 5000 + '"}, "id": 15}\n'),
        RAW('{"execute": "blockdev-add", "arguments": {"driver":"null-co","node-name":"n", "\\u00e9": 1}, "id": 16}\n'),
        RAW('{"execute": "query-version", "id": "\\ud800"}\n'),
        RAW('{"execute": "query-version", "id": "\\udc00x"}\n'),
        RAW('{"execute": "query-version", "id": "\\ud800\\u0041"}\n'),
        RAW('{"execute": "query-version", "id": -1.5e-400}\n'),
        RAW('{"execute": "query-version", "id": 123456789012345678901234567890}\n'),
        RAW('{"execute": "query-version", "id": 1E2}\n'),
        RAW('{"execute": "query-version", "id": 0.1}\n'),
        RAW('{"execute": "query-version", "id": 1e-7}\n'),
        RAW('{"execute": "query-version", "id": 1e21}\n'),
        RAW('{"execute": "query-version", "id": 123456789.123456789}\n'),
        Q("query-named-block-nodes", {"flat": True}, transform=[{"kind": "select", "keys": ["node-name"]}]),
    ])

scenario(
    "proto-oob-negotiation-corners",
    "OOB corners: 'oob' listed twice, unexpected members next to enable, exec-oob before "
    "negotiation for qmp_capabilities itself and query-qmp-schema, then with OOB on: exec-oob "
    "without an id, with bad arguments, with 'control'.",
    negotiate=False, tags=["protocol", "oob"],
    steps=[
        Q("qmp_capabilities", {"enable": ["oob", "oob"]}, id=1),
        Q("qmp_capabilities", {"enable": ["oob"], "x": 1}, id=2),
        Q("query-qmp-schema", id=3, key="exec-oob"),
        RAW('{"exec-oob": "qmp_capabilities", "arguments": {"enable": ["oob"]}, "id": 4}\n'),
        Q("qmp_capabilities", {"enable": ["oob"]}, id=5),
        Q("query-version", id=6, key="exec-oob"),
        Q("query-version", {"x": 1}, id=7, key="exec-oob"),
        RAW('{"exec-oob": "query-version"}\n'),
        RAW('{"exec-oob": "nosuch", "arguments": 5, "id": 9}\n'),
        RAW('{"exec-oob": "query-version", "control": {}, "id": 10}\n'),
        QV(11),
    ])

scenario(
    "args-misc-validation",
    "More argument validation: null and lists for booleans and strings, several unexpected "
    "members (the last reported), look-ups before range checks, device vs node-name for "
    "block_resize, node-name lengths and characters for blockdev-add.",
    tags=["validation"],
    steps=[
        Q("query-qmp-schema", {"x": 1}, id=1),
        Q("query-named-block-nodes", {"flat": None}, id=2),
        Q("query-named-block-nodes", {"flat": [True]}, id=3),
        Q("block-dirty-bitmap-add", {"node": "n", "name": "b", "granularity": 0}, id=4),
        Q("block-dirty-bitmap-add", {"node": None, "name": "b"}, id=5),
        Q("block-dirty-bitmap-add", {"node": "n", "name": "b", "x": 1, "y": 2}, id=6),
        Q("blockdev-del", {"node-name": "n", "node_name": "x"}, id=7),
        Q("block_resize", {"node-name": "n", "size": -1}, id=8),
        Q("block_resize", {"node-name": "n", "size": 1.5}, id=9),
        Q("block_resize", {"device": "n", "node-name": "n", "size": 1}, id=10),
        Q("block_resize", {"size": 1}, id=11),
        Q("blockdev-add", {"driver": "null-co", "node-name": "x", "size": True}, id=12),
        Q("blockdev-add", {"driver": "null-co", "node-name": ""}, id=13),
        Q("blockdev-add", {"driver": "null-co"}, id=14),
        Q("blockdev-add", {"driver": "null-co", "node-name": "n" * 31}, id=15),
        Q("blockdev-add", {"driver": "null-co", "node-name": "m" * 32}, id=16),
        Q("blockdev-add", {"driver": "null-co", "node-name": "a-b_c.d"}, id=17),
        Q("blockdev-add", {"driver": "null-co", "node-name": "a+b"}, id=18),
        Q("blockdev-add", {"driver": "null-co", "node-name": "#block1"}, id=19),
        Q("blockdev-add", {"driver": "null-co", "node-name": "Z9"}, id=20),
        Q("blockdev-add", {"driver": "null-co", "node-name": "_a"}, id=21),
        Q("blockdev-add", {"driver": "raw", "node-name": "x", "file": "x", "offset": "1"}, id=22),
        Q("query-named-block-nodes", {"flat": True}, transform=[{"kind": "select", "keys": ["node-name"]}]),
    ])


scenario(
    "sync-snapshot-file-prefixes",
    "snapshot-file read as QEMU reads a filename string: 'file:' is stripped (the node and the "
    "file have the bare name), other prefixes before any '/' name a protocol (unknown: refused, "
    "without image creation: refused after the format checks), a ':' after a '/' is a plain name; "
    "in absolute-paths and existing modes.",
    setup=[mk(), mk("b.qcow2"), mk("ok2.qcow2"), mk("c.qcow2")],
    args=EXPORTED_BASE + [qcow("b"), EXPORT("b", "exp1"), qcow("c"), EXPORT("c", "exp2")],
    tags=["snapshot", "paths"],
    steps=[
        SNAP("base", "foo:s1.qcow2", "s1", id=1),
        SNAP("base", "FILE:s1.qcow2", "s1", id=2),
        SNAP("base", ":s1.qcow2", "s1", id=3),
        SNAP("base", "json:{\"driver\": \"file\", \"filename\": \"j.qcow2\"}", "s1", id=4),
        SNAP("base", "null-co:x", "s1", id=5),
        SNAP("base", "fat:x", "s1", id=6),
        SNAP("base", "http:x", "s1", id=7),
        SNAP("base", "foo:s1.qcow2", "s1", id=8, format="nosuch"),
        SNAP("base", "foo:s1.qcow2", "s1", id=9, format="null-co"),
        SNAP("base", "null-co:x", "s1", id=10, format="null-co"),
        SNAP("base", "null-co:x", "s1", id=11, format="vdi"),
        SNAP("base", "file:s1.qcow2", "s1", id=12, format="vdi"),
        SNAP("base", "file:nodir/s1.qcow2", "s1", id=13),
        SNAP("base", "file:", "s1", id=14),
        SNAP("base", "file:s1.qcow2", "s1", id=15),
        LS(),
        SNAP("b", "foo:ok2.qcow2", "sb", id=16, mode="existing"),
        SNAP("b", "file:", "sb", id=17, mode="existing"),
        SNAP("b", "file:ok2.qcow2", "sb", id=18, mode="existing"),
        SNAP("c", "./a:b.qcow2", "sc", id=19),
        NODES(),
        EXPORTS(),
        SH("ls -1; true"),
        INFO("s1.qcow2"),
    ])

scenario(
    "sync-raw-offset-base",
    "A snapshot of a raw node with offset and size: the overlay's size and the backing name it "
    "records.",
    setup=[mk("base.img", "4M", "raw")],
    args=[["blockdev", {"driver": "raw", "node-name": "base", "offset": 1048576, "size": 2097152,
                        "file": {"driver": "file", "filename": "base.img"}}], NBD, EXPORT()],
    tags=["snapshot", "raw"],
    steps=[
        SNAP("base", "s1.qcow2", "s1", id=1),
        NODES(),
        INFO("s1.qcow2"),
    ])


scenario(
    "nbd-export-child-nodes",
    "Exports of a format node's file child (writable: refused by the permission system; "
    "read-only: serves the image file) and of a backing node after a snapshot.",
    setup=[mk()], tags=["nbd", "export", "permissions"],
    args=[["blockdev", {"driver": "qcow2", "node-name": "base",
                        "file": {"driver": "file", "node-name": "bf", "filename": "base.qcow2"}}],
          NBD, EXPORT()],
    steps=[
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "bf", "writable": True}, id=1),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "bf"}, id=2),
        NBDIO(["read -q -P 0x51 0 1"], name="bf", ro=True),
        SNAP("base", "s1.qcow2", "s1", id=3),
        EXPORTS(),
        Q("block-export-add", {"type": "nbd", "id": "e2", "node-name": "base", "name": "b2",
                               "writable": True}, id=4),
        Q("block-export-add", {"type": "nbd", "id": "e2", "node-name": "base", "name": "b2"}, id=5),
        Q("blockdev-del", {"node-name": "bf"}, id=6),
        Q("block-export-del", {"id": "exp0"}, id=7),
        EVENTS("BLOCK_EXPORT_DELETED"),
        EXPORTS(),
        Q("blockdev-del", {"node-name": "s1"}, id=8),
        GRAPH(),
    ])



scenario(
    "blockdev-add-file-options",
    "file driver options: an empty filename, aio=native without cache.direct (own or inherited "
    "from the format node) checked once the file is open, io_uring/threads, locking, "
    "aio-max-batch, drop-cache, an unknown pr-manager; null-co sizes that are not whole sectors "
    "and detect-zeroes=on; the accepted nodes as queried.",
    setup=[mk(), mk("b.qcow2"), mk("raw.img", "1M", "raw")],
    tags=["blockdev", "file", "options"],
    steps=[
        Q("blockdev-add", {"driver": "file", "node-name": "f1", "filename": "raw.img", "aio": "native"}, id=1),
        Q("blockdev-add", {"driver": "file", "node-name": "f1", "filename": "missing.img", "aio": "native"}, id=2),
        Q("blockdev-add", {"driver": "file", "node-name": "f1", "filename": "", "aio": "native"}, id=3),
        Q("blockdev-add", {"driver": "file", "node-name": "f1", "filename": ""}, id=4),
        Q("blockdev-add", {"driver": "file", "node-name": "f1", "filename": "."}, id=5),
        Q("blockdev-add", {"driver": "file", "node-name": "f1", "filename": "raw.img", "pr-manager": "x"}, id=6),
        Q("blockdev-add", {"driver": "file", "node-name": "f1", "filename": "raw.img", "aio": "native",
                           "pr-manager": "x"}, id=7),
        Q("blockdev-add", {"driver": "file", "node-name": "f1", "filename": "raw.img", "aio": "native",
                           "cache": {"direct": True}}, id=8),
        Q("blockdev-add", {"driver": "file", "node-name": "f2", "filename": "raw.img", "aio": "io_uring",
                           "locking": "off"}, id=9),
        Q("blockdev-add", {"driver": "file", "node-name": "f3", "filename": "raw.img", "aio": "threads",
                           "locking": "on", "aio-max-batch": 0, "drop-cache": False}, id=10),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "q1", "file": {"driver": "file", "filename": "base.qcow2",
                                                                          "aio": "native"}}, id=11),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "q1", "cache": {"direct": True},
                           "file": {"driver": "file", "filename": "base.qcow2", "aio": "native"}}, id=12,
          note="cache.direct is inherited by the file child"),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "q2", "cache": {"direct": True},
                           "file": {"driver": "file", "filename": "b.qcow2", "aio": "native",
                                    "cache": {"direct": False}}}, id=13),
        Q("blockdev-add", {"driver": "null-co", "node-name": "n1", "size": 1000}, id=14),
        Q("blockdev-add", {"driver": "null-co", "node-name": "n2", "size": 0}, id=15),
        Q("blockdev-add", {"driver": "null-co", "node-name": "n3", "size": 513, "detect-zeroes": "on",
                           "read-zeroes": True}, id=16),
        Q("query-named-block-nodes", {"flat": True},
          transform=[{"kind": "select", "keys": ["node-name", "drv", "ro", "image", "detect_zeroes", "cache"]}]),
    ])

scenario(
    "tx-backup-action-args",
    "Backup action kinds in a transaction, with argument errors only: missing members, unknown "
    "devices and targets, bad sync modes, grouped completion; nothing starts.",
    setup=[mk()], args=EXPORTED_BASE, tags=["transaction", "validation", "backup"],
    steps=[
        TX([act("drive-backup", device="base")], id=1),
        TX([act("drive-backup", device="nosuch", target="t.qcow2", sync="full")], id=2),
        TX([act("blockdev-backup", device="base", target="nosuch", sync="full")], id=3),
        TX([act("blockdev-backup", device="nosuch", target="base", sync="full")], id=4),
        TX([act("blockdev-backup", device="base", target="base", sync="nosuch")], id=5),
        TX([act("blockdev-backup", device="nosuch", target="base", sync="full")],
           props={"completion-mode": "grouped"}, id=6),
        TX([sync_action("base", "s1.qcow2", "s1"), act("blockdev-backup", device="base", target="nosuch",
                                                       sync="full")], id=7),
        Q("query-jobs", id=8),
        LS(),
        EXPORTS(),
    ])


scenario(
    "nbd-export-cli-options",
    "--nbd-server with max-connections and --export with description, allocation-depth and a "
    "persistent bitmap of the image (bitmaps.0); query and client views.",
    setup=[mk("base.qcow2", "4M"), "qemu-img bitmap --add base.qcow2 pb",
           "qemu-io -f qcow2 -c 'write -q -P 0x11 0 64k' base.qcow2"],
    args=[qcow(), ["nbd-server", "addr.type=unix,addr.path=nbd.sock,max-connections=2"],
          ["export", "type=nbd,id=e1,node-name=base,name=disk,description=a b,writable=on,"
                     "allocation-depth=on,bitmaps.0=pb,writethrough=on"]],
    tags=["nbd", "export", "cli", "bitmap"],
    steps=[
        EXPORTS(),
        BITMAPS(),
        SH("nbdinfo --json 'nbd+unix:///disk?socket=nbd.sock' | grep -E -A5 'description|contexts|multi_conn'"),
        NBDIO(["write -q -P 0x22 1M 64k"], name="disk"),
        SH("nbdinfo --map=qemu:dirty-bitmap:pb 'nbd+unix:///disk?socket=nbd.sock'"),
        Q("block-dirty-bitmap-remove", {"node": "base", "name": "pb"}, id=1),
        Q("block-export-add", {"type": "nbd", "id": "e2", "node-name": "base", "name": "ro",
                               "bitmaps": ["pb"]}, id=2),
        QUIT()[0], EVENTS("BLOCK_EXPORT_DELETED"), QUIT()[1],
        SH("qemu-img info --output=json base.qcow2 | grep -A8 bitmaps | grep -E 'name|flags' -A2"),
    ])

scenario(
    "nbd-export-cli-iothread",
    "block-export-add naming an iothread given with --object: accepted with and without "
    "fixed-iothread, an unknown one refused (no I/O or removal: QEMU 7.2 stops answering "
    "after those with an iothread export).",
    setup=[mk()], args=[["object", "iothread,id=io0"], qcow(), NBD], tags=["nbd", "export", "iothread"],
    steps=[
        Q("block-export-add", {"type": "nbd", "id": "e0", "node-name": "base", "iothread": "io1",
                               "fixed-iothread": True}, id=1),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "base", "iothread": "io0"}, id=2),
        Q("block-export-add", {"type": "nbd", "id": "e2", "node-name": "base", "name": "b2",
                               "iothread": "io0", "fixed-iothread": True}, id=3),
        EXPORTS(),
    ])



scenario(
    "nbd-export-list-order",
    "The order of NBD_OPT_LIST answers and query-block-exports after adds and removals; "
    "names with spaces, slashes and non-ASCII text; a description on a legacy export.",
    setup=[mk()], args=[qcow(), NBD], tags=["nbd", "export", "query"],
    steps=[
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "base", "name": "b"}, id=1),
        Q("block-export-add", {"type": "nbd", "id": "e2", "node-name": "base", "name": "a"}, id=2),
        Q("nbd-server-add", {"device": "base", "name": "c2", "description": "caf\u00e9"}, id=3),
        Q("block-export-add", {"type": "nbd", "id": "e3", "node-name": "base", "name": "a b/c?d"}, id=4),
        Q("block-export-add", {"type": "nbd", "id": "e5", "node-name": "base", "name": "\u00e9t\u00e9"}, id=5),
        Q("block-export-del", {"id": "e2"}, id=6),
        EVENTS("BLOCK_EXPORT_DELETED"),
        Q("block-export-add", {"type": "nbd", "id": "e4", "node-name": "base", "name": "a"}, id=7),
        EXPORTS(),
        SH("nbdinfo --list --json 'nbd+unix://?socket=nbd.sock' | grep -E 'export-name|description'"),
        Q("nbd-server-stop", id=8),
        EVENTS(*["BLOCK_EXPORT_DELETED"] * 5),
    ])



scenario(
    "blockdev-add-backing-refs",
    "Backing and data-file references: failures opening or looking up the backing node carry "
    "'Could not open backing file: ' (inline, by name, from the image header), attaching the node "
    "to itself is a cycle without it; \"\" means null; data-file is opened, then refused for an "
    "image without an external data file; duplicate names are found before the backing opens.",
    setup=[mk(), mk("b.qcow2"), mk("raw.img", "1M", "raw"),
           "qemu-img create -q -f qcow2 -u -b gone.qcow2 -F qcow2 orphan.qcow2 1M",
           "qemu-img create -q -f qcow2 -u -b raw.img -F qcow2 badfmt.qcow2 1M",
           "qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2"],
    tags=["blockdev", "backing", "errors"],
    steps=[
        Q("blockdev-add", qcow("q", "base.qcow2", backing={"driver": "qcow2", "file": {
            "driver": "file", "filename": "missing.qcow2"}})[1], id=1),
        Q("blockdev-add", qcow("q", "base.qcow2", backing={"driver": "qcow2", "file": {
            "driver": "file", "filename": "b.qcow2"}, "l2-cache-entry-size": 1})[1], id=2),
        Q("blockdev-add", qcow("o", "orphan.qcow2")[1], id=3),
        Q("blockdev-add", qcow("o", "badfmt.qcow2")[1], id=4),
        Q("blockdev-add", qcow("q", "base.qcow2", backing={"driver": "raw", "file": {
            "driver": "file", "filename": "raw.img"}, "cache": {}})[1], id=5),
        Q("blockdev-add", qcow("q", "base.qcow2", backing={"driver": "qcow2", "node-name": "q", "file": {
            "driver": "file", "filename": "b.qcow2"}})[1], id=6),
        Q("blockdev-add", qcow("q", "base.qcow2", backing="q")[1], id=7),
        Q("blockdev-add", qcow("q", "base.qcow2", backing="nosuch")[1], id=8),
        Q("blockdev-add", {"driver": "raw", "node-name": "r", "file": {"driver": "file", "filename": "raw.img"},
                           "backing": None}, id=9),
        Q("blockdev-add", qcow("q", "base.qcow2", **{"data-file": "nosuch"})[1], id=10),
        Q("blockdev-add", qcow("q", "base.qcow2", **{"data-file": {"driver": "file", "filename": "missing.img"}})[1],
          id=11),
        Q("blockdev-add", qcow("q", "base.qcow2", **{"data-file": {"driver": "file", "filename": "raw.img",
                                                                   "node-name": "df"}})[1], id=12),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "q", "file": "", "backing": None}, id=13),
        Q("blockdev-add", qcow("q", "base.qcow2", backing="", **{"read-only": True})[1], id=14),
        Q("blockdev-add", qcow("o2", "orphan.qcow2", backing="")[1], id=15),
        Q("blockdev-add", qcow("t", "top.qcow2", backing="")[1], id=16),
        Q("blockdev-add", qcow("t", "top.qcow2", backing="t")[1], id=17),
        Q("blockdev-add", qcow("t", "top.qcow2", backing={"driver": "qcow2", "file": {
            "driver": "file", "filename": "missing.qcow2"}})[1], id=18),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "t", "file": {"driver": "file", "filename": "top.qcow2",
                                                                         "node-name": "t"}}, id=19),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "t", "read-only": True,
                           "file": {"driver": "file", "filename": "top.qcow2", "read-only": False}}, id=20),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "t2", "read-only": False,
                           "file": {"driver": "file", "filename": "b.qcow2", "read-only": True}}, id=21),
        Q("blockdev-add", {"driver": "raw", "node-name": "r4", "file": {"driver": "raw", "file": {
            "driver": "raw", "file": {"driver": "null-co", "size": 4096}}}}, id=22),
        Q("blockdev-add", {"driver": "raw", "node-name": "r5", "file": "r4", "read-only": True,
                           "auto-read-only": False}, id=23),
        NODES(),
    ])

scenario(
    "drive-variants-snapshot",
    "Snapshots by device of drives opened in other ways: format probed and root auto-named, a raw "
    "drive, a read-only drive snapshotted by node-name and then by device; query-block and the "
    "node list afterwards.",
    setup=[mk(), mk("r.img", "4M", "raw"), mk("d.qcow2")],
    args=[["drive", "file=base.qcow2,if=none,id=drive0"],
          ["drive", "file=r.img,if=none,id=drive1,format=raw"],
          ["drive", "file=d.qcow2,if=none,id=drive2,format=qcow2,node-name=d,read-only=on"]],
    drive=True, tags=["drive", "snapshot"],
    steps=[
        Q("query-block", transform=[{"kind": "select", "keys": ["device", "inserted"]}]),
        TX([{"type": "blockdev-snapshot-sync", "data": {"device": "drive0", "snapshot-file": "s0.qcow2"}},
            {"type": "blockdev-snapshot-sync", "data": {"device": "drive1", "snapshot-file": "s1.qcow2"}}], id=1),
        Q("blockdev-snapshot-sync", {"node-name": "d", "snapshot-file": "s2.qcow2", "snapshot-node-name": "s2"}, id=2),
        Q("blockdev-snapshot-sync", {"device": "drive2", "snapshot-file": "s3.qcow2", "snapshot-node-name": "s3"}, id=3),
        Q("query-block", transform=[{"kind": "select", "keys": ["device", "inserted"]}]),
        NODES(),
        GRAPH(),
        INFO("s1.qcow2"),
    ])


scenario(
    "sync-overlay-inherits-options",
    "What a sync overlay takes from the old node's options: cache mode, discard, detect-zeroes, "
    "auto-read-only; shown for both nodes and their file children.",
    setup=[mk()],
    args=[qcow(cache={"no-flush": True}, discard="unmap", **{"detect-zeroes": "unmap", "auto-read-only": True}),
          NBD, EXPORT()],
    tags=["snapshot", "options"],
    steps=[
        SNAP("base", "s1.qcow2", "s1", id=1),
        NODES(["node-name", "ro", "detect_zeroes", "cache", "file"]),
        Q("query-block-exports"),
        SNAP("s1", "s2.qcow2", "s2", id=2),
        NODES(["node-name", "ro", "detect_zeroes", "cache", "file"]),
    ])


scenario(
    "nbd-export-del-other-clients",
    "block-export-del safe succeeds while a client is connected to another export, or only "
    "connected to the server without choosing an export; blockdev-del of a node behind a legacy "
    "export.",
    setup=[mk(), mk("b.qcow2")], args=[qcow(), qcow("b"), NBD, EXPORT(writable=False), EXPORT("b", "eb", writable=False)],
    tags=["nbd", "export"],
    steps=[
        SH("(setsid sh -c 'sleep 3 | socat - UNIX-CONNECT:nbd.sock' >/dev/null 2>&1 &); sleep 0.3",
           note="a client that only connects"),
        BGCLIENT("b"),
        Q("block-export-del", {"id": "exp0"}, id=1),
        EVENTS("BLOCK_EXPORT_DELETED"),
        Q("block-export-del", {"id": "eb"}, id=2),
        Q("nbd-server-add", {"device": "base", "name": "lg"}, id=3),
        Q("blockdev-del", {"node-name": "base"}, id=4),
        EXPORTS(),
    ])



scenario(
    "sync-existing-format-names",
    "mode existing with format names: unknown and empty ('Unknown driver'), protocol drivers as "
    "the format (file: opened, then no backing support; null-co: only its own URL), raw; a "
    "null-co URL as the file of a qcow2 overlay.",
    setup=[mk(), mk("ok.qcow2")], args=EXPORTED_BASE, tags=["snapshot", "existing", "format", "errors"],
    steps=[
        SNAP("base", "ok.qcow2", "s1", id=1, mode="existing", format="nosuch"),
        SNAP("base", "ok.qcow2", "s1", id=2, mode="existing", format=""),
        SNAP("base", "ok.qcow2", "s1", id=3, mode="existing", format="null-co"),
        SNAP("base", "null-co://", "s1", id=4, mode="existing", format="null-co"),
        SNAP("base", "null-aio:x", "s1", id=5, mode="existing", format="null-aio"),
        SNAP("base", "ok.qcow2", "s1", id=6, mode="existing", format="file"),
        SNAP("base", "file:ok.qcow2", "s1", id=7, mode="existing", format="file"),
        SNAP("base", "", "s1", id=8, mode="existing", format="file"),
        SNAP("base", "ok.qcow2", "s1", id=9, mode="existing", format="raw"),
        SNAP("base", "null-co://", "s1", id=10, mode="existing"),
        SNAP("base", "null-co:x", "s1", id=11, mode="existing"),
        SNAP("base", "foo:x", "s1", id=12, mode="existing", format="nosuch"),
        NODES(),
        EXPORTS(),
        SNAP("base", "ok.qcow2", "s1", id=13, mode="existing"),
        EXPORTS(),
    ])


scenario(
    "nbd-server-inet-variants",
    "nbd-server-start on TCP: IPv6 loopback, numeric with a host name, ipv4 off for an IPv4 "
    "address, an unresolvable host, a port range (to), keep-alive.",
    tags=["nbd", "errors"],
    steps=[
        Q("nbd-server-start", {"addr": {"type": "inet", "data": {"host": "localhost", "port": "0",
                                                                  "numeric": True}}}, id=1),
        Q("nbd-server-start", {"addr": {"type": "inet", "data": {"host": "127.0.0.1", "port": "0",
                                                                  "ipv4": False}}}, id=2),
        Q("nbd-server-start", {"addr": {"type": "inet", "data": {"host": "nosuch.invalid", "port": "0"}}}, id=3),
        Q("nbd-server-start", {"addr": {"type": "inet", "data": {"host": "::1", "port": "0"}}}, id=4),
        Q("nbd-server-stop", id=5),
        Q("nbd-server-start", {"addr": {"type": "inet", "data": {"host": "127.0.0.1", "port": "0",
                                                                  "to": 0}}}, id=6),
        Q("nbd-server-stop", id=7),
        Q("nbd-server-start", {"addr": {"type": "inet", "data": {"host": "127.0.0.1", "port": "0",
                                                                  "keep-alive": True}}}, id=8),
        Q("nbd-server-stop", id=9),
    ])



scenario(
    "drive-internal-snapshot-args",
    "Internal snapshots addressed by drive name and by node-name: an empty drive, the same name "
    "twice in one transaction, a name equal to an existing snapshot's id, a long name, a node "
    "that is not a drive's root; delete by id and name.",
    setup=[mk()], args=[DRIVE(), ["drive", "if=none,id=empty0"]], drive=True,
    tags=["drive", "internal-snapshot", "errors"],
    steps=[
        ISNAP("drive0", "a", id=1),
        ISNAP("empty0", "a", id=2),
        TX([act("blockdev-snapshot-internal-sync", device="drive0", name="b"),
            act("blockdev-snapshot-internal-sync", device="base", name="b")], id=3),
        ISNAP("base", "1", id=4),
        ISNAP("drive0", "x" * 300, id=5),
        SH("qemu-img snapshot -U -l base.qcow2 | sed 's/ [0-9][0-9][0-9][0-9]-.*//'"),
        Q("blockdev-snapshot-sync", {"device": "drive0", "snapshot-file": "s1.qcow2"}, id=6),
        ISNAP("base", "c", id=7),
        IDEL("base", name="a", qid=8),
        IDEL("drive0", id="1", qid=9),
        IDEL("empty0", name="a", qid=10),
        IDEL("drive0", name="a", qid=11),
    ])


scenario(
    "tx-same-snapshot-file-twice",
    "Two actions of one transaction naming the same snapshot-file: both created (the second "
    "meets the first's open image), both existing (the second finds it in use); rolled back.",
    setup=[mk("a.qcow2"), mk("b.qcow2"), mk("pre.qcow2")],
    args=[qcow("a"), qcow("b"), NBD, EXPORT("a", "ea"), EXPORT("b", "eb")],
    tags=["transaction", "snapshot", "errors"],
    steps=[
        TX([sync_action("a", "x.qcow2", "xa"), sync_action("b", "x.qcow2", "xb")], id=1),
        TX([sync_action("a", "pre.qcow2", "pa", mode="existing"),
            sync_action("b", "pre.qcow2", "pb", mode="existing")], id=2),
        EXPORTS(),
        NODES(),
    ])


scenario(
    "sync-existing-self-and-drive-overlay",
    "mode existing naming the old node's own image, and blockdev-snapshot naming a drive as the "
    "overlay; with named drives.",
    setup=[mk(), mk("d1.qcow2"), mk("ro.qcow2")],
    args=[DRIVE(), DRIVE("d1.qcow2", "drive1", "d1"), DRIVE("ro.qcow2", "drive2", "ro", ro=True)],
    drive=True, tags=["drive", "snapshot", "errors"],
    steps=[
        Q("blockdev-snapshot-sync", {"device": "drive0", "snapshot-file": "base.qcow2", "mode": "existing"}, id=1),
        Q("blockdev-snapshot-sync", {"device": "drive2", "snapshot-file": "ro.qcow2", "mode": "existing"}, id=2),
        Q("blockdev-snapshot", {"node": "drive0", "overlay": "drive1"}, id=3),
        Q("blockdev-snapshot", {"node": "drive0", "overlay": "drive2"}, id=4),
        Q("blockdev-snapshot-sync", {"device": "drive2", "snapshot-file": "d1.qcow2", "mode": "existing"}, id=5),
        Q("query-block", transform=[{"kind": "select", "keys": ["device", "inserted"]}]),
    ])


scenario(
    "blockdev-reopen-option-checks",
    "blockdev-reopen checks the new options as the open does (qcow2 cache options, negative "
    "QemuOpts sizes, encrypt on a plain image, raw window bounds and sector-multiple size, "
    "detect-zeroes=unmap without discard=unmap) and refuses left-over options it cannot change "
    "even when they were never given (empty cache dict, data-file, aio, pr-manager); accepted "
    "reopens keep the nodes usable.",
    setup=[mk(), mk("raw.img", "1M", "raw")],
    args=[["blockdev", {"driver": "file", "node-name": "basefile", "filename": "base.qcow2"}],
          ["blockdev", {"driver": "qcow2", "node-name": "base", "file": "basefile"}],
          ["blockdev", {"driver": "raw", "node-name": "r",
                        "file": {"driver": "file", "filename": "raw.img", "node-name": "rf"}}]],
    tags=["blockdev", "reopen", "validation"],
    steps=[
        Q("blockdev-reopen", {"options": [{"driver": "qcow2", "node-name": "base", "file": "basefile",
                                           "l2-cache-entry-size": 100}]}, id=1),
        Q("blockdev-reopen", {"options": [{"driver": "qcow2", "node-name": "base", "file": "basefile",
                                           "l2-cache-size": -1}]}, id=2),
        Q("blockdev-reopen", {"options": [{"driver": "qcow2", "node-name": "base", "file": "basefile",
                                           "cache": {}}]}, id=3),
        Q("blockdev-reopen", {"options": [{"driver": "qcow2", "node-name": "base", "file": "basefile",
                                           "detect-zeroes": "unmap"}]}, id=4),
        Q("blockdev-reopen", {"options": [{"driver": "qcow2", "node-name": "base", "file": "basefile",
                                           "cache-clean-interval": -1}]}, id=5),
        Q("blockdev-reopen", {"options": [{"driver": "qcow2", "node-name": "base", "file": "basefile",
                                           "lazy-refcounts": True, "cache-size": 1000}]}, id=6),
        Q("blockdev-reopen", {"options": [{"driver": "qcow2", "node-name": "base", "file": "basefile",
                                           "encrypt": {"format": "aes"}}]}, id=7),
        Q("blockdev-reopen", {"options": [{"driver": "qcow2", "node-name": "base", "file": "basefile",
                                           "data-file": "rf"}]}, id=8),
        Q("blockdev-reopen", {"options": [{"driver": "qcow2", "node-name": "base", "file": "basefile",
                                           "backing": ""}]}, id=9),
        Q("blockdev-reopen", {"options": [{"driver": "raw", "node-name": "r", "file": "rf",
                                           "offset": 512, "size": 100}]}, id=10),
        Q("blockdev-reopen", {"options": [{"driver": "raw", "node-name": "r", "file": "rf", "offset": -1}]}, id=11),
        Q("blockdev-reopen", {"options": [{"driver": "raw", "node-name": "r", "file": "rf",
                                           "offset": 2000000}]}, id=12),
        Q("blockdev-reopen", {"options": [{"driver": "raw", "node-name": "r", "file": "rf",
                                           "size": 2000000}]}, id=13),
        Q("blockdev-reopen", {"options": [{"driver": "file", "node-name": "rf", "filename": "raw.img",
                                           "aio": "native"}]}, id=14),
        Q("blockdev-reopen", {"options": [{"driver": "file", "node-name": "rf", "filename": "raw.img",
                                           "pr-manager": "x"}]}, id=15),
        Q("blockdev-reopen", {"options": [{"driver": "file", "node-name": "rf", "filename": "raw.img",
                                           "aio": "threads"}]}, id=16, note="even the default value is a change"),
        Q("blockdev-reopen", {"options": [{"driver": "file", "node-name": "rf", "filename": "raw.img",
                                           "read-only": True}]}, id=17),
        Q("blockdev-reopen", {"options": [{"driver": "qcow2", "node-name": "base", "file": "basefile",
                                           "read-only": True, "cache-size": 0}]}, id=18),
        Q("query-named-block-nodes", {"flat": True},
          transform=[{"kind": "select", "keys": ["node-name", "ro", "detect_zeroes", "file"]}]),
    ])

scenario(
    "args-missing-actions",
    "Missing members of each transaction action kind and of the snapshot commands: which member "
    "is named first, with the actions[N].data path.",
    tags=["validation", "transaction"],
    steps=[
        TX([act("blockdev-snapshot-sync")], id=1),
        TX([act("blockdev-snapshot")], id=2),
        TX([act("blockdev-snapshot", overlay="o")], id=3),
        TX([act("blockdev-snapshot-internal-sync")], id=4),
        TX([act("blockdev-snapshot-internal-sync", name="x")], id=5),
        TX([act("block-dirty-bitmap-add")], id=6),
        TX([act("block-dirty-bitmap-remove", node="n")], id=7),
        TX([act("block-dirty-bitmap-clear", name="b")], id=8),
        TX([act("block-dirty-bitmap-enable")], id=9),
        TX([act("block-dirty-bitmap-disable", node="n")], id=10),
        TX([act("block-dirty-bitmap-merge", node="n", target="t")], id=11),
        TX([act("block-dirty-bitmap-merge", bitmaps=["a"])], id=12),
        TX([act("drive-backup", sync="full")], id=13),
        TX([act("drive-backup", device="d", sync="full")], id=14),
        TX([act("blockdev-backup", device="d", sync="full")], id=15),
        TX([ABORT, act("blockdev-snapshot-sync", **{"snapshot-file": "x"}), act("blockdev-snapshot")], id=16),
        Q("blockdev-snapshot-sync", {}, id=17),
        Q("blockdev-snapshot", {}, id=18),
        Q("blockdev-snapshot-internal-sync", {"name": "x"}, id=19),
        Q("blockdev-snapshot-delete-internal-sync", {}, id=20),
        TX([act("block-dirty-bitmap-merge", node="n", target="t", bitmaps=[{"node": "n"}])], id=21),
        TX([act("block-dirty-bitmap-merge", node="n", target="t", bitmaps=[{"name": "b"}])], id=22),
    ])


scenario(
    "nbd-export-bitmap-chain",
    "Export bitmaps found down the backing chain after a snapshot (an enabled bitmap of the "
    "now read-only backing node is accepted for a read-only export), and a persistent bitmap of "
    "a read-only image.",
    setup=[mk(), mk("ro.qcow2", "1M"), "qemu-img bitmap --add ro.qcow2 rb"],
    args=[qcow(), qcow("ro", **{"read-only": True}), NBD, EXPORT()],
    tags=["nbd", "export", "bitmap", "snapshot"],
    steps=[
        Q("block-dirty-bitmap-add", {"node": "base", "name": "bb"}, id=1),
        SNAP("base", "s1.qcow2", "s1", id=2),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "s1", "name": "a",
                               "bitmaps": ["bb"]}, id=3),
        Q("block-export-add", {"type": "nbd", "id": "e2", "node-name": "s1", "name": "b",
                               "writable": True, "bitmaps": [{"node": "base", "name": "bb"}]}, id=4),
        Q("block-export-add", {"type": "nbd", "id": "e3", "node-name": "ro", "name": "r",
                               "bitmaps": ["rb"]}, id=5),
        Q("query-named-block-nodes", {"flat": True},
          transform=[{"kind": "select", "keys": ["node-name", "ro", "dirty-bitmaps"]}]),
        SH("nbdinfo --map=qemu:dirty-bitmap:rb 'nbd+unix:///r?socket=nbd.sock'"),
        SH("nbdinfo --map=qemu:dirty-bitmap:bb 'nbd+unix:///a?socket=nbd.sock'"),
        EXPORTS(),
    ])



scenario(
    "nbd-legacy-add-drive",
    "nbd-server-add naming a drive by its id (export named after the drive, on its node), a "
    "read-only drive asked writable (downgraded); block-export-add takes node names only.",
    setup=[mk(), mk("r.qcow2")], drive=True,
    args=[DRIVE(), DRIVE("r.qcow2", "drive1", "rnode", ro=True)],
    tags=["nbd", "export", "legacy", "drive"],
    steps=[
        Q("nbd-server-start", {"addr": {"type": "unix", "data": {"path": "nbd.sock"}}}, id=0),
        Q("nbd-server-add", {"device": "drive0", "writable": True}, id=1),
        Q("nbd-server-add", {"device": "drive1", "writable": True}, id=2),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "drive0", "name": "x"}, id=3),
        EXPORTS(),
        SH("nbdinfo --list --json 'nbd+unix://?socket=nbd.sock' | grep -E 'export-name|read_only'"),
        NBDIO(["write -q -P 0x11 0 4k", "read -q -P 0x11 0 4k"], name="drive0"),
        Q("nbd-server-remove", {"name": "drive0"}, id=4),
        EVENTS("BLOCK_EXPORT_DELETED"),
        Q("nbd-server-remove", {"name": "drive1", "mode": "hard"}, id=5),
        EVENTS("BLOCK_EXPORT_DELETED"),
        EXPORTS(),
    ])



RAW_R = {"driver": "raw", "node-name": "r", "file": {"driver": "file", "filename": "raw.img", "node-name": "rf"}}
RAW_SETUP = [mk("raw.img", "1M", "raw"),
             "qemu-io -f raw -c 'write -q -P 0x11 0 4k' -c 'write -q -P 0x22 4k 4k' -c 'write -q -P 0x33 8k 4k' raw.img"]


def REOPEN_R(id, **opts):
    return Q("blockdev-reopen", {"options": [dict({"driver": "raw", "node-name": "r", "file": "rf"}, **opts)]}, id=id)


R_VIEW = ["node-name", "drv", "file", "detect_zeroes", "cache", "ro", "image"]

scenario(
    "blockdev-reopen-raw-window",
    "blockdev-reopen of a raw node with a new offset/size window: the node's size and filename "
    "follow it and I/O through an export opened afterwards lands in the new window; a reopen "
    "without the window goes back to the whole file; the file's bytes where the window wrote.",
    setup=RAW_SETUP, args=[["blockdev", RAW_R], NBD],
    tags=["reopen", "raw", "nbd"],
    steps=[
        REOPEN_R(1, offset=4096, size=8192),
        NODES(R_VIEW),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "r", "writable": True}, id=2),
        SH("nbdinfo --size 'nbd+unix:///r?socket=nbd.sock'"),
        NBDIO(["read -q -P 0x22 0 4k", "read -q -P 0x33 4k 4k", "write -q -P 0x44 4k 4k"], name="r"),
        Q("block-export-del", {"id": "e1"}, id=3),
        EVENTS("BLOCK_EXPORT_DELETED"),
        REOPEN_R(4, offset=512),
        NODES(R_VIEW),
        REOPEN_R(5),
        NODES(R_VIEW),
        Q("block-export-add", {"type": "nbd", "id": "e2", "node-name": "r"}, id=6),
        NBDIO(["read -q -P 0x11 0 4k", "read -q -P 0x22 4k 4k", "read -q -P 0x44 8k 4k"], name="r", ro=True),
        SH("nbdinfo --size 'nbd+unix:///r?socket=nbd.sock'"),
        Q("block-export-del", {"id": "e2"}, id=7),
        EVENTS("BLOCK_EXPORT_DELETED"),
        REOPEN_R(8, size=4096),
        Q("block_resize", {"node-name": "r", "size": 8192}, id=9),
        NODES(R_VIEW),
    ])

scenario(
    "blockdev-reopen-node-options",
    "blockdev-reopen changes detect-zeroes, discard and the cache mode of a node, and options "
    "left out go back to their defaults; force-share cannot change; the views after each step.",
    setup=RAW_SETUP + [mk()], args=[["blockdev", RAW_R], qcow()],
    tags=["reopen", "options"],
    steps=[
        REOPEN_R(1, **{"detect-zeroes": "on"}),
        NODES(R_VIEW),
        REOPEN_R(2, **{"detect-zeroes": "unmap", "discard": "unmap"}),
        NODES(R_VIEW),
        REOPEN_R(3, cache={"direct": True}),
        NODES(R_VIEW),
        REOPEN_R(4, cache={"no-flush": True}),
        NODES(R_VIEW),
        REOPEN_R(5),
        NODES(R_VIEW),
        REOPEN_R(6, **{"force-share": True, "read-only": True}),
        REOPEN_R(7, **{"force-share": False}),
        Q("blockdev-reopen", {"options": [dict(qcow()[1], **{"detect-zeroes": "on", "cache": {"no-flush": True}})]}, id=8),
        NODES(R_VIEW),
        Q("blockdev-reopen", {"options": [dict(qcow()[1], **{"file": {"driver": "file", "filename": "base.qcow2",
                                                                       "detect-zeroes": "on"}})]}, id=9),
        NODES(R_VIEW),
    ])

scenario(
    "blockdev-reopen-file-child",
    "blockdev-reopen names another node as the file child: the raw node reads the new file and "
    "its old implicit file goes; a monitor-owned old file stays; unknown nodes, cycles and a "
    "file that is in use with conflicting permissions are refused.",
    setup=RAW_SETUP + [mk("two.img", "2M", "raw"), mk("three.img", "3M", "raw"),
                       "qemu-io -f raw -c 'write -q -P 0x55 0 4k' two.img"],
    args=[["blockdev", RAW_R], ["blockdev", {"driver": "file", "node-name": "f2", "filename": "two.img"}],
          ["blockdev", {"driver": "file", "node-name": "f3", "filename": "three.img"}], NBD],
    tags=["reopen", "graph", "raw"],
    steps=[
        REOPEN_R(1, file="nosuch"),
        REOPEN_R(2, file="r"),
        REOPEN_R(3, file="f2"),
        NODES(R_VIEW),
        GRAPH(),
        Q("block-export-add", {"type": "nbd", "id": "e1", "node-name": "r"}, id=4),
        NBDIO(["read -q -P 0x55 0 4k"], name="r", ro=True),
        Q("block-export-del", {"id": "e1"}, id=5),
        EVENTS("BLOCK_EXPORT_DELETED"),
        REOPEN_R(6, file="f3"),
        NODES(["node-name", "drv", "file", "image"]),
        GRAPH(),
        Q("blockdev-add", {"driver": "raw", "node-name": "w", "file": "f2"}, id=7),
        Q("blockdev-reopen", {"options": [{"driver": "raw", "node-name": "r", "file": "f2", "read-only": False}]}, id=8),
        Q("blockdev-del", {"node-name": "f3"}, id=9),
        Q("blockdev-del", {"node-name": "f2"}, id=10),
        GRAPH(),
    ])

scenario(
    "blockdev-reopen-backing-inline",
    "blockdev-reopen with the backing child's options given inline reopens that child with them "
    "(read-only, detect-zeroes); the backing file's own file given inline as well.",
    setup=CHAIN_SETUP, args=[["blockdev", TOP_WITH_BASE]],
    tags=["reopen", "backing"],
    steps=[
        REOPEN_TOP(1, backing={"driver": "qcow2", "node-name": "base", "detect-zeroes": "on",
                               "file": {"driver": "file", "filename": "base.qcow2", "node-name": "basef"}}),
        NODES(R_VIEW),
        REOPEN_TOP(2, backing={"driver": "qcow2", "node-name": "base", "read-only": False, "file": "basef"}),
        NODES(["node-name", "ro"]),
        REOPEN_TOP(3, backing={"driver": "qcow2", "node-name": "other", "file": "basef"}),
        REOPEN_TOP(4, backing={"driver": "raw", "node-name": "base", "file": "basef"}),
        NODES(["node-name", "ro", "detect_zeroes"]),
        GRAPH(),
    ])


def MAP(f):
    return SH("qemu-img map --output=json %s" % f, json_out=True)


scenario(
    "zero-writes-and-unmap",
    "Writes of zeroes through NBD exports: with detect-zeroes on they become zero writes, with "
    "unmap (and discard=unmap) they deallocate; a WRITE_ZEROES that allows holes deallocates "
    "only where the node unmaps (discard=unmap), else it writes zeroes in place; the maps of "
    "the images and what reads back.",
    setup=[mk("keep.qcow2", "4M"), mk("drop.qcow2", "4M"), mk("plain.qcow2", "4M")],
    args=[qcow("keep", **{"detect-zeroes": "on"}),
          qcow("drop", **{"detect-zeroes": "unmap", "discard": "unmap"}),
          qcow("plain"), NBD,
          EXPORT("keep", "e1", name="keep"), EXPORT("drop", "e2", name="drop"), EXPORT("plain", "e3", name="plain")],
    tags=["nbd", "zero", "discard", "detect-zeroes"],
    steps=[
        NBDIO(["write -q -P 0x5a 0 2M", "write -q -P 0 0 512k", "write -q -z -u 1M 256k", "write -q -P 0 3M 64k", "flush"], name="keep"),
        NBDIO(["write -q -P 0x5a 0 2M", "write -q -P 0 0 512k", "write -q -z -u 1M 256k", "write -q -P 0 3M 64k", "flush"], name="drop"),
        NBDIO(["write -q -P 0x5a 0 2M", "write -q -P 0 0 512k", "write -q -z -u 1M 256k", "write -q -z 1536k 64k", "flush"], name="plain"),
        NBDIO(["read -q -P 0 0 512k", "read -q -P 0x5a 512k 512k", "read -q -P 0 1M 256k", "read -q -P 0 3M 64k"], name="drop", ro=True),
        *QUIT(),
        MAP("keep.qcow2"),
        MAP("drop.qcow2"),
        MAP("plain.qcow2"),
        SH("qemu-img check keep.qcow2; qemu-img check drop.qcow2; qemu-img check plain.qcow2"),
    ])


scenario(
    "resize-and-lock-order",
    "block_resize of a driver that cannot resize (null-co, also to its own size) and of a raw "
    "window of fixed size to its own size; a backing file whose image another node holds "
    "writable fails the open with the backing prefix; a writer's permission conflict is found "
    "when the file is attached, before the image is read.",
    setup=[mk("base.qcow2", "4M"), "qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2",
           mk("c.raw", "1M", "raw")],
    args=[["blockdev", {"driver": "null-co", "node-name": "n", "size": 1048576}],
          ["blockdev", {"driver": "raw", "node-name": "w", "size": 4096,
                        "file": {"driver": "file", "filename": "c.raw"}}],
          ["blockdev", {"driver": "file", "node-name": "rof", "filename": "c.raw", "read-only": True}]],
    tags=["resize", "locks", "errors"],
    steps=[
        Q("block_resize", {"node-name": "n", "size": 1048576}, id=1),
        Q("block_resize", {"node-name": "n", "size": 2097152}, id=2),
        Q("block_resize", {"node-name": "w", "size": 4096}, id=3),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "b", "file": {"driver": "file", "filename": "base.qcow2"}}, id=4),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "t", "file": {"driver": "file", "filename": "top.qcow2"}}, id=5),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "q", "file": "rof"}, id=6),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "q", "read-only": True, "file": "rof"}, id=7),
        NODES(["node-name", "drv", "ro"]),
    ])


scenario(
    "raw-window-and-info",
    "A raw node with offset 0 is a filter of its file (it shares resize with a qcow2 node on the "
    "same image); a raw node tells of its image what its file tells (nothing over null-co, a "
    "qcow2 node's cluster size); a writer whose file is read-only and used by an export is "
    "refused for the conflict first.",
    setup=[mk("base.qcow2", "1M"), mk("other.qcow2", "1M")],
    args=[qcow("q", f="base.qcow2"), NBD],
    tags=["raw", "permissions", "query"],
    steps=[
        Q("blockdev-add", {"driver": "raw", "node-name": "r0", "offset": 0,
                           "file": {"driver": "file", "filename": "base.qcow2"}}, id=1),
        Q("blockdev-add", {"driver": "null-co", "node-name": "z", "size": 512}, id=2),
        Q("blockdev-add", {"driver": "raw", "node-name": "rz", "file": "z"}, id=3),
        Q("blockdev-add", {"driver": "raw", "node-name": "rq", "file": "q"}, id=4),
        Q("query-named-block-nodes", {"flat": True},
          transform=[{"kind": "select", "keys": ["node-name", "drv", "file", "image"]}]),
        Q("blockdev-add", {"driver": "file", "node-name": "rf", "filename": "other.qcow2", "read-only": True}, id=5),
        Q("block-export-add", {"type": "nbd", "id": "e", "node-name": "rf"}, id=6),
        Q("blockdev-add", {"driver": "qcow2", "node-name": "w", "file": "rf"}, id=7),
    ])


scenario(
    "resize-over-longer-backing",
    "An overlay shrunk to nothing and grown again over a longer backing file: the grown area "
    "reads as zeroes, and the file holds the new L2 table at once (the file node's size right "
    "after the resize, before any flush).",
    setup=CHAIN_SETUP,
    args=[["blockdev", {"driver": "qcow2", "node-name": "top",
                        "file": {"driver": "file", "filename": "top.qcow2", "node-name": "topf"}}]],
    tags=["resize", "backing", "qcow2"],
    steps=[
        Q("block_resize", {"node-name": "top", "size": 0}, id=1),
        Q("block_resize", {"node-name": "top", "size": 1048576}, id=2),
        Q("query-named-block-nodes", {"flat": True},
          transform=[{"kind": "select", "keys": ["node-name", "image"]}]),
        Q("block_resize", {"node-name": "top", "size": 134217728}, id=3),
        Q("query-named-block-nodes", {"flat": True},
          transform=[{"kind": "select", "keys": ["node-name", "image"]}]),
        *QUIT(),
        SH("qemu-img map --output=json top.qcow2", json_out=True),
        SH("qemu-img check top.qcow2"),
    ])


def main(argv):
    force = set(argv[argv.index("--force") + 1:]) if "--force" in argv else set()
    os.makedirs(OUT, exist_ok=True)
    seen = set()
    for s in SCENARIOS:
        if s is None:
            continue
        assert s["name"] not in seen, s["name"]
        seen.add(s["name"])
        path = os.path.join(OUT, s["name"] + ".json")
        if os.path.exists(path) and s["name"] not in force:
            continue
        with open(path, "w") as fh:
            json.dump(s, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
        print("wrote", os.path.relpath(path))


if __name__ == "__main__":
    main(sys.argv[1:])
