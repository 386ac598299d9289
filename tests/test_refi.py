"""REFI-QDA projects: round trip, schema validity, vendor differences, hostile archives."""
from __future__ import annotations

import io
import struct
import time
import zipfile
import zlib
from pathlib import Path

import pandas as pd
import pytest
import xmlschema

from spanalysis.errors import InputError, ValidationError
from spanalysis.qual.codebook import read_codebook
from spanalysis.qual.refi import read_qdpx, schema_path, write_qdpx

FIXTURES = Path(__file__).parent / "fixtures" / "qual"
# the published schema, shipped with the tests (tests/reference/README.md gives its source)
REFERENCE_XSD = Path(__file__).parent / "reference" / "Project.xsd"
NS = "urn:QDA-XML:project:1.0"

G = {k: f"{i:08x}-0000-4000-8000-{i:012x}" for i, k in enumerate(
    ["user1", "user2", "code1", "code2", "src1", "src2", "sel1", "sel2", "sel3", "cod1", "cod2",
     "cod3", "var1", "case1", "set1", "set2", "set3"], start=1)}


@pytest.fixture(scope="module")
def schema():
    return xmlschema.XMLSchema(str(REFERENCE_XSD))


def make_project():
    book = read_codebook(FIXTURES / "codebook.yaml")
    text1 = "I felt alone.\r\nShe listened \U0001F642 to me. Caf\u00e9 visits help."
    text2 = "Plain text with no line breaks and \u00fcmlauts."
    sources = pd.DataFrame({"source_id": [G["src1"], G["src2"]],
                            "source_name": ["Interview 1", "Observation 1"],
                            "text": [text1, text2]})

    def seg(sid, text, coder, code, phrase, guid):
        a = text.index(phrase)
        return {"segment_id": guid, "source_id": sid, "coder": coder, "code_id": code,
                "start": a, "end": a + len(phrase)}
    segments = pd.DataFrame([
        seg(G["src1"], text1, "Ann", "valued", "She listened \U0001F642 to me.", G["cod1"]),
        seg(G["src1"], text1, "Ben", "valued", "She listened \U0001F642 to me.", G["cod2"]),
        seg(G["src1"], text1, "Ben", "hope_future", "Caf\u00e9 visits", G["cod3"]),
        seg(G["src2"], text2, "Ann", "distress", "\u00fcmlauts", G["sel1"]),
    ])
    cases = pd.DataFrame({"case": ["P001", "P001", "Site visit"],
                          "description": ["Participant 1", "Participant 1", ""],
                          "source_id": [G["src1"], G["src1"], G["src2"]]}).iloc[[0, 2]]
    variables = pd.DataFrame({"case": ["P001", "P001", "P001", "Site visit"],
                              "variable": ["age", "gender", "wemwbs_change", "age"],
                              "value": ["67", "female", "8.5", "0"],
                              "type": ["Integer", "Text", "Float", "Integer"]})
    return {"codebook": book, "sources": sources, "segments": segments, "cases": cases,
            "variables": variables}


def _qde_bytes(path):
    with zipfile.ZipFile(path) as zf:
        return zf.read("project.qde")


# --------------------------------------------------------------------------- round trip


def test_round_trip_same_content(tmp_path):
    project = make_project()
    out = write_qdpx(project, tmp_path / "p.qdpx")
    back = read_qdpx(out)
    assert back["offsets"] == "characters"
    pd.testing.assert_frame_equal(back["codebook"], project["codebook"])
    pd.testing.assert_frame_equal(back["sources"][["source_id", "source_name", "text"]],
                                  project["sources"].astype("str"))
    cols = ["segment_id", "source_id", "coder", "code_id", "start", "end"]
    got = back["segments"].sort_values("segment_id").reset_index(drop=True)
    want = project["segments"].sort_values("segment_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got[cols], want[cols], check_dtype=False)
    texts = dict(zip(project["sources"]["source_id"], project["sources"]["text"]))
    assert got["text"].tolist() == [texts[s][a:b] for s, a, b in
                                    zip(want["source_id"], want["start"], want["end"])]
    assert set(got["case"]) == {"P001", "Site visit"}
    assert got.set_index("code_id").loc["hope_future", "code_name"] == "Plans for the future"
    assert back["cases"][["case", "source_id"]].values.tolist() == [
        ["P001", G["src1"]], ["Site visit", G["src2"]]]
    assert back["cases"]["description"].tolist() == ["Participant 1", ""]
    pd.testing.assert_frame_equal(back["variables"], project["variables"].astype("str"))


def test_written_project_validates_against_schema(tmp_path, schema):
    out = write_qdpx(make_project(), tmp_path / "p.qdpx")
    schema.validate(io.BytesIO(_qde_bytes(out)))  # raises if invalid
    xml = _qde_bytes(out).decode("utf-8")
    assert "<Sets" not in xml
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        text = zf.read(f"sources/{G['src1']}.txt")
    assert names[0] == "project.qde"
    assert not text.startswith(b"\xef\xbb\xbf") and b"\r\n" in text  # no BOM, CRLF as given


def test_packaged_schema_is_the_reference():
    assert schema_path().read_bytes() == REFERENCE_XSD.read_bytes()


def test_write_is_deterministic_and_atomic(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = write_qdpx(make_project(), tmp_path / "a" / "p.qdpx").read_bytes()
    b = write_qdpx(make_project(), tmp_path / "b" / "p.qdpx").read_bytes()
    assert a == b
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["p.qdpx"]  # no temporary left


def test_non_guid_ids_become_stable_guids(tmp_path, schema):
    project = make_project()
    project["sources"]["source_id"] = ["INT01", "OBS01"]
    project["segments"]["source_id"] = project["segments"]["source_id"].map(
        {G["src1"]: "INT01", G["src2"]: "OBS01"})
    project["segments"]["segment_id"] = ["s1", "s2", "s3", "s4"]
    project["cases"]["source_id"] = ["INT01", "OBS01"]
    out = write_qdpx(project, tmp_path / "p.qdpx")
    schema.validate(io.BytesIO(_qde_bytes(out)))
    back = read_qdpx(out)
    assert back["sources"]["source_name"].tolist() == ["Interview 1", "Observation 1"]
    assert back["segments"]["source_id"].str.fullmatch(r"[0-9a-f-]{36}").all()
    assert len(back["segments"]) == 4


def test_write_refuses_bad_segments(tmp_path):
    project = make_project()
    project["segments"].loc[0, "end"] = 10_000
    with pytest.raises(InputError, match="outside its source text"):
        write_qdpx(project, tmp_path / "p.qdpx")
    assert not (tmp_path / "p.qdpx").exists()


# --------------------------------------------------------------------------- vendor fixtures


def project_xml(sources_xml, ns=NS, extra="", codes=None):
    codes = codes or (f'<Code guid="{G["code1"]}" name="Hope" isCodable="true"/>'
                      f'<Code guid="{G["code2"]}" name="Valued" isCodable="true"/>')
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<Project xmlns="{ns}" name="T">'
            f'<Users><User guid="{G["user1"]}" name="Ann"/><User guid="{G["user2"]}" '
            f'name="Ben"/></Users><CodeBook><Codes>{codes}</Codes></CodeBook>'
            f'<Sources>{sources_xml}</Sources>{extra}</Project>').encode("utf-8")


def text_source(guid, selections, path=None, inline=None, name="Doc"):
    body = f"<PlainTextContent>{inline}</PlainTextContent>" if inline is not None else ""
    attr = f' plainTextPath="{path}"' if path else ""
    sels = "".join(
        f'<PlainTextSelection guid="{g}" startPosition="{a}" endPosition="{b}" '
        f'creatingUser="{G["user1"]}"><Coding guid="{cg}" creatingUser="{G["user1"]}">'
        f'<CodeRef targetGUID="{code}"/></Coding></PlainTextSelection>'
        for g, a, b, cg, code in selections)
    return f'<TextSource guid="{guid}" name="{name}"{attr}>{body}{sels}</TextSource>'


def make_qdpx(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    return path


def test_nvivo_utf16_offsets_with_emoji(tmp_path):
    text = "I was so low \U0001F61E but now I have hope \U0001F642 and real friends. Thanks."
    # Each emoji is 1 character but 2 UTF-16 code units.
    # "I was so low " (13) + emoji (1) + " but now I have " (16): "hope" at character 30,
    #   UTF-16 unit 31 (one emoji before it).
    # 30 + "hope " (5) + emoji (1) + " and real " (10): "friends" at character 46, unit 48.
    hope_c, friends_c = text.index("hope"), text.index("friends")
    assert (hope_c, friends_c) == (30, 46)
    units = lambda i: len(text[:i].encode("utf-16-le")) // 2  # noqa: E731
    assert (units(hope_c), units(friends_c)) == (31, 48)
    sels = [(G["sel1"], 31, 35, G["cod1"], G["code1"]),
            (G["sel2"], 48, 55, G["cod2"], G["code2"])]
    xml = project_xml(text_source(G["src1"], sels, path=f"internal://{G['src1']}.txt"))
    path = make_qdpx(tmp_path / "nvivo.qdpx", [("project.qde", xml),
                                               (f"sources/{G['src1']}.txt",
                                                text.encode("utf-8"))])
    auto = read_qdpx(path)
    assert auto["offsets"] == "utf16"
    assert auto["segments"]["text"].tolist() == ["hope", "friends"]
    assert auto["segments"]["start"].tolist() == [30, 46]
    explicit = read_qdpx(path, offsets="utf16")
    pd.testing.assert_frame_equal(explicit["segments"], auto["segments"])
    as_chars = read_qdpx(path, offsets="characters")
    # read as characters the selections drift right by 1 and 2 (the emoji before each)
    assert as_chars["segments"]["text"].tolist() == ["ope ", "iends. "]
    # the same selections written in characters are read as characters by 'auto'
    sels_c = [(G["sel1"], 30, 34, G["cod1"], G["code1"]),
              (G["sel2"], 46, 53, G["cod2"], G["code2"])]
    xml_c = project_xml(text_source(G["src1"], sels_c, path=f"internal://{G['src1']}.txt"))
    path_c = make_qdpx(tmp_path / "qualcoder.qdpx", [("project.qde", xml_c),
                                                     (f"sources/{G['src1']}.txt",
                                                      text.encode("utf-8"))])
    assert read_qdpx(path_c)["offsets"] == "characters"
    assert read_qdpx(path_c)["segments"]["text"].tolist() == ["hope", "friends"]
    with pytest.raises(InputError, match="offsets"):
        read_qdpx(path, offsets="bytes")


def test_utf16_detected_when_positions_impossible_as_characters(tmp_path):
    text = "Good \U0001F642 day"          # 10 characters, 11 UTF-16 units
    sels = [(G["sel1"], 8, 11, G["cod1"], G["code1"])]  # "day" in UTF-16 units
    xml = project_xml(text_source(G["src1"], sels, inline=text))
    path = make_qdpx(tmp_path / "end.qdpx", [("project.qde", xml)])
    assert read_qdpx(path)["segments"]["text"].tolist() == ["day"]
    with pytest.raises(ValidationError, match="outside its text"):
        read_qdpx(path, offsets="characters")


def test_bom_crlf_uppercase_folder_stray_entries_and_trial_qde(tmp_path):
    text = "Line one.\r\nI felt valued.\r\n"
    start = text.index("valued")  # 9 + CR + LF + "I felt " = 9 + 2 + 7 = 18
    assert start == 18
    sels = [(G["sel1"], 18, 24, G["cod1"], G["code2"])]
    xml = project_xml(text_source(G["src1"], sels, path=f"internal://{G['src1']}.txt"))
    path = make_qdpx(tmp_path / "atlas.qdpx", [
        ("Trial.qde", xml),
        ("Sources/.root", b""),
        ("Sources/", b""),
        (f"Sources/{G['src1']}.txt", b"\xef\xbb\xbf" + text.encode("utf-8")),
        (f"Sources/{G['src1']}.docx", b"PK not really a docx"),
    ])
    out = read_qdpx(path)
    assert out["sources"].loc[0, "text"] == text                # BOM gone, CRLF kept
    assert out["segments"].loc[0, "text"] == "valued"
    assert out["segments"].loc[0, "coder"] == "Ann"
    assert out["segments"].loc[0, "code_name"] == "Valued"


def test_exactly_one_qde(tmp_path):
    xml = project_xml("")
    two = make_qdpx(tmp_path / "two.qdpx", [("a.qde", xml), ("b.qde", xml)])
    with pytest.raises(InputError, match="2 project files"):
        read_qdpx(two)
    none = make_qdpx(tmp_path / "none.qdpx", [("project.xml", xml)])
    with pytest.raises(InputError, match="0 project files"):
        read_qdpx(none)


def test_atlas_attribute_sets_become_variables(tmp_path):
    src = text_source(G["src1"], [], inline="Hello there.", name="Interview 7")
    sets = (f'<Sets><Set guid="{G["set1"]}" name="gender: female"><MemberSource '
            f'targetGUID="{G["src1"]}"/></Set><Set guid="{G["set2"]}" name="age: 67">'
            f'<MemberSource targetGUID="{G["src1"]}"/></Set>'
            f'<Set guid="{G["set3"]}" name="Interesting codes"><MemberCode '
            f'targetGUID="{G["code1"]}"/></Set></Sets>')
    path = make_qdpx(tmp_path / "atlas.qdpx", [("project.qde", project_xml(src, extra=sets))])
    out = read_qdpx(path)
    assert out["variables"].values.tolist() == [["Interview 7", "gender", "female", "Text"],
                                                ["Interview 7", "age", "67", "Integer"]]
    assert out["cases"][["case", "source_name"]].values.tolist() == [
        ["Interview 7", "Interview 7"]]


@pytest.mark.parametrize("ns", ["urn:QDA-XML:project:1.0", "urn:QDA-XML:project:1:0",
                                "urn:QDA-XML:project:0:4"])
def test_namespace_variants_empty_sets_and_inline_text(tmp_path, ns):
    sels = [(G["sel1"], 6, 11, G["cod1"], G["code1"])]
    src = text_source(G["src1"], sels, inline="Lots hope here")
    path = make_qdpx(tmp_path / "ns.qdpx", [("project.qde", project_xml(src, ns=ns,
                                                                        extra="<Sets/>"))])
    out = read_qdpx(path)
    assert out["segments"]["text"].tolist() == ["ope h"]  # positions 6..11 of the inline text
    assert out["segments"]["code_id"].tolist() == ["hope"]


def test_unknown_namespace_and_outside_paths_refused(tmp_path):
    bad = make_qdpx(tmp_path / "ns.qdpx", [("project.qde", project_xml("", ns="urn:x"))])
    with pytest.raises(InputError, match="not a REFI-QDA project"):
        read_qdpx(bad)
    src = text_source(G["src1"], [], path="absolute://C:/Users/me/secret.txt")
    out = make_qdpx(tmp_path / "abs.qdpx", [("project.qde", project_xml(src))])
    with pytest.raises(InputError, match="outside the archive"):
        read_qdpx(out)


def test_selection_outside_text_is_an_error(tmp_path):
    sels = [(G["sel1"], 5, 500, G["cod1"], G["code1"])]
    src = text_source(G["src1"], sels, inline="Short text")
    path = make_qdpx(tmp_path / "x.qdpx", [("project.qde", project_xml(src))])
    with pytest.raises(ValidationError, match="outside its text"):
        read_qdpx(path)


# --------------------------------------------------------------------------- hostile archives


def _refused(path, match, **kw):
    t0 = time.perf_counter()
    with pytest.raises(InputError, match=match) as info:
        read_qdpx(path, **kw)
    assert time.perf_counter() - t0 < 2.0  # refused quickly
    assert info.value.issue.file.startswith(path.name)  # the archive (and member) named
    return info.value


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<Project xmlns="urn:QDA-XML:project:1.0" name="&lol9;"/>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE p [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Project xmlns="urn:QDA-XML:project:1.0" name="&xxe;"/>"""


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["laughs", "xxe"])
def test_entity_attacks_refused(tmp_path, xml):
    path = make_qdpx(tmp_path / "evil.qdpx", [("project.qde", xml)])
    err = _refused(path, "unsafe XML")
    assert "EntitiesForbidden" in str(err)
    assert "root:" not in str(err)  # nothing of /etc/passwd was read


@pytest.mark.parametrize("member, reason", [
    ("../evil.txt", "'..'"),
    ("sources/../../evil.txt", "'..'"),
    ("/etc/evil.txt", "absolute"),
    ("C:/evil.txt", "drive letter"),
])
def test_escaping_member_paths_refused(tmp_path, member, reason):
    path = tmp_path / "evil.qdpx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("project.qde", project_xml(""))
        zf.writestr(zipfile.ZipInfo(member), b"gotcha")  # ZipInfo keeps the raw name
    err = _refused(path, reason)
    assert member in str(err)


def test_symlink_member_refused(tmp_path):
    path = tmp_path / "link.qdpx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("project.qde", project_xml(""))
        info = zipfile.ZipInfo("sources/link.txt")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, b"/etc/passwd")
    _refused(path, "symbolic link")


def _deflate_zeros(total: int) -> tuple[bytes, int]:
    """Raw deflate stream of ``total`` zero bytes, built without compressing them all.

    After a full flush the compressor starts afresh, so compressing the same 1 MiB of zeros
    again gives the same bytes: the block is repeated. Returns (stream, crc32).
    """
    chunk = bytes(1 << 20)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    comp.compress(chunk)
    comp.flush(zlib.Z_FULL_FLUSH)  # first block primes the state
    block = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    block2 = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    assert block == block2
    n = total // len(chunk)
    return block * n + comp.flush(), 0


def _zip_with_raw_member(path, name, stream, declared_size, extra_members=()):
    """Write a ZIP by hand holding one deflated member whose header declares any size."""
    out = io.BytesIO()
    central = []
    for mname, data, comp_data, size, method in (
            [(n, d, d, len(d), 0) for n, d in extra_members]
            + [(name, None, stream, declared_size, 8)]):
        offset = out.tell()
        crc = zlib.crc32(data) if data is not None else 0
        fname = mname.encode()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc,
                              len(comp_data), size, len(fname), 0) + fname + comp_data)
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21,
                                   crc, len(comp_data), size, len(fname), 0, 0, 0, 0, 0,
                                   offset) + fname)
    start = out.tell()
    for c in central:
        out.write(c)
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(central), len(central),
                          out.tell() - start, start, 0))
    path.write_bytes(out.getvalue())
    return path


def test_compression_bomb_refused_before_reading(tmp_path):
    stream, _ = _deflate_zeros(1 << 30)  # 1 GiB of zeros in about 1 MB
    assert len(stream) < 2_000_000
    path = _zip_with_raw_member(tmp_path / "bomb.qdpx", "sources/zeros.txt", stream, 1 << 30,
                                extra_members=[("project.qde", project_xml(""))])
    _refused(path, "limit of 209,715,200")


def test_compression_bomb_with_lying_header_refused_while_reading(tmp_path):
    stream, _ = _deflate_zeros(64 << 20)  # 64 MiB of zeros, header claims 100 bytes
    src = text_source(G["src1"], [], path="internal://zeros.txt")
    path = _zip_with_raw_member(tmp_path / "liar.qdpx", "sources/zeros.txt", stream, 100,
                                extra_members=[("project.qde", project_xml(src))])
    _refused(path, "zeros.txt")


def test_size_limit_is_a_parameter(tmp_path):
    out = write_qdpx(make_project(), tmp_path / "p.qdpx")
    _refused(out, "limit of 100;", max_size=100)


def test_too_many_members_refused(tmp_path):
    path = tmp_path / "many.qdpx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("project.qde", project_xml(""))
        for i in range(20_000):
            zf.writestr(f"sources/{i}.txt", b"")
    _refused(path, "20,001 members")
    with pytest.raises(InputError, match="limit of 5"):
        read_qdpx(path, max_members=5)


def test_not_a_zip(tmp_path):
    path = tmp_path / "x.qdpx"
    path.write_bytes(b"this is not a zip")
    _refused(path, "not a readable")


def test_whole_source_coding_selection_cases_and_typed_values(tmp_path):
    text = "Whole interview text."
    src = (f'<TextSource guid="{G["src1"]}" name="Doc"><PlainTextContent>{text}'
           f'</PlainTextContent><PlainTextSelection guid="{G["sel1"]}" startPosition="0" '
           f'endPosition="5"><Coding guid="{G["cod1"]}" creatingUser="{G["user2"]}">'
           f'<CodeRef targetGUID="{G["code1"]}"/></Coding></PlainTextSelection>'
           f'<Coding guid="{G["cod2"]}" creatingUser="{G["user1"]}"><CodeRef '
           f'targetGUID="{G["code2"]}"/></Coding></TextSource>')
    extra_before = (f'<Variables><Variable guid="{G["var1"]}" name="consented" '
                    f'typeOfVariable="Boolean"/></Variables>'
                    f'<Cases><Case guid="{G["case1"]}" name="P9"><VariableValue><VariableRef '
                    f'targetGUID="{G["var1"]}"/><BooleanValue>true</BooleanValue>'
                    f'</VariableValue><SelectionRef targetGUID="{G["sel1"]}"/></Case></Cases>')
    xml = project_xml(src).replace(b"<Sources>", extra_before.encode() + b"<Sources>")
    path = make_qdpx(tmp_path / "w.qdpx", [("project.qde", xml)])
    out = read_qdpx(path)
    seg = out["segments"].set_index("segment_id")
    assert seg.loc[G["cod1"], ["text", "coder", "case"]].tolist() == ["Whole", "Ben", "P9"]
    # a coding of the whole source covers the whole text (0 .. 21)
    assert seg.loc[G["cod2"], ["start", "end", "text"]].tolist() == [0, len(text), text]
    assert out["variables"].values.tolist() == [["P9", "consented", "true", "Boolean"]]


# --------------------------------------------------------------------------- issue 19, 25 and 28


@pytest.mark.parametrize("end", [10**30, 2**63, 10**6])
def test_selection_far_beyond_any_text_is_an_error_not_an_overflow(tmp_path, end):
    sels = [(G["sel1"], 0, end, G["cod1"], G["code1"])]
    src = text_source(G["src1"], sels, inline="Short text")
    path = make_qdpx(tmp_path / "x.qdpx", [("project.qde", project_xml(src))])
    with pytest.raises(ValidationError, match="outside its text") as info:
        read_qdpx(path)
    assert str(end) in str(info.value) and "x.qdpx" in str(info.value)


def _flag_encrypted(data: bytes, member: str) -> bytes:
    """Set bit 0 of the general-purpose flags (PKWARE APPNOTE 4.4.4: "encrypted") of one
    member in both its local header and its central-directory entry."""
    out = bytearray(data)
    name = member.encode()
    for signature, flags_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        pos = out.find(signature)
        while pos != -1:
            if out[pos + name_at:pos + name_at + len(name)] == name:
                flags = struct.unpack_from("<H", out, pos + flags_at)[0]
                struct.pack_into("<H", out, pos + flags_at, flags | 0x1)
            pos = out.find(signature, pos + 4)
    return bytes(out)


def test_encrypted_member_refused_with_a_message(tmp_path):
    src = text_source(G["src1"], [], path=f"internal://{G['src1']}.txt")
    plain = make_qdpx(tmp_path / "plain.qdpx", [("project.qde", project_xml(src)),
                                                (f"sources/{G['src1']}.txt", b"Some text.")])
    path = tmp_path / "locked.qdpx"
    path.write_bytes(_flag_encrypted(plain.read_bytes(), f"sources/{G['src1']}.txt"))
    assert zipfile.ZipFile(path).infolist()[1].flag_bits & 0x1  # the fixture is what it says
    err = _refused(path, "encrypted")
    assert f"sources/{G['src1']}.txt" in str(err)


@pytest.mark.parametrize("codes, kinds", [
    (f'<Code guid="{G["code1"]}" name="Hope" isCodable="true"/>'
     f'<Code guid="{G["code1"]}" name="Valued" isCodable="true"/>', ("Code", "Code")),
    (f'<Code guid="{G["code1"]}" name="Hope" isCodable="true"/>'
     f'<Code guid="{G["src1"].upper()}" name="Valued" isCodable="true"/>',
     ("Code", "TextSource")),
], ids=["two codes", "a code and a source, in other case"])
def test_duplicate_guids_refused(tmp_path, codes, kinds):
    src = text_source(G["src1"], [(G["sel1"], 0, 4, G["cod1"], G["code1"])], inline="Some text")
    path = make_qdpx(tmp_path / "dup.qdpx", [("project.qde", project_xml(src, codes=codes))])
    with pytest.raises(InputError, match="share one GUID") as info:
        read_qdpx(path)
    message = str(info.value)
    assert all(kind in message for kind in kinds)
    assert G["code1"] in message or G["src1"] in message.lower()
