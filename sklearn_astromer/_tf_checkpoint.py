"""Reader of TensorFlow 2 checkpoints (tensor bundles) without TensorFlow.

A checkpoint written by ``tf.train.Checkpoint`` / ``Model.save_weights`` in the
TensorFlow format is a *tensor bundle*:

- ``PREFIX.index`` is a table in the LevelDB SSTable format (uncompressed
  blocks, prefix-compressed keys, a 48-byte footer). Its values are protobuf
  messages: the entry with the empty key is a ``BundleHeaderProto`` and every
  other key (the variable's name) maps to a ``BundleEntryProto`` giving the
  tensor's dtype, shape, shard, byte offset, byte size and masked CRC32C.
- ``PREFIX.data-SSSSS-of-NNNNN`` are the shards holding the raw little-endian
  tensor bytes at those offsets.

Only the handful of protobuf fields needed to locate numeric tensors is
decoded here, with a small varint reader; everything else is skipped by wire
type, as any protobuf parser does for unknown fields. The format is described
in TensorFlow's ``tensorflow/core/util/tensor_bundle/tensor_bundle.proto`` and
LevelDB's ``doc/table_format.md``.

Checksums (the tables' block trailers and each tensor's masked CRC32C) are
verified by default with ``google-crc32c``, a dependency of the package; the
structural checks (footer magic, block bounds, tensor byte sizes) always run.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import google_crc32c
import numpy as np

from ._io import integrity_error

__all__ = [
    "BundleEntry",
    "parse_index",
    "read_checkpoint",
    "read_bundle",
    "read_tensors",
]

# LevelDB's table magic number, stored little-endian in the last 8 bytes.
_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48
# Each block is followed by one compression-type byte and a masked CRC32C.
_BLOCK_TRAILER_SIZE = 5
_NO_COMPRESSION = 0
_CRC_MASK_DELTA = 0xA282EAD8

# TensorFlow ``DataType`` enum values (types.proto) of the numeric dtypes a
# bundle stores as raw little-endian arrays. Strings, variants and resources
# are serialised differently and are never model weights.
_TF_DTYPES = {
    1: np.dtype("<f4"),  # DT_FLOAT
    2: np.dtype("<f8"),  # DT_DOUBLE
    3: np.dtype("<i4"),  # DT_INT32
    4: np.dtype("u1"),  # DT_UINT8
    5: np.dtype("<i2"),  # DT_INT16
    6: np.dtype("i1"),  # DT_INT8
    8: np.dtype("<c8"),  # DT_COMPLEX64
    9: np.dtype("<i8"),  # DT_INT64
    10: np.dtype("?"),  # DT_BOOL
    17: np.dtype("<u2"),  # DT_UINT16
    18: np.dtype("<c16"),  # DT_COMPLEX128
    19: np.dtype("<f2"),  # DT_HALF
    22: np.dtype("<u4"),  # DT_UINT32
    23: np.dtype("<u8"),  # DT_UINT64
}
_DT_STRING = 7

# Entries that are bookkeeping rather than model weights: the serialised
# object graph, the optimizer's slots (Adam moments) and its step counter,
# and the checkpoint's own save counter.
_BOOKKEEPING_MARKERS = (".OPTIMIZER_SLOT", "optimizer/", "save_counter/")
_OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


@dataclass(frozen=True)
class BundleEntry:
    """Location and type of one tensor in a checkpoint bundle.

    Attributes
    ----------
    dtype : int
        TensorFlow ``DataType`` enum value (1 is ``DT_FLOAT``).
    shape : tuple of int
        Tensor shape.
    shard_id : int
        Index of the ``.data`` shard holding the bytes.
    offset : int
        Byte offset of the tensor in its shard.
    size : int
        Byte size of the tensor in its shard.
    crc32c : int or None
        Masked CRC32C of the tensor bytes, as TensorFlow stores it.
    sliced : bool
        Whether the tensor is stored as slices of a partitioned variable
        (not supported by :func:`read_tensors`).
    """

    dtype: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int | None
    sliced: bool = False


# --------------------------------------------------------------------------
# CRC32C
# --------------------------------------------------------------------------


def _masked(crc: int) -> int:
    # LevelDB and TensorFlow store "masked" CRCs (rotated right by 15 bits
    # plus a constant) so that a CRC of data containing CRCs stays robust.
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _CRC_MASK_DELTA) & 0xFFFFFFFF


def _checker(verify: bool):
    """Return the CRC32C function to verify with, or None to skip checks."""
    return google_crc32c.value if verify else None


# --------------------------------------------------------------------------
# Protobuf and LevelDB primitives
# --------------------------------------------------------------------------


def _varint(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    """Decode one base-128 varint at ``pos``; return ``(value, next_pos)``."""
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint in checkpoint index")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("malformed varint in checkpoint index")


def _signed64(value: int) -> int:
    # Protobuf encodes negative int32/int64 as 64-bit two's complement.
    return value - (1 << 64) if value >= 1 << 63 else value


def _fields(buf: bytes | memoryview) -> Iterator[tuple[int, int, object]]:
    """Yield ``(field_number, wire_type, value)`` for a protobuf message.

    Varints are returned as unsigned ints, fixed-width fields as ints and
    length-delimited fields as ``bytes``.
    """
    pos = 0
    end = len(buf)
    while pos < end:
        tag, pos = _varint(buf, pos)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == 0:  # varint
            value, pos = _varint(buf, pos)
        elif wire_type == 1:  # fixed 64-bit
            (value,) = struct.unpack_from("<Q", buf, pos)
            pos += 8
        elif wire_type == 2:  # length-delimited
            length, pos = _varint(buf, pos)
            value = bytes(buf[pos : pos + length])
            pos += length
        elif wire_type == 5:  # fixed 32-bit
            (value,) = struct.unpack_from("<I", buf, pos)
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type}")
        if pos > end:
            raise ValueError("truncated protobuf message in checkpoint index")
        yield number, wire_type, value


def _parse_shape(buf: bytes) -> tuple[int, ...]:
    """Decode a ``TensorShapeProto``: repeated ``Dim dim = 2`` (``size = 1``)."""
    dims = []
    for number, _, value in _fields(buf):
        if number == 2:
            size = 0
            for dim_number, _, dim_value in _fields(value):
                if dim_number == 1:
                    size = _signed64(dim_value)
            dims.append(size)
        elif number == 3 and value:
            raise ValueError("checkpoint tensor has an unknown rank")
    return tuple(dims)


def _parse_entry(buf: bytes) -> BundleEntry:
    """Decode a ``BundleEntryProto``."""
    dtype, shape, shard_id, offset, size, crc, sliced = 0, (), 0, 0, 0, None, False
    for number, _, value in _fields(buf):
        if number == 1:
            dtype = value
        elif number == 2:
            shape = _parse_shape(value)
        elif number == 3:
            shard_id = value
        elif number == 4:
            offset = value
        elif number == 5:
            size = value
        elif number == 6:
            crc = value
        elif number == 7:
            sliced = True
    return BundleEntry(dtype, shape, shard_id, offset, size, crc, sliced)


def _parse_header(buf: bytes) -> tuple[int, int]:
    """Decode a ``BundleHeaderProto``; return ``(num_shards, endianness)``."""
    num_shards, endianness = 1, 0
    for number, _, value in _fields(buf):
        if number == 1:
            num_shards = value
        elif number == 2:
            endianness = value
    return num_shards, endianness


def _block(table: bytes, handle: tuple[int, int], crc) -> memoryview:
    """Return the contents of the table block at ``handle = (offset, size)``."""
    offset, size = handle
    end = offset + size
    if end + _BLOCK_TRAILER_SIZE > len(table):
        raise ValueError("checkpoint index block lies outside the file")
    kind = table[end]
    if kind != _NO_COMPRESSION:
        raise ValueError(
            f"checkpoint index block is compressed (type {kind}); "
            "TensorFlow writes bundle indexes uncompressed"
        )
    if crc is not None:
        (stored,) = struct.unpack_from("<I", table, end + 1)
        if _masked(crc(table[offset : end + 1])) != stored:
            raise ValueError("checkpoint index block fails its CRC32C check")
    return memoryview(table)[offset:end]


def _block_items(block: memoryview) -> Iterator[tuple[bytes, memoryview]]:
    """Yield ``(key, value)`` from a block of prefix-compressed entries."""
    if len(block) < 4:
        raise ValueError("checkpoint index block is too short")
    (num_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    # The restart array is only a seek aid: a full scan ignores it.
    limit = len(block) - 4 - 4 * num_restarts
    if limit < 0:
        raise ValueError("checkpoint index block has a malformed restart array")
    key = b""
    pos = 0
    while pos < limit:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_length, pos = _varint(block, pos)
        if shared > len(key) or pos + unshared + value_length > limit:
            raise ValueError("checkpoint index block has a malformed entry")
        key = key[:shared] + bytes(block[pos : pos + unshared])
        pos += unshared
        yield key, block[pos : pos + value_length]
        pos += value_length


def _table_items(table: bytes, crc) -> Iterator[tuple[bytes, memoryview]]:
    """Yield every ``(key, value)`` of a LevelDB-format table, in key order."""
    if len(table) < _FOOTER_SIZE:
        raise ValueError("checkpoint index is too short to be a table")
    footer = memoryview(table)[len(table) - _FOOTER_SIZE :]
    (magic,) = struct.unpack_from("<Q", footer, _FOOTER_SIZE - 8)
    if magic != _TABLE_MAGIC:
        raise ValueError("not a TensorFlow checkpoint index (bad table magic)")
    pos = 0
    _, pos = _varint(footer, pos)  # metaindex offset (no meta blocks used)
    _, pos = _varint(footer, pos)  # metaindex size
    index_offset, pos = _varint(footer, pos)
    index_size, pos = _varint(footer, pos)
    # The index block maps a separator key to each data block's handle.
    for _, handle in _block_items(_block(table, (index_offset, index_size), crc)):
        block_offset, hpos = _varint(handle, 0)
        block_size, _ = _varint(handle, hpos)
        yield from _block_items(_block(table, (block_offset, block_size), crc))


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def parse_index(
    index: bytes, *, verify: bool = True
) -> tuple[int, dict[str, BundleEntry]]:
    """Parse the ``.index`` file of a tensor bundle.

    Parameters
    ----------
    index : bytes
        Contents of the ``PREFIX.index`` file.
    verify : bool, default=True
        Verify the table blocks' CRC32C. False skips the check (to inspect a
        damaged file).

    Returns
    -------
    num_shards : int
        Number of ``.data`` shards of the bundle.
    entries : dict of str to BundleEntry
        Every entry of the bundle by name, bookkeeping entries included.

    Raises
    ------
    ValueError
        If the bytes are not a well-formed, little-endian tensor bundle index.
    """
    crc = _checker(verify)
    num_shards = None
    entries = {}
    for key, value in _table_items(bytes(index), crc):
        if key == b"":
            num_shards, endianness = _parse_header(value)
            if endianness != 0:
                raise ValueError("big-endian checkpoints are not supported")
        else:
            entries[key.decode("utf-8")] = _parse_entry(value)
    if num_shards is None:
        raise ValueError("checkpoint index has no bundle header")
    return num_shards, entries


def _is_bookkeeping(name: str) -> bool:
    return name == _OBJECT_GRAPH_KEY or any(m in name for m in _BOOKKEEPING_MARKERS)


def read_tensors(
    entries: Mapping[str, BundleEntry],
    shards: Mapping[int, bytes],
    *,
    verify: bool = True,
) -> dict[str, np.ndarray]:
    """Read the numeric model tensors of a parsed bundle.

    The object graph, optimizer slots and counters, and string tensors are
    skipped: only the model's variables are returned.

    Parameters
    ----------
    entries : mapping of str to BundleEntry
        Entries from :func:`parse_index`.
    shards : mapping of int to bytes-like
        Contents of each ``.data`` shard by shard index.
    verify : bool, default=True
        Verify each tensor's CRC32C. False skips the check (to inspect a
        damaged file).

    Returns
    -------
    dict of str to numpy.ndarray
        Each variable by its full checkpoint name (ending in
        ``/.ATTRIBUTES/VARIABLE_VALUE``), as a native-endian array owning
        its memory.

    Raises
    ------
    ValueError
        If a tensor lies outside its shard, has a size that does not match
        its dtype and shape, fails its checksum, or is partitioned.
    """
    crc = _checker(verify)
    tensors = {}
    for name, entry in entries.items():
        if _is_bookkeeping(name) or entry.dtype == _DT_STRING:
            continue
        if entry.sliced:
            raise ValueError(f"partitioned checkpoint variable {name!r} is not supported")
        dtype = _TF_DTYPES.get(entry.dtype)
        if dtype is None:
            raise ValueError(
                f"checkpoint variable {name!r} has unsupported TensorFlow dtype {entry.dtype}"
            )
        if entry.shard_id not in shards:
            raise ValueError(f"checkpoint variable {name!r} is in missing shard {entry.shard_id}")
        shard = shards[entry.shard_id]
        count = int(np.prod(entry.shape, dtype=np.int64))
        if entry.size != count * dtype.itemsize:
            raise ValueError(
                f"checkpoint variable {name!r}: {entry.size} bytes stored for "
                f"shape {entry.shape} of {dtype}"
            )
        end = entry.offset + entry.size
        if end > len(shard):
            raise ValueError(f"checkpoint variable {name!r} lies outside its data shard")
        raw = bytes(shard[entry.offset : end])
        # An absent field is proto3's default, 0 (a masked CRC can be 0).
        if crc is not None and _masked(crc(raw)) != (entry.crc32c or 0):
            raise ValueError(f"checkpoint variable {name!r} fails its CRC32C check")
        array = np.frombuffer(raw, dtype=dtype, count=count).reshape(entry.shape)
        tensors[name] = array.astype(dtype.newbyteorder("="), copy=True)
    return tensors


def read_checkpoint(
    prefix: str | os.PathLike, *, verify: bool = True
) -> dict[str, np.ndarray]:
    """Read the model variables of a TensorFlow checkpoint from disk.

    Parameters
    ----------
    prefix : str or path-like
        Checkpoint prefix (``".../weights"`` for ``weights.index`` and
        ``weights.data-00000-of-00001``), or the path of its ``.index`` file.
    verify : bool, default=True
        Verify CRC32C checksums. False skips the check (to inspect a damaged
        file).

    Returns
    -------
    dict of str to numpy.ndarray
        Each model variable by its full checkpoint name.

    Raises
    ------
    FileNotFoundError
        If the index or a data shard is missing.
    ValueError
        If the files are not a well-formed tensor bundle.

    Examples
    --------
    >>> tensors = read_checkpoint("macho/weights")  # doctest: +SKIP
    >>> tensors["layer_with_weights-0/inp_transform/kernel/.ATTRIBUTES/VARIABLE_VALUE"].shape
    ... # doctest: +SKIP
    (1, 256)
    """
    prefix = Path(prefix)
    if prefix.suffix == ".index":
        prefix = prefix.with_suffix("")
    num_shards, entries = parse_index(Path(f"{prefix}.index").read_bytes(), verify=verify)
    shards = {
        i: Path(f"{prefix}.data-{i:05d}-of-{num_shards:05d}").read_bytes()
        for i in range(num_shards)
    }
    return read_tensors(entries, shards, verify=verify)


def read_bundle(index, read, source, remedy):
    """Read a checkpoint's variables from its index and a reader of its shards, verified.

    The one path of the package's weight loaders (the released Astromer 1 and Astromer 2
    archives, zipped or unpacked): every index block and tensor is checked against the
    CRC32C the bundle stores, and a damaged file raises the package's integrity error.

    Parameters
    ----------
    index : bytes
        Contents of ``weights.index``.
    read : callable
        ``read(name) -> bytes or None`` for a file of the checkpoint's folder.
    source : str
        What is read (an archive or folder), named in errors.
    remedy : str
        What to do about a damaged file, appended to the error.

    Returns
    -------
    dict of str to numpy.ndarray
        Each model variable by its full checkpoint name.

    Raises
    ------
    WeightsIntegrityError
        If the index or a shard fails its checksum or does not parse.
    ValueError
        If a shard is missing.
    """
    try:
        num_shards, entries = parse_index(index)
    except ValueError as exc:
        raise integrity_error(f"{source}/weights.index", str(exc), remedy) from exc
    shards = {}
    for i in range(num_shards):
        name = f"weights.data-{i:05d}-of-{num_shards:05d}"
        shards[i] = read(name)
        if shards[i] is None:
            raise ValueError(f"{source}: no {name}")
    try:
        return read_tensors(entries, shards)
    except ValueError as exc:
        raise integrity_error(
            f"{source}/weights.data-*", f"{exc}: the checkpoint is damaged", remedy
        ) from exc
