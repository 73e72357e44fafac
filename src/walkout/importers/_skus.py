"""SKUs for NanoStore products: UPCs from the hand labels, slugs otherwise."""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping

logger = logging.getLogger(__name__)

# Hex digits of the SHA-1 of a name appended to a slug that would otherwise
# repeat: 6 digits give 16.7 million values, plenty for a few hundred names.
SLUG_HASH_DIGITS = 6

_NON_ALPHANUMERIC = re.compile(r"[^a-z0-9]+")


def slugify(name: str) -> str:
    """Return ``name`` in lower case with each run of other characters as '-'.

    A name without any letter or digit becomes ``product`` plus its hash.
    """
    slug = _NON_ALPHANUMERIC.sub("-", name.lower()).strip("-")
    return slug or f"product-{name_hash(name)}"


def name_hash(name: str) -> str:
    return hashlib.sha1(name.encode("utf-8")).hexdigest()[:SLUG_HASH_DIGITS]


def upc_e_check_digit(code: str) -> str:
    """Return the check digit of the UPC-E code ``0`` + ``code`` (6 digits).

    UPC-E carries no check digit of its own: it is the UPC-A check digit of
    the code expanded by the zero-suppression rule that its last digit picks.
    """
    d = code
    last = d[5]
    if last in "012":
        expanded = "0" + d[0:2] + last + "0000" + d[2:5]
    elif last == "3":
        expanded = "0" + d[0:3] + "00000" + d[3:5]
    elif last == "4":
        expanded = "0" + d[0:4] + "00000" + d[4]
    else:
        expanded = "0" + d[0:5] + "0000" + last
    odd = sum(int(c) for c in expanded[0::2])
    even = sum(int(c) for c in expanded[1::2])
    return str((10 - (3 * odd + even) % 10) % 10)


def normalise_upc(raw: str) -> str | None:
    """Return a usable barcode for a labelled product id, or None.

    UPC-A (12), EAN-13 and UPC-E (8) digit strings pass unchanged. A 6-digit
    id is a UPC-E code that lost its number-system digit and check digit in
    labelling, so both are put back (``120130`` becomes ``01201303``).
    Anything else (such as ``UNKOWN``) is rejected.
    """
    code = raw.strip()
    if not code.isdigit():
        return None
    if len(code) in (8, 12, 13):
        return code
    if len(code) == 6:
        return "0" + code + upc_e_check_digit(code)
    return None


def upcs_by_name(labelled: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Map each labelled product name to its normalised UPC.

    ``labelled`` contains (name, raw id) pairs. A name labelled with several
    different codes keeps the most frequent one, and a tie goes to the code
    seen first.
    """
    counts: dict[str, Counter[str]] = {}
    for name, raw in labelled:
        upc = normalise_upc(raw)
        if upc is None:
            continue
        counts.setdefault(name, Counter())[upc] += 1
    result: dict[str, str] = {}
    for name, codes in counts.items():
        if len(codes) > 1:
            logger.warning("labels give %r several codes %s", name, dict(codes))
        result[name] = codes.most_common(1)[0][0]
    return result


def assign_skus(
    names: Iterable[str], upcs: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """Give every product name a unique SKU.

    A name with a known UPC gets it, unless an earlier name already took that
    UPC. Every other name gets its slug, and names whose slugs would repeat
    all get the slug plus a short hash of the exact name. Returns the SKUs by
    name and one warning per UPC that two names share.
    """
    ordered = list(dict.fromkeys(names))
    skus: dict[str, str] = {}
    warnings: list[str] = []
    used: dict[str, str] = {}
    for name in ordered:
        upc = upcs.get(name)
        if upc is None:
            continue
        if upc in used:
            warnings.append(
                f"products {used[upc]!r} and {name!r} share UPC {upc}; "
                f"{name!r} gets a slug SKU"
            )
            continue
        used[upc] = name
        skus[name] = upc

    rest = [name for name in ordered if name not in skus]
    slug_counts = Counter(slugify(name) for name in rest)
    for name in rest:
        slug = slugify(name)
        if slug_counts[slug] > 1 or slug in used:
            slug = f"{slug}-{name_hash(name)}"
        skus[name] = slug
        used[slug] = name
    return skus, warnings
