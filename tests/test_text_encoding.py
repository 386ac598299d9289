"""The loader's text encoding: trimmed, blank = missing, one code per distinct id.

The fast paths (ids of one prefix and fixed-width digits read from Arrow's buffers; text
columns kept as read when a byte screen shows nothing to trim) must give exactly what a
plain reference gives: Arrow's own whitespace trimming, then codes in order of first
appearance worked out with a Python dict.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spanalysis._textcodes import encode_numbered as _encode_numbered
from spanalysis._textcodes import take_rows
from spanalysis._textcodes import trimmed_no_blank as _trimmed_no_blank
from spanalysis.study import _Coded, _encode_text, _Ids, _keys_increase, _text


def reference_encoding(values: list) -> tuple[list[int], list[str]]:
    """Codes (first appearance, -1 for blank) and dictionary, by trimming with Arrow."""
    trimmed = pc.utf8_trim_whitespace(pa.array(values, type=pa.large_string())).to_pylist()
    seen: dict[str, int] = {}
    codes = []
    for v in trimmed:
        if v is None or v == "":
            codes.append(-1)
        else:
            codes.append(seen.setdefault(v, len(seen)))
    return codes, list(seen)


def as_arrays(values: list, splits: list[int], chunk: int) -> list:
    """``values`` cut into files at ``splits``, each file a chunked array of ``chunk``."""
    bounds = [0] + sorted(min(s, len(values)) for s in splits) + [len(values)]
    arrays = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        part = values[a:b]
        pieces = [pa.array(part[i:i + chunk], type=pa.large_string())
                  for i in range(0, len(part), chunk)] or [pa.array([], type=pa.large_string())]
        arrays.append(pa.chunked_array(pieces, type=pa.large_string()))
    return arrays


def check(values, splits=(), chunk=7):
    codes, dictionary, _ = _encode_text(as_arrays(values, list(splits), chunk))
    want_codes, want_dictionary = reference_encoding(values)
    words = dictionary.to_pylist()
    assert len(set(words)) == len(words)
    # every row decodes to its trimmed value (blank: code -1) ...
    assert [words[c] if c >= 0 else None for c in codes.tolist()] == \
        [want_dictionary[c] if c >= 0 else None for c in want_codes]
    # ... and the values are numbered in order of first appearance (a blank may stay in
    # the dictionary, but no row has its code)
    assert [w for w in words if w != ""] == want_dictionary


numbered = st.builds(lambda prefix, width, numbers: [f"{prefix}{n:0{width}d}" for n in numbers],
                     st.sampled_from(["SP", "P-", "", "Site A/", "é"]),
                     st.integers(1, 9),
                     st.lists(st.integers(0, 999), min_size=1, max_size=60))
dates = st.builds(lambda sep, days: [f"{2024 + d // 400:04d}{sep}{1 + d % 12:02d}{sep}"
                                      f"{1 + d % 28:02d}" for d in days],
                  st.sampled_from(["-", "/", ""]),
                  st.lists(st.integers(0, 2000), min_size=1, max_size=60))
mixed = st.lists(st.sampled_from(["A1B2", "A3B4", "A1B2", "A9C2", "x-1", "x-2", "1x", "9x"]),
                 min_size=1, max_size=30)
texty = st.lists(st.one_of(st.none(), st.sampled_from(["", " ", "SP001", " SP001", "SP001 ",
                                                       "SP002", "\u00a0SP002", "SP 3", "sp001",
                                                       "SP001\t", "0012", "12"])),
                 min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(numbered, st.lists(st.integers(0, 80), max_size=2), st.integers(1, 9))
def test_numbered_ids_encode_as_the_reference(values, splits, chunk):
    check(values, splits, chunk)


@settings(max_examples=200, deadline=None)
@given(texty, st.lists(st.integers(0, 50), max_size=2), st.integers(1, 9))
def test_any_ids_encode_as_the_reference(values, splits, chunk):
    check(values, splits, chunk)


@settings(max_examples=200, deadline=None)
@given(st.one_of(dates, mixed), st.lists(st.integers(0, 50), max_size=2), st.integers(1, 9))
def test_dates_and_fixed_characters_encode_as_the_reference(values, splits, chunk):
    check(values, splits, chunk)


def test_fast_path_taken_for_iso_dates():
    assert _encode_numbered(chunks_of(["2025-03-31", "2025-01-02", "2025-03-31"])) is not None
    assert _encode_numbered(chunks_of(["2025-03-31", "2025/01/02"])) is None  # separators vary
    check(["2025-03-31", "2025/01/02", "2025-03-31"])


def chunks_of(values):
    return [pa.array(values, type=pa.large_string())]


@pytest.mark.parametrize("values", [
    ["SP001", "SP1"],            # different lengths
    [" SP01", " SP02"],          # a prefix starting with a space
    ["AB1", "CD2"],              # a prefix that varies
    ["1A", "1B"],                # a fixed character that varies
    ["SP01", ""],                # an empty value
    [None, None],                # nothing but missing values
    ["SP0A", "SP01"],            # a letter where the first id has a digit
    ["1" * 19, "2" * 19],        # digits that differ beyond 18 places
])
def test_fast_path_declines_what_it_cannot_read(values):
    assert _encode_numbered(chunks_of(values)) is None
    check(values)


with_blanks = st.builds(lambda values, holes: [None if h else v for v, h in zip(values, holes)],
                       st.one_of(numbered, dates),
                       st.lists(st.booleans(), min_size=60, max_size=60))


@settings(max_examples=200, deadline=None)
@given(with_blanks, st.lists(st.integers(0, 50), max_size=2), st.integers(1, 9))
def test_numbered_values_with_blanks_encode_as_the_reference(values, splits, chunk):
    """Missing values (questionnaire dates not yet known) keep the fast path: -1 codes, the
    other values numbered in order of first appearance, as the reference does."""
    check(values, splits, chunk)


@settings(max_examples=200, deadline=None)
@given(st.one_of(numbered, dates, with_blanks), st.lists(st.integers(0, 50), max_size=2),
       st.integers(1, 9), st.integers(1, 12))
def test_first_rows_searched_beyond_the_head_encode_as_the_reference(values, splits, chunk,
                                                                    head):
    """The first row of each value is looked for in the first rows, then searched for
    (``_HEAD`` made small here, so that values first seen later are searched for too)."""
    from spanalysis import _textcodes

    old = _textcodes._HEAD
    _textcodes._HEAD = head
    try:
        check(values, splits, chunk)
    finally:
        _textcodes._HEAD = old


def test_fast_path_taken_with_missing_values():
    values = [None, "2025-03-31", None, "2025-01-02", "2025-03-31", None]
    numbered_ = _encode_numbered(chunks_of(values))
    assert numbered_ is not None
    codes, dictionary, _ = numbered_
    assert codes.tolist() == [-1, 0, -1, 1, 0, -1]
    assert dictionary.to_pylist() == ["2025-03-31", "2025-01-02"]
    check(values)


def test_fast_path_declines_a_missing_value_that_holds_bytes():
    """Arrow lets a missing value's slot hold bytes; such an array is left to the hashing
    path, which ignores them."""
    import numpy as np

    offsets = np.array([0, 4, 8, 12], dtype=np.int64)
    data = b"SP01XXXXSP02"
    validity = pa.array([True, False, True]).buffers()[1]
    arr = pa.Array.from_buffers(pa.large_string(), 3,
                                [validity, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data)],
                                null_count=1)
    assert arr.to_pylist() == ["SP01", None, "SP02"]
    assert _encode_numbered([arr]) is None
    codes, dictionary, _ = _encode_text([arr])
    assert codes.tolist() == [0, -1, 1] and dictionary.to_pylist() == ["SP01", "SP02"]


def test_fast_path_taken_for_usual_ids_and_thinly_spread_numbers_declined():
    assert _encode_numbered(chunks_of(["SP0003", "SP0001", "SP0003"])) is not None
    assert _encode_numbered(chunks_of(["N000000000000001", "N900000000000000"])) is None
    check(["N000000000000001", "N900000000000000"])


# A participants file, encoded before the files that repeat its ids: the first rows hold
# every distinct id once. encode_numbered then numbers the ids by rank (first rows in
# ascending order: a file sorted by id) or by their row among the first rows (any other
# order), without looking for each one's first row; near misses (a later id that is new, or
# a repeat within the first rows) must take the general path and still agree.
sorted_first = st.builds(
    lambda ids, later, new, swap, holes: _sorted_first_values(ids, later, new, swap, holes),
    st.lists(st.integers(0, 300), min_size=1, max_size=40, unique=True),
    st.lists(st.integers(0, 10_000), max_size=60),
    st.one_of(st.none(), st.integers(0, 400)),
    st.booleans(),
    st.lists(st.booleans(), max_size=100))


def _sorted_first_values(ids, later, new, swap, holes):
    first = sorted(ids)
    if swap and len(first) > 1:
        first[0], first[1] = first[1], first[0]          # a step down within the first rows
    rest = [first[i % len(first)] for i in later]         # the other files repeat the ids
    if new is not None:
        rest.insert(len(rest) // 2, new)                  # an id the first rows do not hold
    values = [f"SP{n:04d}" for n in first + rest]
    return [None if h else v for v, h in zip(values, holes + [False] * len(values))]


@settings(max_examples=300, deadline=None)
@given(sorted_first, st.lists(st.integers(0, 80), max_size=2), st.integers(1, 9))
def test_ids_sorted_first_encode_as_the_reference(values, splits, chunk):
    check(values, splits, chunk)
    if any(v is not None for v in values):
        fast = _encode_numbered(chunks_of(values))
        codes, dictionary, _ = fast
        want_codes, want_dictionary = reference_encoding(values)
        assert codes.tolist() == want_codes and dictionary.to_pylist() == want_dictionary


@pytest.mark.parametrize("values, codes", [
    (["SP01", "SP02", "SP03", "SP02", "SP01"], [0, 1, 2, 1, 0]),      # no number missing
    (["SP01", "SP05", "SP09", "SP09", "SP01"], [0, 1, 2, 2, 0]),      # gaps: codes by rank
    (["SP01", "SP05", "SP09", "SP07", "SP05"], [0, 1, 2, 3, 1]),      # a new id later
    (["SP01", "SP05", "SP05", "SP09", "SP01"], [0, 1, 1, 2, 0]),      # a repeat in the first rows
    (["SP05", "SP01", "SP09", "SP01"], [0, 1, 2, 1]),                 # not ascending
    (["SP09", "SP01", "SP05", "SP02", "SP05"], [0, 1, 2, 3, 2]),      # a new id, unsorted
    (["SP09", "SP01", "SP01", "SP05", "SP09"], [0, 1, 1, 2, 0]),      # unsorted, a repeat
])
def test_ids_sorted_first_near_misses(values, codes):
    got, dictionary, _ = _encode_numbered(chunks_of(values))
    assert got.tolist() == codes
    assert dictionary.to_pylist() == list(dict.fromkeys(values))


def test_first_appearance_order_when_files_are_not_sorted():
    values = ["SP09", "SP02", "SP09", "SP05", "SP02", "SP01"]
    codes, dictionary, clean = _encode_text([pa.array(values[:3]), pa.array(values[3:])])
    assert codes.tolist() == [0, 1, 0, 2, 1, 3] and clean
    assert dictionary.to_pylist() == ["SP09", "SP02", "SP05", "SP01"]


def reference_text(values: list) -> list:
    trimmed = pc.utf8_trim_whitespace(pa.array(values, type=pa.string())).to_pylist()
    return [None if v is None or v == "" else v for v in trimmed]


@settings(max_examples=200, deadline=None)
@given(texty)
def test_text_is_trimmed_with_blanks_missing(values):
    out = _text(pd.Series(values, dtype="str"))
    assert str(out.dtype) == "str"
    assert [None if pd.isna(v) else v for v in out] == reference_text(values)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=6)), min_size=1, max_size=30))
def test_clean_screen_never_passes_text_that_trimming_would_change(values):
    arr = pa.array(values, type=pa.large_string())
    if _trimmed_no_blank(arr):
        assert reference_text(values) == values


def test_clean_screen_on_sliced_and_chunked_arrays():
    arr = pa.array(["  x", "ab", "cd", "e "], type=pa.large_string())
    assert _trimmed_no_blank(arr.slice(1, 2))
    assert not _trimmed_no_blank(arr.slice(2, 2))
    assert _trimmed_no_blank(pa.chunked_array([arr.slice(1, 1), arr.slice(2, 1)]))
    assert not _trimmed_no_blank(pa.array(["a", "", None]))
    assert _trimmed_no_blank(pa.array(["a", None, "b"]))


def test_a_clean_text_column_is_kept_without_a_copy():
    series = pd.Series(["Male", "Female", None], dtype="str")
    assert _text(series).array._pa_array is series.array._pa_array
    untrimmed = pd.Series([" Male", "Female", None], dtype="str")
    assert _text(untrimmed).array._pa_array is not untrimmed.array._pa_array


@settings(max_examples=100, deadline=None)
@given(st.one_of(numbered, texty.filter(lambda v: None not in v)))
def test_scoring_codes_equal_pandas_factorize(values):
    from spanalysis.instruments.scoring import _codes

    series = pd.Series(values, dtype="str", name="participant_id")
    if "" in values:  # factorize keeps '' as a value; so must the scoring
        assert _codes(series)[1].tolist() == list(dict.fromkeys(values))
    codes, categories = _codes(series)
    want_codes, want_uniques = pd.factorize(series, sort=False)
    assert codes.tolist() == want_codes.tolist()
    assert categories.tolist() == list(want_uniques) and str(categories.dtype) == "str"


@pytest.mark.parametrize("bad_at", [None, 5, 40_000, 99_990])
def test_byte_screen_reads_every_block_of_a_long_column(bad_at):
    """The byte screen of the fast path runs over blocks of rows: a value that breaks the
    shape anywhere (first block, a later block, the last rows) sends the column to the
    hashing path, and a clean column is encoded as pandas.factorize does."""
    values = [f"SP{(i * 7919) % 100_000:06d}" for i in range(100_000)]
    if bad_at is not None:
        values[bad_at] = values[bad_at][:4] + "X" + values[bad_at][5:]
    fast = _encode_numbered(chunks_of(values))
    if bad_at is not None:
        assert fast is None
        return
    codes, dictionary, _ = fast
    want_codes, want_uniques = pd.factorize(pd.Series(values))
    assert codes.tolist() == want_codes.tolist()
    assert dictionary.to_pylist() == list(want_uniques)


# -- duplicate keys (participant id, then time point or service and period) ------------------

def reference_duplicated(codes, more) -> list[bool]:
    """Rows with an id whose whole key occurs more than once, by pandas."""
    frame = pd.DataFrame({"id": codes, **{f"k{i}": m for i, m in enumerate(more)}})
    return (frame.duplicated(keep=False) & (frame["id"] >= 0)).tolist()


def any_ids() -> _Ids:
    return _Ids([pd.Series(["SP1"])], ["participants"])  # duplicated() needs no ids of its own


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 40).flatmap(lambda n: st.tuples(
    st.lists(st.integers(-1, 6), min_size=n, max_size=n),
    st.lists(st.lists(st.integers(-1, 3), min_size=n, max_size=n), max_size=2))),
    st.booleans())
def test_duplicate_keys_flagged_as_pandas_flags_them(data, sort):
    """Sorted rows take the fast path (keys that strictly increase cannot repeat) unless a
    key repeats or an id is blank; any rows give what pandas.DataFrame.duplicated gives."""
    codes, more = data
    codes = np.array(codes, dtype=np.int64)
    more = [np.array(m, dtype=np.int64) for m in more]
    if sort:
        order = np.lexsort([*reversed(more), codes])  # by id, then each further code
        codes, more = codes[order], [m[order] for m in more]
    got = any_ids().duplicated(codes, *more)
    assert got.tolist() == reference_duplicated(codes, more)


@pytest.mark.parametrize("case", ["sorted", "repeat_across_blocks", "repeat_in_block",
                                  "fall_across_blocks", "blank"])
def test_increasing_key_screen_reads_every_block(case):
    """The screen runs over blocks of 65,536 rows: a repeated key at a block boundary or
    inside a later block, a key that falls at a boundary (no repeat), and a blank id are
    all seen; each answer equals pandas'."""
    n = 200_000
    codes = np.arange(n, dtype=np.int64) // 2 * 2  # two rows per participant, even codes
    period = np.arange(n, dtype=np.int64) % 2      # before, after
    if case == "repeat_across_blocks":
        codes[65_536], period[65_536] = codes[65_535], period[65_535]
    elif case == "repeat_in_block":
        period[150_001] = period[150_000]
    elif case == "fall_across_blocks":
        codes[65_536] = 1   # smaller than the row before, and no other row has it
    elif case == "blank":
        codes[131_072] = -1
    increasing = _keys_increase(codes, (period,), [int(period.max()) + 2])
    assert increasing == (case == "sorted")
    got = any_ids().duplicated(codes, period)
    assert got.tolist() == reference_duplicated(codes, [period])
    assert got.any() == case.startswith("repeat")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.text(max_size=3), max_size=5), max_size=5), st.data())
def test_take_rows_gives_arrows_take(chunk_values, data):
    """Rows taken chunk by chunk equal Arrow's own take, in any chunking, for increasing
    rows (the fast way) and for any other order (Arrow's way)."""
    arr = pa.chunked_array([pa.array(v, type=pa.large_string()) for v in chunk_values],
                           type=pa.large_string())
    rows = data.draw(st.lists(st.integers(0, max(len(arr) - 1, 0)), max_size=8)
                     if len(arr) else st.just([]))
    increasing = sorted(set(rows))
    for wanted in (increasing, rows):
        got = take_rows(arr, np.array(wanted, dtype=np.int64))
        assert got.to_pylist() == arr.take(pa.array(wanted, type=pa.int64())).to_pylist()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["a", " b", "c ", "", "d"])), max_size=20),
       st.permutations(["a", "b", "c", "x"]), st.integers(0, 4))
def test_positions_of_coded_text(values, order, keep):
    """Each row's position in a list of declared values (-1: blank or not declared), as a
    dict lookup of the trimmed text gives it, whether or not the distinct values happen to
    be in the declared order (then the codes themselves are the positions)."""
    declared = order[:keep]
    series = pd.Series(pd.array(values, dtype="str"))
    coded = _Coded(series)
    want = [-1 if v is None or v.strip() == "" or v.strip() not in declared
            else declared.index(v.strip()) for v in values]
    assert coded.positions(declared).tolist() == want
    in_order = [v for v in dict.fromkeys(x.strip() for x in values if x and x.strip())]
    assert coded.positions(in_order).tolist() == [
        -1 if v is None or v.strip() == "" else in_order.index(v.strip()) for v in values]
