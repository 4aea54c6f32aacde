"""What each filter and token of an encoded frame is for, read from its metadata.

An :class:`~nislink.frame.EncodedFrame` carries its schema (``meta["schema"]``) and the
names of its match keys. From them the linkage side learns which tokens are match keys,
which filters are salted *views* of a name (and which tokens tag their salts), which tokens
are a date's near-miss levels or a name's swap tokens. The model (:mod:`nislink.model`)
builds its comparisons from this, and :func:`nislink.linkage.default_blocking` its
blocking keys; both read it here, in one place. No secret and no raw value is involved.
"""

from __future__ import annotations

import json
from typing import Any

from nislink.frame import EncodedFrame
from nislink.schema import field_date_levels, field_fallbacks, field_swaps, field_views

__all__ = [
    "date_levels_of",
    "fallbacks_of",
    "level_token_names",
    "match_key_names",
    "schema_of",
    "view_token_names",
    "views_of",
]


def schema_of(enc: EncodedFrame) -> dict[str, Any] | None:
    """The schema object in ``enc.meta`` (parsed if stored as JSON text), else ``None``."""
    schema = (enc.meta or {}).get("schema")
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except ValueError:
            return None
    return schema if isinstance(schema, dict) else None


def views_of(a: EncodedFrame, b: EncodedFrame) -> dict[str, list[tuple[str, str]]]:
    """Salted views of fields, kept when every view's filter and tag is in both frames."""
    out: dict[str, list[tuple[str, str]]] = {}
    for name, vs in field_views(schema_of(a)).items():
        keep = [(f, t) for f, t in vs if f in a.fields and f in b.fields
                and t in a.tokens and t in b.tokens]
        if keep and keep[0][0] == name:
            out[name] = keep
    return out


def fallbacks_of(a: EncodedFrame, b: EncodedFrame) -> dict[str, list[tuple[str, str]]]:
    """Fallback views of salted fields present (filter and tag) in both frames."""
    out: dict[str, list[tuple[str, str]]] = {}
    for name, vs in field_fallbacks(schema_of(a)).items():
        keep = [(f, t) for f, t in vs if f in a.fields and f in b.fields
                and t in a.tokens and t in b.tokens]
        if keep:
            out[name] = keep
    return out


def date_levels_of(a: EncodedFrame, b: EncodedFrame) -> dict[str, list[tuple[str, list[str]]]]:
    """Date fields whose near-miss level tokens both frames hold."""
    da, db = field_date_levels(schema_of(a)), field_date_levels(schema_of(b))
    return {name: lv for name, lv in da.items()
            if db.get(name) == lv and all(t in a.tokens and t in b.tokens
                                          for _, toks in lv for t in toks)}


def level_token_names(enc: EncodedFrame) -> set[str]:
    """Near-miss level tokens of date fields and names' swap tokens (not comparisons of
    their own)."""
    sd = schema_of(enc)
    return {t for lv in field_date_levels(sd).values() for _, toks in lv for t in toks} | {
        w for sw in field_swaps(sd).values() for w in sw.values()}


def view_token_names(enc: EncodedFrame) -> set[str]:
    """Tokens of salted views and their salt tags (not comparisons of their own)."""
    out: set[str] = set()
    sd = schema_of(enc)
    for vs in list(field_views(sd).values()) + list(field_fallbacks(sd).values()):
        for f, t in vs:
            out.update((f, t))
    return out


def match_key_names(enc: EncodedFrame) -> set[str]:
    """Token names that are match keys (not per-field tokens), read from ``meta``."""
    out: set[str] = {"slk581"}
    meta = enc.meta or {}
    sources = [meta.get("match_keys"), meta.get("blocking_tokens")]
    schema = meta.get("schema")
    if isinstance(schema, dict):
        sources.append(schema.get("match_keys"))
    for src in sources:
        for mk in src or []:
            if isinstance(mk, str):
                out.add(mk)
            elif isinstance(mk, dict) and "name" in mk:
                out.add(str(mk["name"]))
    return out
