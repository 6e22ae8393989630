"""A small PubChem client: computed properties (PUG REST) and GHS pictograms (PUG View).

It is polite (at most ``rate`` requests per second, PubChem asks for no more than 5), retries
(with tenacity) the answers that mean "try again later" (HTTP 429/5xx, network errors) with exponential
back-off, and keeps every answer on disk, so a dataset is fetched once per machine. The
transport is a plain function ``(url, timeout) -> (status, body)`` so tests can replay
recorded-format answers without a network.
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from workbench import ComponentError, atomic
from workbench.cache import digest

BASE = "https://pubchem.ncbi.nlm.nih.gov/rest"

PUG_PROPERTIES: tuple[str, ...] = (
    "MolecularWeight", "ExactMass", "XLogP", "TPSA", "HBondDonorCount", "HBondAcceptorCount",
    "RotatableBondCount", "HeavyAtomCount", "Charge", "Complexity", "AtomStereoCount",
)
"""PUG REST properties fetched (the ones ``descriptors.PROPERTIES`` stands in for offline)."""

GHS_PICTOGRAMS: dict[str, str] = {
    # PubChem pictogram name (the markup's "Extra") → target name
    "Irritant": "irritant",
    "Health Hazard": "health_hazard",
    "Flammable": "flammable",
    "Environmental Hazard": "environmental_hazard",
    "Acute Toxic": "acute_toxic",
    "Corrosive": "corrosive",
}

Transport = Callable[[str, float], tuple[int, bytes]]
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class _Transient(Exception):
    """An answer that means "try again later" (HTTP 429/5xx, a network error)."""


class PubChemError(ComponentError):
    """PubChem could not be reached or kept refusing; the message says what to do."""


def urllib_transport(url: str, timeout: float) -> tuple[int, bytes]:
    """GET ``url``; HTTP errors come back as their status, network failures raise ``OSError``."""
    request = urllib.request.Request(url, headers={"User-Agent": "workbench-molecules/0.1"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read() or b""


class PubChemClient:
    """Rate-limited, retrying, disk-cached GETs of PubChem JSON."""

    def __init__(self, cache_dir: Path, *, rate: float = 4.0, retries: int = 4, backoff: float = 1.0,
                 timeout: float = 30.0, transport: Transport | None = None,
                 sleep: Callable[[float], None] | None = None, clock: Callable[[], float] | None = None):
        self.cache_dir = Path(cache_dir)
        self.interval = 1.0 / rate
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.transport = transport or urllib_transport
        self.sleep = sleep or time.sleep
        self.clock = clock or time.monotonic
        self._last = -math.inf
        self.requests = 0  # network requests made (cache hits excluded)

    # -- low level ---------------------------------------------------------------------
    def get_json(self, url: str) -> dict[str, Any] | None:
        """The JSON at ``url`` (``None`` for a 404: PubChem has no such record)."""
        path = self.cache_dir / f"{digest({'url': url})}.json"
        if path.exists():
            return json.loads(path.read_text())["body"]
        body = self._fetch(url)
        atomic.write_text(path, json.dumps({"url": url, "body": body}))
        return body

    def _fetch(self, url: str) -> dict[str, Any] | None:
        # tenacity does the retrying and back-off; the rate limit stays ours because it spaces
        # every request, first attempts included, not only retries.
        from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

        retrying = Retrying(stop=stop_after_attempt(self.retries + 1), wait=wait_exponential(multiplier=self.backoff, min=self.backoff),
                            retry=retry_if_exception_type(_Transient), sleep=self.sleep)
        try:
            return retrying(self._attempt, url)
        except RetryError as failed:
            problem = failed.last_attempt.exception()
        raise PubChemError(
            f"PubChem did not answer {url} after {self.retries + 1} attempts (last: {problem}). "
            "Check the network, or use `source: rdkit` for the offline properties."
        )

    def _attempt(self, url: str) -> dict[str, Any] | None:
        wait = self._last + self.interval - self.clock()
        if wait > 0:
            self.sleep(wait)
        self._last = self.clock()
        self.requests += 1
        try:
            status, body = self.transport(url, self.timeout)
        except OSError as error:
            raise _Transient(f"network error: {error}") from error
        if status == 200:
            return json.loads(body)
        if status == 404:
            return None
        if status in RETRY_STATUSES:
            raise _Transient(f"HTTP {status}")
        raise PubChemError(f"PubChem refused {url} with HTTP {status}: {body[:200]!r}")

    # -- PubChem queries -----------------------------------------------------------------
    def properties(self, smiles: str) -> dict[str, Any] | None:
        """PUG REST computed properties (and the CID) of the compound with ``smiles``."""
        url = (f"{BASE}/pug/compound/smiles/property/{','.join(PUG_PROPERTIES)}/JSON?"
               + urllib.parse.urlencode({"smiles": smiles}))
        body = self.get_json(url)
        return None if body is None else parse_properties(body)

    def ghs_pictograms(self, cid: int) -> frozenset[str] | None:
        """PubChem pictogram names of ``cid``'s GHS classification; ``None`` when PubChem has
        no GHS classification for it (unknown, not "no hazard")."""
        url = f"{BASE}/pug_view/data/compound/{int(cid)}/JSON?" + urllib.parse.urlencode({"heading": "GHS Classification"})
        body = self.get_json(url)
        return None if body is None else parse_pictograms(body)


def parse_properties(body: dict[str, Any]) -> dict[str, Any] | None:
    """The first record of a PUG REST ``PropertyTable`` answer, numbers as floats (PubChem
    sends some, e.g. MolecularWeight, as strings); missing fields are absent."""
    try:
        records = body["PropertyTable"]["Properties"]
    except (KeyError, TypeError):
        raise PubChemError(f"unexpected PUG REST property answer: {str(body)[:200]}") from None
    if not records or not records[0].get("CID"):
        return None  # PubChem answers CID 0 for a structure it does not know
    record = records[0]
    out: dict[str, Any] = {"CID": int(record["CID"])}
    for name in PUG_PROPERTIES:
        if name in record:
            out[name] = float(record[name])
    return out


def _walk_sections(sections: Sequence[dict[str, Any]]):
    for section in sections:
        yield section
        yield from _walk_sections(section.get("Section", []))


def parse_pictograms(body: dict[str, Any]) -> frozenset[str] | None:
    """Pictogram names in a PUG View ``GHS Classification`` answer (every depositor's)."""
    record = body.get("Record")
    if record is None:
        raise PubChemError(f"unexpected PUG View answer: {str(body)[:200]}")
    names: set[str] = set()
    found = False
    for section in _walk_sections(record.get("Section", [])):
        if section.get("TOCHeading") != "GHS Classification":
            continue
        for info in section.get("Information", []):
            if info.get("Name") != "Pictogram(s)":
                continue
            found = True
            for item in info.get("Value", {}).get("StringWithMarkup", []):
                for markup in item.get("Markup", []):
                    if markup.get("Type") == "Icon" and markup.get("Extra"):
                        names.add(markup["Extra"])
    return frozenset(names) if found else None
