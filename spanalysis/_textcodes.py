"""Fast, exact encodings of Arrow text columns, shared by the loader and the scoring.

Both functions read Arrow's buffers directly (offsets and bytes) and either give exactly
the answer of the general path or decline, so callers always have a general path to fall
back on; ``tests/test_text_encoding.py`` checks them against plain references.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

#: pandas' default text dtype (``str``)
STR = pd.api.types.pandas_dtype("str")


def string_buffers(chunk) -> tuple[np.ndarray, np.ndarray] | None:
    """The value offsets (``len(chunk) + 1`` of them, slice offset applied) and the bytes of
    an Arrow ``string`` or ``large_string`` array, as numpy views (no copy); None for any
    other type."""
    import pyarrow as pa

    if chunk.type == pa.large_string():
        width = np.int64
    elif chunk.type == pa.string():
        width = np.int32
    else:
        return None
    _, offsets, data = chunk.buffers()
    offsets = np.frombuffer(offsets, dtype=width)[chunk.offset: chunk.offset + len(chunk) + 1]
    return offsets, (np.frombuffer(data, dtype=np.uint8) if data else np.empty(0, np.uint8))


def trimmed_no_blank(arr) -> bool:
    """A cheap, conservative screen: True only if no value of the Arrow (large) string array
    could be changed by trimming or is blank, judged from the buffers without copying text.

    Every present value must be non-empty and start and end with a printable ASCII byte
    (not white space). A value starting or ending with any other byte (a control or
    non-ASCII character, which might be Unicode white space) fails the screen, and the
    column is then trimmed exactly."""
    import pyarrow as pa

    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    for c in chunks:
        if not len(c):
            continue
        buffers = string_buffers(c)
        if buffers is None:
            return False
        offsets, data = buffers
        start, end = offsets[:-1], offsets[1:]
        if c.null_count:
            valid = c.is_valid().to_numpy(zero_copy_only=False)
            start, end = start[valid], end[valid]
        if not len(start):
            continue
        if not (end > start).all():
            return False  # a blank value
        edges = np.concatenate([data[start], data[end - 1]])
        if not ((edges > 0x20) & (edges < 0x7F)).all():
            return False
    return True


_MAX_DIGITS = 18   # digits that always fit an int64
_TILE = 64         # ids per row of the tiled byte check in encode_numbered
_BLOCK = 1 << 15   # ids per block when the numbers are read


def encode_numbered(chunks: list) -> tuple[np.ndarray, "pa.Array", bool] | None:
    """Dictionary-encode Arrow ``large_string`` chunks jointly, without hashing text, when
    every value is digits and fixed characters in fixed places: the usual shape of a study
    identifier (``SP0000123``) and of an ISO date (``2025-03-31``).

    Returns ``(codes, dictionary, True)`` exactly as the loader's hashing path
    (``study._encode_text``) and ``pandas.factorize`` give them: int64 codes in order of
    first appearance (-1 for a missing value), and the distinct values in that order. Each
    id is read as its number straight from the Arrow buffers, and the numbers are encoded by
    direct addressing: a few sequential passes instead of a hash lookup per value (a cache
    miss, with a million distinct ids). Missing values (a blank cell, such as a
    questionnaire date not yet known) are allowed. Returns None (use the hashing path) for
    anything else: empty text, values of different lengths, fixed characters that vary, a
    value that starts or ends with a space or a non-ASCII byte, or numbers spread too
    thinly.
    """
    import pyarrow as pa

    total = sum(len(c) for c in chunks)
    if not total or any(c.type != pa.large_string() for c in chunks):
        return None
    width, views, valid_parts = None, [], []
    for c in chunks:
        if not len(c):
            continue
        offsets, data = string_buffers(c)
        lengths = np.diff(offsets)
        present = len(c)
        if c.null_count:  # a missing value must take no bytes (as Arrow writes them)
            valid = c.is_valid().to_numpy(zero_copy_only=False)
            if lengths[~valid].any():
                return None
            present = len(c) - c.null_count
            if not present:
                valid_parts.append(valid)
                continue
            lengths = lengths[valid]
        valid_parts.append(None if present == len(c) else valid)
        first, last = int(offsets[0]), int(offsets[-1])
        w, rest = divmod(last - first, present)
        if rest or w == 0 or (width is not None and w != width):
            return None
        width = w
        if not (lengths == w).all():
            return None
        views.append(data[first:last].reshape(-1, w))
    if width is None:
        return None  # nothing but missing values
    total_present = sum(len(v) for v in views)
    # The layout is read from the first value: the places that hold a digit (the last 18
    # at most, so that numbers fit an int64) and the fixed characters between them (a
    # prefix such as SP, or the dashes of a date). Every value must then have exactly those
    # characters and digits in the same places, checked byte by byte (the bytes minus the
    # lowest allowed value, as unsigned bytes, must not exceed the allowed spread).
    reference = views[0][0].copy()
    digit = (reference >= 48) & (reference <= 57)
    places = np.flatnonzero(digit)[-_MAX_DIGITS:]
    k = len(places)
    ends = reference[[0, width - 1]]
    if k == 0 or not ((ends > 0x20) & (ends < 0x7F)).all():
        return None  # no digits, or a value that may start or end with (Unicode) space
    low_byte = reference.copy()
    low_byte[places] = 48
    spread = np.zeros(width, dtype=np.uint8)
    spread[places] = 9
    tiled_low, tiled_spread = np.tile(low_byte, _TILE), np.tile(spread, _TILE)
    # a block of rows at a time, into two reused buffers (no temporaries the size of the
    # column: fresh memory is slow to touch)
    step = max(1, _BLOCK // _TILE)
    diff = np.empty((step, _TILE * width), dtype=np.uint8)
    over = np.empty((step, _TILE * width), dtype=bool)
    for v in views:
        whole = len(v) // _TILE * _TILE
        rows = v[:whole].reshape(-1, _TILE * width)
        for a in range(0, len(rows), step):
            part = rows[a:a + step]
            d, o = diff[:len(part)], over[:len(part)]
            np.subtract(part, tiled_low, out=d)
            if np.greater(d, tiled_spread, out=o).any():
                return None
        if ((v[whole:] - low_byte) > spread).any():
            return None
    # The numbers: ten times the number so far plus the next digit byte, place by place;
    # the bytes' offset from 0 (48 in each place) is taken off once at the end.
    number = np.empty(total_present, dtype=np.int64)
    at = 0
    for v in views:
        for a in range(0, len(v), _BLOCK):  # blocks that stay in cache across the passes
            part = v[a: a + _BLOCK]
            out = number[at: at + len(part)]
            out[:] = part[:, places[0]]
            for j in places[1:]:
                out *= 10
                out += part[:, j]
            at += len(part)
    number -= 48 * int("1" * k)
    low, high = int(number.min()), int(number.max())
    span = high - low + 1
    if span > 8 * total_present + (1 << 20):
        return None  # numbers spread too thinly for a direct-address table
    number -= low
    present = np.zeros(span, dtype=bool)
    present[number] = True
    distinct = np.flatnonzero(present)  # ascending
    head = number[:len(distinct)]
    if np.array_equal(head, distinct):
        # The first rows hold every distinct number once, in ascending order (a participants
        # file sorted by id, encoded before the files that repeat its ids): that is the
        # order of first appearance, and a number's code is its rank (the number itself
        # when none is missing from the span).
        order = np.arange(len(distinct), dtype=np.int64)
        if len(distinct) == span:
            codes = number
        else:
            code_of = np.empty(span, dtype=np.int64)
            code_of[distinct] = order
            codes = code_of[number]
    elif all_different(head, span):
        # The first rows hold every distinct number once, in another order (a participants
        # file not sorted by id): a number's code is the row of its first appearance.
        order = np.arange(len(distinct), dtype=np.int64)
        code_of = np.empty(span, dtype=np.int64)
        code_of[head] = order
        codes = code_of[number]
    else:
        order = first_rows(number, span, present)[distinct]
        if len(order) > 1 and not (order[1:] > order[:-1]).all():
            sort = np.argsort(order, kind="stable")
            distinct, order = distinct[sort], order[sort]
        code_of = np.empty(span, dtype=np.int64)
        code_of[distinct] = np.arange(len(distinct), dtype=np.int64)
        codes = code_of[number]
    every = pa.chunked_array(chunks, type=pa.large_string())
    if any(v is not None for v in valid_parts):  # back to every row: missing ones get -1
        valid = np.concatenate([np.ones(len(c), dtype=bool) if v is None else v
                                for c, v in zip([c for c in chunks if len(c)], valid_parts)])
        rows = np.flatnonzero(valid)
        every_codes = np.full(total, -1, dtype=np.int64)
        every_codes[rows] = codes
        codes, order = every_codes, rows[order]
    if order[-1] == len(order) - 1:  # the first rows are the distinct ids, in order
        dictionary = every.slice(0, len(order)).combine_chunks()
    else:
        dictionary = take_rows(every, order)
    return codes, dictionary, True


_HEAD = 1 << 16   # rows in which first_rows looks for each code first


def first_rows(codes: np.ndarray, k: int, present: np.ndarray | None = None) -> np.ndarray:
    """The first row of each code 0..k-1 of ``codes`` (``len(codes)`` for a code that does
    not occur; ``present``, if given, marks the codes that occur). A column with few
    distinct codes (services, periods, dates) shows them all within its first rows, and the
    rest need not be read; a code not among them is searched for on its own, and with many
    such codes np.minimum.at goes over every row (it keeps the earliest row whatever order
    numpy assigns repeated indices in, which plain fancy assignment does not promise)."""
    n = len(codes)
    first = np.full(k, n, dtype=np.int64)
    head = codes[:_HEAD]
    np.minimum.at(first, head, np.arange(len(head), dtype=np.int64))
    missing = first == n
    if present is not None:
        missing &= present
    unseen = np.flatnonzero(missing)
    if len(unseen) > 8:
        np.minimum.at(first, codes, np.arange(n, dtype=np.int64))
    else:
        for c in unseen:
            hit = codes == c
            if hit.any():
                first[c] = int(np.argmax(hit))
    return first


def all_different(values: np.ndarray, span: int) -> bool:
    """Whether ``values`` (integers in ``[0, span)``) are all different: a one-byte mark per
    possible value, in linear time (duplicates are rare; counting needs eight bytes)."""
    seen = np.zeros(span, dtype=bool)
    seen[values] = True
    return int(np.count_nonzero(seen)) == len(values)


def take_rows(arr, rows: np.ndarray):
    """Rows ``rows`` (in increasing order) of the Arrow chunked array ``arr``, as one array.

    Each chunk gives its own rows. Arrow's ``take`` on a chunked array joins every chunk
    into one array first: for a few hundred distinct dates of a 1.7 million row column,
    that is a copy of the whole column."""
    import pyarrow as pa

    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) > 1 and not (rows[1:] > rows[:-1]).all():
        return arr.take(pa.array(rows)).combine_chunks()
    bounds = np.cumsum([0] + [len(c) for c in arr.chunks])
    where = np.searchsorted(rows, bounds)  # rows[where[k]:where[k + 1]] fall in chunk k
    parts = [chunk.take(pa.array(rows[a:b] - start))
             for chunk, start, a, b in zip(arr.chunks, bounds, where[:-1], where[1:]) if b > a]
    return pa.concat_arrays(parts) if parts else pa.array([], type=arr.type)
