"""Just enough of the Kubernetes protobuf encoding to read what ``kubectl create <kind>`` sends.

kubectl's generator subcommands (``create namespace``, ``create configmap``, ``create secret``)
post built-in kinds as ``application/vnd.kubernetes.protobuf`` with no JSON fallback, so a
server that only reads JSON breaks the most common way to make a namespace. The envelope is
``k8s\\x00`` + runtime.Unknown{typeMeta, raw}; ``raw`` is the kind's generated message. Field
numbers below come from the API's generated.proto files. Other kinds answer 415 with a hint.
Responses stay JSON, which kubectl accepts (it lists JSON after protobuf in Accept).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from .status import ApiError

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
_MAGIC = b"k8s\x00"

Fields = dict[int, list[Any]]


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    for _ in range(10):
        if pos >= len(data):
            break
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise _bad("truncated varint")


def _fields(data: bytes) -> Fields:
    """Field number -> values (ints for varints, bytes for length-delimited)."""
    out: Fields = {}
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            value, pos = data[pos : pos + width], pos + width
        else:
            raise _bad(f"unsupported wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def _bad(detail: str) -> ApiError:
    return ApiError(400, "BadRequest", f"unable to decode protobuf body: {detail}")


def _str(fields: Fields, number: int) -> str | None:
    values = fields.get(number)
    return values[-1].decode() if values else None


def _strings(fields: Fields, number: int) -> list[str]:
    return [v.decode() for v in fields.get(number, [])]


def _map(fields: Fields, number: int, as_bytes: bool = False) -> dict[str, str] | None:
    entries = fields.get(number)
    if not entries:
        return None
    out = {}
    for entry in entries:
        kv = _fields(entry)
        value = kv.get(2, [b""])[-1]
        out[kv.get(1, [b""])[-1].decode()] = base64.b64encode(value).decode() if as_bytes else value.decode()
    return out


def _metadata(data: bytes) -> dict[str, Any]:
    f = _fields(data)
    meta: dict[str, Any] = {}
    for key, number in (("name", 1), ("generateName", 2), ("namespace", 3)):
        if value := _str(f, number):
            meta[key] = value
    for key, number in (("labels", 11), ("annotations", 12)):
        if (mapping := _map(f, number)) is not None:
            meta[key] = mapping
    if finalizers := _strings(f, 14):
        meta["finalizers"] = finalizers
    return meta


def _namespace(f: Fields) -> dict[str, Any]:
    spec = _fields(f[2][-1]) if 2 in f else {}
    return {"spec": {"finalizers": _strings(spec, 1)}} if _strings(spec, 1) else {}


def _configmap(f: Fields) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, number, as_bytes in (("data", 2, False), ("binaryData", 3, True)):
        if (mapping := _map(f, number, as_bytes)) is not None:
            out[key] = mapping
    return out


def _secret(f: Fields) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if (data := _map(f, 2, as_bytes=True)) is not None:
        out["data"] = data
    if kind := _str(f, 3):
        out["type"] = kind
    if (string_data := _map(f, 4)) is not None:
        out["stringData"] = string_data
    return out


_KINDS: dict[tuple[str, str], Callable[[Fields], dict[str, Any]]] = {
    ("v1", "Namespace"): _namespace,
    ("v1", "ConfigMap"): _configmap,
    ("v1", "Secret"): _secret,
}


def decode(body: bytes) -> dict[str, Any]:
    """A protobuf request body as the JSON object it stands for."""
    if not body.startswith(_MAGIC):
        raise _bad("missing the k8s\\x00 prefix")
    unknown = _fields(body[len(_MAGIC) :])
    type_meta = _fields(unknown.get(1, [b""])[-1])
    api_version, kind = _str(type_meta, 1) or "", _str(type_meta, 2) or ""
    reader = _KINDS.get((api_version, kind))
    if reader is None:
        raise ApiError(
            415,
            "UnsupportedMediaType",
            f"the stand-in API server reads protobuf only for Namespace, ConfigMap "
            f"and Secret, not {api_version} {kind}: send JSON or YAML (kubectl "
            f"create -f FILE or kubectl apply)",
        )
    raw = _fields(unknown.get(2, [b""])[-1])
    obj = {"apiVersion": api_version, "kind": kind, "metadata": _metadata(raw[1][-1]) if 1 in raw else {}}
    obj.update(reader(raw))
    return obj
