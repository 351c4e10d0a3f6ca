"""TensorBoard event files (`events.out.tfevents.*`) read without TensorBoard
(docs/artifacts.md#stats-log).

An event file is a sequence of TFRecords (length, CRC of the length, an `Event` protocol
buffer, CRC of the data). Only scalars are wanted, so this reads the few protobuf fields
that carry them, from the wire format directly: `Event.step` (2), `Event.summary` (5),
`Summary.value` (1), `Value.tag` (1), `Value.simple_value` (2, what torch's SummaryWriter
writes) and `Value.tensor` (8, a one-element tensor: what TF2 and the `tensorboard`
package write). Images, histograms and graphs are skipped unparsed, large records by
seeking past them, so memory stays bounded whatever the file holds.

The length's CRC32C is verified (a damaged or foreign file is refused instead of making
the reader seek to a nonsense offset); a record cut off at the end of the file is a run
still writing, ignored and reported. Each step's scalars are one row with that step: the
RowCollector files them under the `epoch` scalar logged at or before the step (Lightning
logs `epoch`, HF `train/epoch`), else under the step, shown as a step (a plain
`writer.add_scalar(tag, value, n)` does not say whether n counts epochs or steps).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from tui_timing.artifacts.log_lines import open_log
from tui_timing.artifacts.stats_rows import RowCollector
from tui_timing.errors import ArtifactError

#: Records larger than this hold images, graphs or histograms: skipped without reading.
MAX_SCALAR_RECORD = 1 << 20
_HEADER = struct.Struct("<QI")
# TensorProto dtypes of one-element numeric tensors: (byte size, struct code).
_DTYPES = {1: (4, "<f"), 2: (8, "<d"), 3: (4, "<i"), 9: (8, "<q"), 19: (2, "<e")}


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc32c_table()


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC32C (Castagnoli) of a few bytes (the record's length)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def is_event_file(path: Path) -> bool:
    """TensorBoard names its event files `events.out.tfevents.<time>.<host>...`."""
    return path.name.startswith("events.out.tfevents")


def read_events(paths: list[Path], rows: RowCollector) -> str | None:
    """Feed the scalars of each event file to `rows`, one row per step; return why a last
    record was ignored."""
    ignored = None
    for path in paths:
        events = EventReader(path)
        group: dict[str, float] = {}
        group_step: int | None = None
        where = path.name
        for step, tag, value, at in events:
            if step != group_step and group:
                rows.add(where, group, step=group_step)
                group = {}
            group_step, where = step, at
            group.setdefault(tag, value)
        if group:
            rows.add(where, group, step=group_step)
        ignored = events.incomplete or ignored
    return ignored


class EventReader:
    """Iterates (step, tag, value, where) over the scalars of one event file, in file order,
    with the wall time of each step's first event as its `time`; `incomplete` says why the
    last record was not read (a run still writing), if so."""

    def __init__(self, path: Path) -> None:
        open_log(path)
        self.path = path
        self.incomplete: str | None = None

    def __iter__(self) -> Iterator[tuple[int, str, float, str]]:
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            raise ArtifactError(str(self.path), None, f"cannot be read ({exc.strerror})") from None
        with handle:
            yield from self._records(handle)

    def _cut_off(self, where: str) -> None:
        self.incomplete = f"{self.path.name}: {where} is cut off (a run still writing?)"

    def _records(self, handle: BinaryIO) -> Iterator[tuple[int, str, float, str]]:
        size = self.path.stat().st_size
        number = 0
        while True:
            offset = handle.tell()
            header = handle.read(_HEADER.size)
            if not header:
                return
            number += 1
            where = f"{self.path.name} record {number}"
            if len(header) < _HEADER.size:
                return self._cut_off(where)
            length, crc = _HEADER.unpack(header)
            if masked_crc32c(header[:8]) != crc:
                raise ArtifactError(
                    str(self.path),
                    f"record {number}",
                    f"damaged at byte {offset}: the record length fails its CRC (not a "
                    "TensorBoard event file, or a corrupted one)",
                )
            if length > MAX_SCALAR_RECORD:  # an image or a graph: not read
                if handle.seek(length + 4, 1) > size:
                    return self._cut_off(where)
                continue
            data = handle.read(length)
            if len(data) < length or len(handle.read(4)) < 4:
                return self._cut_off(where)
            try:
                yield from _event_scalars(data, where)
            except (IndexError, ValueError, struct.error, UnicodeDecodeError):
                raise ArtifactError(
                    str(self.path),
                    f"record {number}",
                    "not a readable TensorBoard event (malformed protobuf)",
                ) from None


def _event_scalars(data: bytes, where: str) -> Iterator[tuple[int, str, float, str]]:
    step = 0
    wall_time = None
    summaries: list[bytes] = []
    for number, value in _fields(data):
        if number == 1 and isinstance(value, bytes) and len(value) == 8:
            wall_time = struct.unpack("<d", value)[0]
        elif number == 2 and isinstance(value, int):
            step = value - (1 << 64) if value >= 1 << 63 else value
        elif number == 5 and isinstance(value, bytes):
            summaries.append(value)
    if summaries and wall_time is not None:
        yield step, "time", wall_time, where
    for summary in summaries:
        for number, value in _fields(summary):
            if number == 1 and isinstance(value, bytes):
                found = _scalar_value(value)
                if found is not None:
                    yield step, found[0], found[1], where


def _scalar_value(data: bytes) -> tuple[str, float] | None:
    tag = None
    scalar = None
    for number, value in _fields(data):
        if number == 1 and isinstance(value, bytes):
            tag = value.decode("utf-8")
        elif number == 2 and isinstance(value, bytes) and len(value) == 4:
            scalar = struct.unpack("<f", value)[0]
        elif number == 8 and isinstance(value, bytes):
            scalar = _tensor_scalar(value)
    if tag is None or scalar is None:
        return None
    return tag, float(scalar)


def _tensor_scalar(data: bytes) -> float | None:
    """The value of a one-element numeric TensorProto, or None for anything else."""
    dtype = 0
    dims = 0
    content = b""
    repeated: list[float] = []
    for number, value in _fields(data):
        if number == 1 and isinstance(value, int):
            dtype = value
        elif number == 2 and isinstance(value, bytes):
            dims = sum(1 for n, dim in _fields(value) if n == 2 and _dim_size(dim) != 1)
        elif number == 4 and isinstance(value, bytes):
            content = value
        elif number in (5, 6) and isinstance(value, bytes):  # one value, or a packed run
            repeated.extend(v for (v,) in struct.iter_unpack("<f" if number == 5 else "<d", value))
        elif number in (7, 10, 13) and isinstance(value, int):
            repeated.append(_half(value) if number == 13 else value)
        elif number in (7, 10, 13) and isinstance(value, bytes):
            packed = [v for _, v in _varints(value)]
            repeated.extend(_half(v) if number == 13 else v for v in packed)
    if dtype not in _DTYPES or dims:
        return None
    size, code = _DTYPES[dtype]
    if content:
        return struct.unpack(code, content)[0] if len(content) == size else None
    return float(repeated[0]) if len(repeated) == 1 else None


def _dim_size(dim: object) -> int:
    if not isinstance(dim, bytes):
        return 1
    return next((int(v) for n, v in _fields(dim) if n == 1 and isinstance(v, int)), 1)


def _half(bits: int) -> float:
    value: float = struct.unpack("<e", struct.pack("<H", bits & 0xFFFF))[0]
    return value


def _varints(data: bytes) -> Iterator[tuple[int, int]]:
    """(end offset, value) of each varint packed in `data`."""
    position = 0
    while position < len(data):
        value, position = _varint(data, position)
        yield position, value


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value = 0
    shift = 0
    while True:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of each field of a protobuf message: ints for varints, bytes
    for length-delimited and fixed-width fields."""
    position = 0
    end = len(data)
    while position < end:
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _varint(data, position)
            yield number, value
        elif wire == 1:
            yield number, data[position : position + 8]
            position += 8
        elif wire == 2:
            size, position = _varint(data, position)
            if position + size > end:
                raise ValueError("field past the end of its message")
            yield number, data[position : position + size]
            position += size
        elif wire == 5:
            yield number, data[position : position + 4]
            position += 4
        else:
            raise ValueError(f"wire type {wire}")
        if position > end:
            raise ValueError("field past the end of its message")
