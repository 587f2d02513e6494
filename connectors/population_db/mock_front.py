"""The LGSPs in front of the mock population database: credentials, tokens, and each variant's shape.

Each variant is checked in the order a real front would: credentials first (HTTP 401), then its
request shape (HTTP 400), then the SOAP request it carries (or that it builds from its JSON) goes to
the database rules (``mock_rules.py``). The LGSP fronts answer refusals in their own form
``{"error_code": "<401|400>", "message": ...}`` [I: the §0 LGSP convention]; OAuth2's token endpoint
answers ``{"error": "invalid_client"}`` (RFC 6749). The SOAP front answers 401 in plain text.

Fields an LGSP fills itself [I]: ``MaDonVi`` (the LGSP's agency, ``agency_code``) for the Đồng Tháp and
Thanh Hóa shapes, and ``MaTichHop`` (the operation's code) for Đồng Tháp.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse, PlainTextResponse, Response
from lxml import etree

from hub import jsonbody

from . import translate as tr
from .config import PopulationDbSettings
from .mock_rules import birth_element, parse_envelope
from .variants import DONGTHAP_KEYS, THANHHOA_KEYS


class FrontRefusal(Exception):
    """A request the LGSP in front refuses before the database sees it."""

    def __init__(self, status: int, message: str, variant: str) -> None:
        super().__init__(message)
        self.status, self.message, self.variant = status, message, variant

    def response(self) -> Response:
        if self.variant == "soap":
            return PlainTextResponse("Unauthorized" if self.status == 401 else self.message, self.status)
        return JSONResponse({"error_code": str(self.status), "message": self.message}, status_code=self.status)


class Tokens:
    """Tokens the mock's token endpoint issued, with their expiry (monotonic clock). Not thread-safe on its
    own: the mock calls it under its lock."""

    def __init__(self) -> None:
        self.issued: dict[str, float] = {}
        self.count = 0

    def issue(self, ttl: float) -> str:
        token = secrets.token_urlsafe(24)
        self.issued[token] = time.monotonic() + ttl
        self.count += 1
        return token

    def valid(self, header: str) -> bool:
        kind, _, token = header.partition(" ")
        expires = self.issued.get(token) if kind.lower() == "bearer" else None
        return expires is not None and time.monotonic() < expires

    def revoke(self) -> None:
        self.issued.clear()


def _same(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())


def _creds_match(given: str, settings: PopulationDbSettings) -> bool:
    """``lgspaccesstoken``: base64 of the JSON credentials (compared as JSON, not as bytes)."""
    try:
        decoded = jsonbody.parse(base64.b64decode(given, validate=True), normalise=False)
    except (binascii.Error, ValueError):
        return False
    return isinstance(decoded, dict) and decoded == json.loads(base64.b64decode(settings.lgsp_access_token()))


def issue_token(settings: PopulationDbSettings, tokens: Tokens, form: Mapping[str, str], headers: Mapping[str, str],
                ttl: float) -> Response:  # fmt: skip
    """The token endpoint of the configured scheme."""
    scheme = settings.auth
    if scheme == "oauth2":
        ok = (
            form.get("grant_type") == "client_credentials"
            and _same(form.get("client_id", ""), settings.client_id)
            and _same(form.get("client_secret", ""), settings.client_secret.get_secret_value())
        )
        if not ok:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        return JSONResponse({"access_token": tokens.issue(ttl), "token_type": "Bearer", "expires_in": int(ttl)})
    if scheme == "lgsp_access_token":
        if not _creds_match(headers.get("lgspaccesstoken", ""), settings):
            return JSONResponse({"error_code": "401", "message": "lgspaccesstoken không hợp lệ (invalid)"}, 401)
        return JSONResponse({"access_token": tokens.issue(ttl), "expires_in": int(ttl)})
    return JSONResponse({"error": "unsupported"}, status_code=404)


def check_headers(settings: PopulationDbSettings, tokens: Tokens, headers: Mapping[str, str]) -> bool:
    """The credentials of a call that carries them in headers (every variant but lgsp_hagiang)."""
    scheme = settings.auth
    given = headers.get("authorization", "")
    if scheme == "none":
        return True
    if scheme == "oauth2":
        return tokens.valid(given)
    if scheme == "lgsp_access_token":
        return tokens.valid(given) and _creds_match(headers.get("lgspaccesstoken", ""), settings)
    if scheme == "header_token":
        return _same(headers.get(settings.auth_header.lower(), ""), settings.token.get_secret_value())
    if scheme == "timestamp_hash":
        stamp = headers.get("timestamp", "")
        return stamp.isdigit() and _same(given, settings.timestamp_authorization(stamp))
    return _same(given, settings.auth_headers().get("Authorization", ""))


# ---------------------------------------------------------------- the variants' requests -> a SOAP element
def _object(raw: bytes, variant: str) -> dict[str, Any]:
    try:
        body = jsonbody.parse(raw, normalise=False)
    except ValueError:
        raise FrontRefusal(400, "JSON không hợp lệ (malformed JSON)", variant) from None
    if not isinstance(body, dict):
        raise FrontRefusal(400, "cần một đối tượng JSON (a JSON object expected)", variant)
    return body


def hagiang(raw: bytes, settings: PopulationDbSettings, tokens: Tokens) -> etree._Element:
    """``{accessToken, lgspAccessToken, AuthHash, data}``: credentials in the body [C OCPS]."""
    body = _object(raw, "lgsp_hagiang")
    keys = ("accessToken", "lgspAccessToken", "AuthHash", "data")
    if set(body) != set(keys) or not all(isinstance(body[k], str) for k in keys):
        raise FrontRefusal(400, "cần đúng accessToken, lgspAccessToken, AuthHash, data (strings)", "lgsp_hagiang")
    authorised = (
        tokens.valid(body["accessToken"])
        and _creds_match(body["lgspAccessToken"], settings)
        and _same(body["AuthHash"], settings.auth_hash())
    )
    if not authorised:
        raise FrontRefusal(401, "thông tin xác thực không hợp lệ (invalid credentials)", "lgsp_hagiang")
    return parse_envelope(body["data"].encode("utf-8"))


def _element(operation: str, fields: Mapping[str, str | None], birth: tuple[str, str | None]) -> etree._Element:
    ns = tr.REQUEST_NS
    root = etree.Element(f"{{{ns}}}{operation}", nsmap={"dan": ns})
    for name in ("MaYeuCau", "MaDVC", "MaTichHop", "MaDonVi", "MaCanBo", "SoDinhDanh", "SoCMND", "HoVaTen"):
        value = fields.get(name)
        if value is not None and value != "":
            etree.SubElement(root, f"{{{ns}}}{name}").text = value
    wrapper = etree.SubElement(root, f"{{{ns}}}NgayThangNamSinh")
    if birth[1]:
        etree.SubElement(wrapper, f"{{{ns}}}{birth[0]}").text = birth[1]
    return root


def dongthap(raw: bytes, operation: str, settings: PopulationDbSettings) -> etree._Element:
    """camelCase, exactly the eight keys, strings (``""`` for an absent ID number) [C OCPS]."""
    body = _object(raw, "lgsp_dongthap")
    if set(body) != set(DONGTHAP_KEYS) or not all(isinstance(v, str) for v in body.values()):
        raise FrontRefusal(400, "cần đúng các khoá " + ", ".join(DONGTHAP_KEYS) + " (strings)", "lgsp_dongthap")
    if not _same(body["userNameService"], settings.service_username):
        raise FrontRefusal(401, "userNameService không được cấp quyền (not granted)", "lgsp_dongthap")
    code = settings.integration_code_verify if operation == tr.OP_VERIFY else settings.integration_code_lookup
    fields = {
        "MaYeuCau": body["maYeuCau"], "MaDVC": body["maDVC"], "MaTichHop": code, "MaDonVi": settings.agency_code,
        "MaCanBo": body["maCanBo"], "SoDinhDanh": body["soDinhDanh"], "SoCMND": body["soCMND"],
        "HoVaTen": body["hoVaTen"],
    }  # fmt: skip
    return _element(operation, fields, birth_element(body["ngayThangNam"], ()))


def thanhhoa(raw: bytes, operation: str, settings: PopulationDbSettings) -> etree._Element:
    """THH's nine keys, PascalCase or camelCase (an ASP.NET LGSP reads either [I]); strings or null."""
    body = _object(raw, "lgsp_thanhhoa")
    known = {k.casefold(): k for k in THANHHOA_KEYS}
    folded = [k.casefold() for k in body]
    if len(set(folded)) != len(folded) or not set(folded) <= set(known):
        raise FrontRefusal(400, "khoá không hợp lệ (unknown or repeated key)", "lgsp_thanhhoa")
    fields = {known[k.casefold()]: v for k, v in body.items()}
    if not all(v is None or isinstance(v, str) for v in fields.values()):
        raise FrontRefusal(400, "giá trị phải là chuỗi hoặc null (strings or null)", "lgsp_thanhhoa")
    fields["MaDonVi"] = settings.agency_code
    birth = ("Nam", fields.get("Nam")) if fields.get("Nam") else ("NgayThangNam", fields.get("NgayThangNam"))
    return _element(operation, fields, birth)


__all__ = ["FrontRefusal", "Tokens", "check_headers", "dongthap", "hagiang", "issue_token", "thanhhoa"]
