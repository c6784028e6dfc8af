#!/usr/bin/env python
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Local emulator of the ngrok API's TunnelSessions and Endpoints resources (test tool, stdlib only).

Run ``python3 ngrok_emulator.py --help`` for the CLI, see README.md beside this file for
the API behaviour and the ``/_emulator/`` control API.  Importable: ``Emulator`` is the
in-process entry point, ``compile_filter`` the CEL filter compiler.
"""

from __future__ import annotations

import argparse
import bisect
import datetime
import functools
import heapq
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlencode, urlsplit

__all__ = ["Emulator", "CelError", "compile_filter", "new_id", "main"]

API_VERSION = "2"
DEFAULT_API_KEY = "test-api-key"
DEFAULT_AGENT_VERSION = "3.20.0"
DEFAULT_UPDATE_TO = "3.21.0"
#: After an accepted update the agent counts as "in process of updating" for this long (the spec asks
#: callers to wait at least 10 seconds before the restart that runs the new code), then as "updated, not
#: restarted". Both refuse another update; only the message differs.
UPDATE_SECONDS = 10.0
MAX_LIMIT = 100
MAX_BODY = 10 * 1024 * 1024
#: A guard against runaway input, not ngrok's: ngrok documents no filter length, and a lookup of the
#: longest metadata (4096 characters, each escaped to up to 6) must pass.
MAX_FILTER_LEN = 65536
MAX_LOG_ENTRIES = 100000
BIG_BODY_DEFAULT = 10 * 1024 * 1024

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_KSUID_EPOCH = 1400000000
_ID_RE = re.compile(r"^ts_[0-9A-Za-z]{27}$")
_CRED_RE = re.compile(r"^cr_[0-9A-Za-z]{27}$")


# --------------------------------------------------------------------------- ids & time

def _b62(value, width=27):
    out = []
    while value:
        value, rem = divmod(value, 62)
        out.append(_B62[rem])
    text = "".join(reversed(out))
    if len(text) > width:
        raise ValueError("value too large for %d base62 digits" % width)
    return text.rjust(width, "0")


def _ticks(epoch):
    sec = int(epoch)
    micro = min(int(round((epoch - sec) * 1000000)), 999999)
    sec = max(0, min(sec - _KSUID_EPOCH, 0xFFFFFFFF))
    # 32 bits of seconds since the KSUID epoch (like a KSUID), 20 bits of microseconds,
    # 20 bits of sequence: 72 bits, followed by 88 random bits (160 bits -> 27 base62 chars).
    return (sec << 40) | (micro << 20)


def new_id(prefix, epoch=None):
    """A KSUID-shaped ``<prefix>_`` + 27 base62 id whose prefix encodes ``epoch`` (default now)."""
    if epoch is None:
        epoch = time.time()
    return prefix + "_" + _b62((_ticks(epoch) | secrets.randbits(20)) << 88 | secrets.randbits(88))


class _MonotonicIds:
    """Session ids strictly increasing in creation order (newer sorts later). Call under the state lock."""

    def __init__(self):
        self.last = 0

    def new(self, prefix, epoch, monotonic=True):
        ticks = _ticks(epoch)
        if monotonic:
            ticks = max(ticks, self.last + 1)
            self.last = ticks
        else:
            ticks |= secrets.randbits(20)
        return prefix + "_" + _b62((ticks << 88) | secrets.randbits(88))


_RFC3339_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$")


def parse_rfc3339(text):
    """Parse an RFC 3339 timestamp into an aware UTC datetime; ValueError if invalid."""
    if not isinstance(text, str):
        raise ValueError("timestamp must be a string")
    match = _RFC3339_RE.match(text)
    if not match:
        raise ValueError("not an RFC 3339 timestamp: %r" % text)
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    frac = match.group(7) or ""
    micro = int((frac + "000000")[:6]) if frac else 0
    if match.group(8):
        tz = datetime.timezone.utc
    else:
        offset = datetime.timedelta(hours=int(match.group(10)), minutes=int(match.group(11)))
        tz = datetime.timezone(-offset if match.group(9) == "-" else offset)
    if second == 60:
        second = 59
    return datetime.datetime(year, month, day, hour, minute, second, micro, tzinfo=tz).astimezone(datetime.timezone.utc)


def format_rfc3339(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc(epoch):
    return datetime.datetime.fromtimestamp(int(epoch), tz=datetime.timezone.utc)


# --------------------------------------------------------------------------- CEL subset

class CelError(ValueError):
    """Raised for any invalid filter: parse error, unknown field/function, type error."""


FILTER_FIELDS = ("id", "metadata", "agent_version", "ip", "os", "region", "started_at", "credential")
_STRING_FIELDS = frozenset(("id", "metadata", "agent_version", "ip", "os", "region"))
#: GET /endpoints filters over these (ngrok's list; ``tunnel_session`` is not filterable). The emulator
#: types them as: strings, ``created_at`` a timestamp, ``pooling_enabled`` a bool; ``principal`` (an
#: object, ``principal.id``) is not supported by the emulator.
ENDPOINT_FILTER_FIELDS = ("id", "created_at", "description", "metadata", "principal.id", "type", "binding", "url",
                          "pooling_enabled", "scheme", "region", "name")
_ENDPOINT_STRING_FIELDS = frozenset(("id", "description", "metadata", "type", "binding", "url", "scheme", "region",
                                     "name"))
#: resource -> (string fields, timestamp fields, bool fields, has credential, field list for messages)
_SCHEMAS = {
    "tunnel_sessions": (_STRING_FIELDS, frozenset(("started_at",)), frozenset(), True, FILTER_FIELDS),
    "endpoints": (_ENDPOINT_STRING_FIELDS, frozenset(("created_at",)), frozenset(("pooling_enabled",)), False,
                  ENDPOINT_FILTER_FIELDS),
}

_CEL_TOKEN_RE = re.compile(r"\s+|(?P<num>\d+)|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<quote>[\"'])"
                           r"|(?P<op>&&|\|\||==|!=|<=|>=|[<>!.,()\[\]-])")
_CEL_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b",
                "f": "\f", "v": "\v", "?": "?", "`": "`"}
# CEL's numeric escapes: \xHH, \uHHHH, \UHHHHHHHH (hex) and \ooo (octal).
_CEL_NUMERIC_ESCAPES = {"x": (2, 16), "X": (2, 16), "u": (4, 16), "U": (8, 16)}
_CEL_KEYWORDS = {"true": True, "false": False}
_CEL_RESERVED = frozenset(("null", "in", "as", "break", "const", "continue", "else", "for", "function", "if",
                           "import", "let", "loop", "package", "namespace", "return", "var", "void", "while"))


def _cel_tokenize(text):
    tokens = []
    pos = 0
    length = len(text)
    while pos < length:
        match = _CEL_TOKEN_RE.match(text, pos)
        if not match:
            raise CelError("unexpected character %r at position %d" % (text[pos], pos))
        kind = match.lastgroup
        if kind is None:
            pos = match.end()
            continue
        if kind == "quote":
            quote_char = match.group("quote")
            start = pos
            pos += 1
            chars = []
            while True:
                if pos >= length:
                    raise CelError("unterminated string literal at position %d" % start)
                char = text[pos]
                if char == quote_char:
                    pos += 1
                    break
                if char in "\r\n":
                    raise CelError("newline in string literal at position %d" % pos)
                if char == "\\":
                    if pos + 1 >= length:
                        raise CelError("unterminated string literal at position %d" % start)
                    esc = text[pos + 1]
                    if esc in _CEL_ESCAPES:
                        chars.append(_CEL_ESCAPES[esc])
                        pos += 2
                        continue
                    if esc in _CEL_NUMERIC_ESCAPES or esc in "0123":
                        size, base = _CEL_NUMERIC_ESCAPES.get(esc, (3, 8))
                        first = pos + 1 if base == 8 else pos + 2
                        digits = text[first:first + size]
                        try:
                            code = int(digits, base) if len(digits) == size else -1
                        except ValueError:
                            code = -1
                        if not 0 <= code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                            raise CelError("invalid escape sequence \\%s at position %d" % (text[pos + 1:first + size], pos))
                        chars.append(chr(code))
                        pos = first + size
                        continue
                    raise CelError("unsupported escape sequence \\%s at position %d" % (esc, pos))
                chars.append(char)
                pos += 1
            tokens.append(("str", "".join(chars), start))
            continue
        value = match.group(kind)
        if kind == "ident" and value == "in":
            kind = "op"
        tokens.append((kind, value, pos))
        pos = match.end()
    tokens.append(("eof", None, length))
    return tokens


class _CelParser:
    """Recursive descent over: or := and ('||' and)*; and := rel ('&&' rel)*;
    rel := unary (relop unary)?; unary := '!' unary | '-' unary | member;
    member := primary ('.' ident ('(' args ')')?)*; primary := literal | ident ('(' args ')')? | '(' or ')' | '[' args ']'."""

    MAX_DEPTH = 64

    def __init__(self, text):
        self.tokens = _cel_tokenize(text)
        self.pos = 0
        self.depth = 0

    def _peek(self):
        return self.tokens[self.pos]

    def _next(self):
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def _is(self, value):
        tok = self.tokens[self.pos]
        return tok[0] == "op" and tok[1] == value

    def _expect(self, value):
        tok = self._next()
        if tok[0] != "op" or tok[1] != value:
            raise CelError("expected '%s' at position %d, found %s" % (value, tok[2], _describe(tok)))
        return tok

    def parse(self):
        node = self._or()
        tok = self._peek()
        if tok[0] != "eof":
            raise CelError("unexpected %s at position %d" % (_describe(tok), tok[2]))
        return node

    def _enter(self):
        self.depth += 1
        if self.depth > self.MAX_DEPTH:
            raise CelError("expression nested too deeply")

    def _or(self):
        self._enter()
        node = self._and()
        while self._is("||"):
            self._next()
            node = ("or", node, self._and())
        self.depth -= 1
        return node

    def _and(self):
        node = self._rel()
        while self._is("&&"):
            self._next()
            node = ("and", node, self._rel())
        return node

    def _rel(self):
        node = self._unary()
        tok = self._peek()
        if tok[0] == "op" and tok[1] in ("==", "!=", "<", "<=", ">", ">=", "in"):
            self._next()
            right = self._unary()
            node = ("in", node, right) if tok[1] == "in" else ("cmp", tok[1], node, right)
            nxt = self._peek()
            if nxt[0] == "op" and nxt[1] in ("==", "!=", "<", "<=", ">", ">=", "in"):
                raise CelError("chained comparison at position %d: use parentheses and &&" % nxt[2])
        return node

    def _unary(self):
        if self._is("!"):
            self._next()
            self._enter()
            node = ("not", self._unary())
            self.depth -= 1
            return node
        if self._is("-"):
            self._next()
            self._enter()
            node = ("neg", self._unary())
            self.depth -= 1
            return node
        return self._member()

    def _args(self, closer):
        args = []
        if self._is(closer):
            self._next()
            return args
        while True:
            args.append(self._or())
            if self._is(","):
                self._next()
                if self._is(closer) and closer == "]":
                    self._next()
                    return args
                continue
            self._expect(closer)
            return args

    def _member(self):
        node = self._primary()
        while self._is("."):
            self._next()
            tok = self._next()
            if tok[0] != "ident":
                raise CelError("expected a field name after '.' at position %d, found %s" % (tok[2], _describe(tok)))
            if self._is("("):
                self._next()
                node = ("call", tok[1], node, self._args(")"))
            else:
                node = ("select", node, tok[1])
        if self._is("["):
            raise CelError("indexing is not supported (position %d)" % self._peek()[2])
        return node

    def _primary(self):
        tok = self._next()
        kind, value, pos = tok
        if kind == "str":
            return ("lit", value)
        if kind == "num":
            return ("lit", int(value))
        if kind == "ident":
            if value in _CEL_KEYWORDS:
                return ("lit", _CEL_KEYWORDS[value])
            if value in _CEL_RESERVED:
                raise CelError("reserved word '%s' at position %d is not supported" % (value, pos))
            if self._is("("):
                self._next()
                return ("call", value, None, self._args(")"))
            return ("ident", value)
        if kind == "op" and value == "(":
            node = self._or()
            self._expect(")")
            return node
        if kind == "op" and value == "[":
            self._enter()
            node = ("list", self._args("]"))
            self.depth -= 1
            return node
        raise CelError("unexpected %s at position %d" % (_describe(tok), pos))


def _describe(tok):
    if tok[0] == "eof":
        return "end of input"
    if tok[0] == "str":
        return "string literal"
    return "'%s'" % tok[1]


# static types: string, int, bool, timestamp, credential (a message: only .id and .uri), obj, and
# "list" or "list(T)" (a literal list whose items all have type T). As in CEL's type checker, an
# operator with no overload for its operand types is an error, not false: obj.started_at is a
# timestamp (compare it with timestamp("...")), obj.credential is not a string (use .id).


def _cmp_mode(op, left, right):
    """Validate a comparison of two static types; raise CelError when CEL has no such overload."""
    if left == right and left in ("string", "int", "bool", "timestamp"):
        return "same"
    if left == right and (left == "credential" or left.startswith("list")) and op in ("==", "!="):
        return "same"
    if left.startswith("list") and right.startswith("list") and "list" in (left, right) and op in ("==", "!="):
        return "same"  # a mixed list is list(dyn)
    raise CelError("no matching overload for '%s' applied to (%s, %s)" % (op, left, right))


def _check(node, schema="tunnel_sessions"):
    kind = node[0]
    if kind == "lit":
        value = node[1]
        if isinstance(value, bool):
            return "bool"
        return "int" if isinstance(value, int) else "string"
    if kind == "list":
        types = {_check(item, schema) for item in node[1]}
        return "list(%s)" % types.pop() if len(types) == 1 else "list"
    if kind == "ident":
        if node[1] == "obj":
            return "obj"
        raise CelError("undeclared reference to '%s' (use obj.<field>)" % node[1])
    if kind == "select":
        target = _check(node[1], schema)
        field = node[2]
        if target == "obj":
            strings, timestamps, bools, credential, fields = _SCHEMAS[schema]
            if field in strings:
                return "string"
            if field in timestamps:
                return "timestamp"
            if field in bools:
                return "bool"
            if field == "credential" and credential:
                return "credential"
            raise CelError("unknown field '%s'; filterable fields: %s" % (field, ", ".join(fields)))
        if target == "credential":
            if field in ("id", "uri"):
                return "string"
            raise CelError("unknown field 'credential.%s'; use credential.id" % field)
        raise CelError("type '%s' does not support field selection ('.%s')" % (target, field))
    if kind == "call":
        name, target, args = node[1], node[2], node[3]
        if name == "size":
            if target is not None:
                if args:
                    raise CelError("size() takes no arguments when called as a method")
                arg_type = _check(target, schema)
            else:
                if len(args) != 1:
                    raise CelError("size() takes exactly one argument")
                arg_type = _check(args[0], schema)
            if arg_type != "string" and not arg_type.startswith("list"):
                raise CelError("no matching overload for size(%s)" % arg_type)
            return "int"
        if name == "timestamp" and target is None:
            if len(args) != 1:
                raise CelError("timestamp() takes exactly one argument")
            arg_type = _check(args[0], schema)
            if arg_type == "timestamp":
                return "timestamp"
            if arg_type != "string":
                raise CelError("no matching overload for timestamp(%s)" % arg_type)
            if args[0][0] == "lit":
                try:
                    parse_rfc3339(args[0][1])
                except ValueError as exc:
                    raise CelError("timestamp(): %s" % exc) from None
            return "timestamp"
        if target is not None:
            raise CelError("unknown method '%s'" % name)
        raise CelError("unknown function '%s'" % name)
    if kind == "not":
        if _check(node[1], schema) != "bool":
            raise CelError("'!' needs a bool operand")
        return "bool"
    if kind == "neg":
        if _check(node[1], schema) != "int":
            raise CelError("'-' needs an int operand")
        return "int"
    if kind in ("and", "or"):
        for side in (node[1], node[2]):
            if _check(side, schema) != "bool":
                raise CelError("'%s' needs bool operands" % ("&&" if kind == "and" else "||"))
        return "bool"
    if kind == "cmp":
        _cmp_mode(node[1], _check(node[2], schema), _check(node[3], schema))
        return "bool"
    if kind == "in":
        item_type = _check(node[1], schema)
        list_type = _check(node[2], schema)
        if not list_type.startswith("list"):
            raise CelError("right side of 'in' must be a list, e.g. obj.os in [\"linux\", \"darwin\"]")
        if list_type != "list" and list_type != "list(%s)" % item_type:
            raise CelError("no matching overload for 'in' applied to (%s, %s)" % (item_type, list_type))
        return "bool"
    raise CelError("unsupported expression")  # pragma: no cover


class _Credential:
    __slots__ = ("cid", "uri")

    def __init__(self, cid, uri):
        self.cid = cid
        self.uri = uri


def _coerce(left, right):
    """The values to compare: a credential (only ever compared with a credential) as its id and uri."""
    if isinstance(left, _Credential):
        left = (left.cid, left.uri)
    if isinstance(right, _Credential):
        right = (right.cid, right.uri)
    return left, right


def _equal(left, right):
    left, right = _coerce(left, right)
    if type(left) is not type(right):
        return False
    if isinstance(left, list):
        return len(left) == len(right) and all(_equal(a, b) for a, b in zip(left, right))
    return left == right


def _eval(node, obj):
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "select":
        target = _eval(node[1], obj)
        if isinstance(target, _Credential):
            return target.cid if node[2] == "id" else target.uri
        return target[node[2]]
    if kind == "ident":
        return obj
    if kind == "and":
        return _eval(node[1], obj) and _eval(node[2], obj)
    if kind == "or":
        return _eval(node[1], obj) or _eval(node[2], obj)
    if kind == "not":
        return not _eval(node[1], obj)
    if kind == "cmp":
        op = node[1]
        left = _eval(node[2], obj)
        right = _eval(node[3], obj)
        if op == "==":
            return _equal(left, right)
        if op == "!=":
            return not _equal(left, right)
        left, right = _coerce(left, right)
        if op == "<":
            return left < right
        if op == "<=":
            return left <= right
        if op == ">":
            return left > right
        return left >= right
    if kind == "in":
        left = _eval(node[1], obj)
        return any(_equal(left, item) for item in _eval(node[2], obj))
    if kind == "list":
        return [_eval(item, obj) for item in node[1]]
    if kind == "neg":
        return -_eval(node[1], obj)
    if kind == "call":
        name, target, args = node[1], node[2], node[3]
        value = _eval(target if target is not None else args[0], obj)
        if name == "size":
            return len(value)
        if isinstance(value, datetime.datetime):
            return value
        try:
            return parse_rfc3339(value)
        except ValueError as exc:
            raise CelError("timestamp(): %s" % exc) from None
    raise CelError("unsupported expression")  # pragma: no cover


@functools.lru_cache(maxsize=256)
def _compile_cached(text, schema="tunnel_sessions"):
    if len(text) > MAX_FILTER_LEN:
        raise CelError("expression longer than %d characters" % MAX_FILTER_LEN)
    try:
        node = _CelParser(text).parse()
        typ = _check(node, schema)
    except RecursionError:
        raise CelError("expression nested too deeply") from None
    if typ != "bool":
        raise CelError("expression must evaluate to a bool")
    return node


def compile_filter(text, schema="tunnel_sessions"):
    """Compile a CEL filter; returns ``predicate(obj_dict) -> bool``. Raises CelError.

    ``obj_dict`` maps the filterable fields to values; ``started_at`` and ``credential``
    must be the values produced by ``_filter_view`` (the emulator builds them). ``schema`` is
    ``tunnel_sessions`` or ``endpoints``: the fields of that list.
    """
    node = _compile_cached(text, schema)

    def predicate(obj):
        return _eval(node, obj) is True

    return predicate


# --------------------------------------------------------------------------- errors

ERROR_MESSAGES = {
    "ERR_NGROK_200": "Your request did not include an Authorization header. Send your API key as a bearer token: "
                     "'Authorization: Bearer {API key}'.",
    "ERR_NGROK_201": "The Authorization header was not in the expected format 'Bearer {API key}'.",
    "ERR_NGROK_203": "The API key you specified does not exist or has been revoked.",
    "ERR_NGROK_213": "The request body could not be parsed as JSON.",
    "ERR_NGROK_216": "The request must set 'Content-Type: application/json'.",
    "ERR_NGROK_217": "The 'Ngrok-Version' header value is not supported. The only supported version is 2.",
    "ERR_NGROK_218": "Your request did not include an 'Ngrok-Version' header. Set 'Ngrok-Version: 2'.",
    "ERR_NGROK_226": "You have exceeded the API rate limit for your account. Wait for the window to pass before retrying.",
    "ERR_NGROK_233": "The 'limit' parameter must be an integer between 1 and 100.",
    "ERR_NGROK_250": "Invalid CEL query.",
    "ERR_NGROK_804": "This agent does not support remote restart.",
    "ERR_NGROK_805": "This agent does not support remote stop.",
    "ERR_NGROK_806": "This agent does not support remote update.",
    "ERR_NGROK_807": "The agent failed to stop.",
    "ERR_NGROK_808": "The agent failed to restart.",
    "ERR_NGROK_809": "The agent failed to update.",
    "ERR_NGROK_810": "A networking error occurred while sending the command to the agent. It is possible, but unlikely, "
                     "that the operation succeeded.",
    "ERR_NGROK_1121": "SSH tunnel sessions do not support remote update.",
    "ERR_NGROK_1122": "SSH tunnel sessions do not support remote restart.",
}

ERROR_STATUSES = {"ERR_NGROK_807": 500, "ERR_NGROK_808": 500, "ERR_NGROK_809": 500, "ERR_NGROK_810": 502}

_STATUS_DEFAULT_ERROR = {401: "ERR_NGROK_203", 429: "ERR_NGROK_226"}

_REASONS = {
    400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Resource not found", 405: "Method not allowed",
    408: "Request timeout", 409: "Conflict", 413: "Request entity too large", 429: "Too many requests",
    500: "Internal server error", 502: "Bad gateway", 503: "Service unavailable", 504: "Gateway timeout",
}


class ApiError(Exception):
    """An ngrok-style API error response."""

    def __init__(self, status, code, msg, headers=None):
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg
        self.headers = headers or {}


def error_body(status, code, msg, op_id):
    body = {}
    if code:
        body["error_code"] = code
    body["status_code"] = status
    body["msg"] = msg
    body["details"] = {"operation_id": op_id}
    return body


def standard_error(status, op_id, code=None, msg=None):
    """The standard ngrok error body for ``status`` (used by fault injection)."""
    if code is None:
        code = _STATUS_DEFAULT_ERROR.get(status)
    if msg is None:
        msg = ERROR_MESSAGES.get(code) or _REASONS.get(status) or "HTTP %d" % status
    if status == 404 and code is None:
        return {"details": {"operation_id": op_id}, "msg": msg, "status_code": 404}
    return error_body(status, code, msg, op_id)


class ControlError(Exception):
    def __init__(self, status, msg):
        super().__init__(msg)
        self.status = status
        self.msg = msg


# --------------------------------------------------------------------------- state

def _failure(spec, field):
    value = spec.get(field)
    if value is None or value is False:
        return None
    if isinstance(value, str):
        value = {"error_code": value}
    if not isinstance(value, dict) or not isinstance(value.get("error_code"), str):
        raise ControlError(400, "%s must be an error code string like 'ERR_NGROK_808' or an object with error_code" % field)
    unknown = set(value) - {"error_code", "status", "msg", "count", "apply"}
    if unknown:
        raise ControlError(400, "%s: unknown keys %s" % (field, sorted(unknown)))
    code = value["error_code"]
    status = value.get("status", ERROR_STATUSES.get(code, 400))
    count = value.get("count")
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        raise ControlError(400, "%s.status must be an HTTP error status" % field)
    if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise ControlError(400, "%s.count must be a positive integer or null" % field)
    return {"error_code": code, "status": status, "msg": value.get("msg") or ERROR_MESSAGES.get(code, "The operation failed."),
            "count": count, "apply": bool(value.get("apply", False))}


SPEC_FIELDS = frozenset((
    "id", "agent_id", "metadata", "os", "ip", "region", "agent_version", "credential_id", "started_at", "transport",
    "reconnect", "reconnect_delay", "restart_on_stop", "fail_restart", "fail_stop", "fail_update", "update_to",
    "endpoints"))
#: What an agent's endpoint spec may hold (``endpoints`` of a session spec).
ENDPOINT_SPEC_FIELDS = frozenset(("proto", "upstream_url", "url", "name", "bindings", "description", "metadata"))
ENDPOINT_PROTOS = ("tcp", "http", "https", "tls")
#: What a cloud endpoint spec may hold (``POST /_emulator/endpoints``).
CLOUD_ENDPOINT_SPEC_FIELDS = frozenset(("url", "name", "bindings", "description", "metadata"))


def _check_endpoint_spec(spec, known, index):
    """Validate one endpoint spec; return it normalised (``bindings`` defaults to ``["public"]``)."""
    where = "endpoints[%d]" % index
    if not isinstance(spec, dict):
        raise ControlError(400, "%s must be an object" % where)
    unknown = set(spec) - known
    if unknown:
        raise ControlError(400, "%s: unknown fields %s (known: %s)" % (where, sorted(unknown), ", ".join(sorted(known))))
    for field in ("proto", "upstream_url", "url", "name", "description", "metadata"):
        if spec.get(field) is not None and not isinstance(spec[field], str):
            raise ControlError(400, "%s.%s must be a string" % (where, field))
    bindings = spec.get("bindings", ["public"])
    if not isinstance(bindings, list) or not bindings or not all(isinstance(b, str) and b for b in bindings):
        raise ControlError(400, "%s.bindings must be a non-empty list of strings" % where)
    out = dict(spec)
    out["bindings"] = list(bindings)
    if "proto" in known:
        proto = spec.get("proto")
        if proto not in ENDPOINT_PROTOS:
            raise ControlError(400, "%s.proto must be one of %s" % (where, ", ".join(ENDPOINT_PROTOS)))
        if not spec.get("upstream_url"):
            raise ControlError(400, "%s.upstream_url is required (e.g. tcp://localhost:22, localhost:22, 22)" % where)
    url = spec.get("url")
    if url is not None:
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        proto = spec.get("proto")
        wanted = {"tcp": ("tcp",), "tls": ("tls",), "http": ("http", "https"), "https": ("http", "https")}.get(
            proto, ("http", "https", "tcp", "tls"))
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ControlError(400, "%s.url %r is not a valid URL" % (where, url)) from None
        if scheme not in wanted or not parts.hostname or (scheme == "tcp" and port is None):
            raise ControlError(400, "%s.url %r must be a %s URL with a host%s" % (
                where, url, " or ".join(s + "://" for s in wanted), " and a port" if scheme == "tcp" else ""))
    elif "proto" not in known:
        raise ControlError(400, "%s.url is required for a cloud endpoint" % where)
    return out


def _random_url(proto):
    """A new public address, as ngrok gives an endpoint without a reserved one."""
    if proto == "tcp":
        return "tcp://%d.tcp.ngrok.io:%d" % (secrets.randbelow(9), 10000 + secrets.randbelow(20000))
    host = "%s.ngrok-free.app" % secrets.token_hex(6)
    return ("tls://%s:443" if proto == "tls" else "https://%s") % host


def _endpoint_record(endpoint_id, created, kind, spec, url, session_id=None, region="us"):
    """An endpoint as the emulator keeps it (turned into ngrok's JSON by ``_endpoint_json``)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443, "tls": 443}.get(scheme)
    proto = spec.get("proto") or scheme
    return {"id": endpoint_id, "type": kind, "proto": proto, "url": url, "scheme": scheme,
            "hostport": "%s:%s" % (parts.hostname, port), "upstream_url": spec.get("upstream_url"),
            "name": spec.get("name") or ("command_line" if kind == "agent" else ""),
            "description": spec.get("description") or "", "metadata": spec.get("metadata") or "",
            "bindings": list(spec.get("bindings") or ["public"]), "created_at": created,
            "created_text": format_rfc3339(created), "session_id": session_id, "region": region,
            "tunnel_id": new_id("tn") if session_id else None, "filter_view": None}


class _Agent:
    __slots__ = ("agent_id", "metadata", "os", "ip", "region", "agent_version", "credential_id", "transport",
                 "reconnect", "reconnect_delay", "restart_on_stop", "fail_restart", "fail_stop", "fail_update",
                 "update_to", "session_id", "started_at", "started_text", "history", "state",
                 "gen", "due", "filter_view", "updated_to", "updated_at", "endpoint_specs", "endpoints")

    def __init__(self, agent_id):
        self.agent_id = agent_id
        self.metadata = ""
        self.os = "linux"
        self.ip = ""
        self.region = "us"
        self.agent_version = DEFAULT_AGENT_VERSION
        self.credential_id = ""
        self.transport = "ngrok/2"
        self.reconnect = True
        self.reconnect_delay = None
        self.restart_on_stop = False
        self.fail_restart = None
        self.fail_stop = None
        self.fail_update = None
        self.update_to = None
        self.session_id = None
        self.started_at = None
        self.started_text = None
        self.history = []
        self.state = "new"
        self.gen = 0
        self.due = None
        self.filter_view = None
        self.updated_to = None  # the version an accepted update installed; it runs after the next reconnect
        self.updated_at = None
        self.endpoint_specs = []  # what the agent serves; each connect makes new endpoints of them
        self.endpoints = []  # the endpoint records of the current session

    def as_info(self, now):
        info = {"agent_id": self.agent_id, "metadata": self.metadata, "os": self.os, "state": self.state,
                "session_id": self.session_id, "history": list(self.history)}
        if self.state == "pending":
            info["reconnect_at"] = datetime.datetime.fromtimestamp(self.due, tz=datetime.timezone.utc).isoformat()
            info["reconnect_in"] = max(0.0, round(self.due - now, 3))
            info["previous_id"] = self.history[-1] if self.history else None
        if self.updated_to is not None:
            info["updated_to"] = self.updated_to
        return info


def _newest_first_page(ids, records, before_id, limit, predicate, view):
    """One page of a list, newest first, as ngrok pages: the records whose id sorts before ``before_id`` (all when
    None) and that match ``predicate`` (applied to ``view(record)``), at most ``limit``; and whether more follow."""
    end = bisect.bisect_left(ids, before_id) if before_id is not None else len(ids)
    page = []
    for idx in range(end - 1, -1, -1):
        record = records[ids[idx]]
        if predicate is not None and not predicate(view(record)):
            continue
        if len(page) == limit:
            return page, True
        page.append(record)
    return page, False


class State:
    """All mutable emulator state, guarded by one lock (``self.lock``)."""

    def __init__(self, config):
        self.lock = threading.Lock()
        self.base_config = dict(config)
        self.config = dict(config)
        self.all_keys = set(config["api_keys"])
        self.ids = _MonotonicIds()
        self._clear()

    def _clear(self):
        self.agents = {}
        self.sessions = {}
        self.sorted_ids = []
        self.pending = []
        self.faults = []
        self.fault_seq = 0
        self.log = deque(maxlen=MAX_LOG_ENTRIES)
        self.log_seq = 0
        self.rate = {}
        self.agent_seq = 0
        self.heap_seq = 0
        self.ip_seq = 0
        self.endpoints = {}  # endpoint id -> record: agent endpoints of connected sessions, and cloud endpoints
        self.endpoint_ids = []  # sorted

    def reset(self):
        with self.lock:
            self._clear()
            self.config = dict(self.base_config)

    # ---- agents & sessions (call with the lock held)

    def _materialize(self, now):
        pending = self.pending
        while pending and pending[0][0] <= now:
            due, _seq, gen, agent = heapq.heappop(pending)
            if agent.state == "pending" and agent.gen == gen:
                self._connect(agent, due)

    def _connect(self, agent, epoch, session_id=None, started=None):
        if session_id is None:
            session_id = self.ids.new("ts", epoch if started is None else started.timestamp(), monotonic=started is None)
        if started is None:
            started = _utc(epoch)
        agent.session_id = session_id
        if agent.updated_to is not None:  # the restarted agent runs the code its update installed
            agent.agent_version = agent.updated_to
            agent.updated_to = agent.updated_at = None
        agent.started_at = started
        agent.started_text = format_rfc3339(started)
        agent.state = "connected"
        agent.due = None
        agent.history.append(session_id)
        agent.filter_view = None
        self.sessions[session_id] = agent
        bisect.insort(self.sorted_ids, session_id)
        agent.endpoints = []
        for spec in agent.endpoint_specs:
            # a reserved address (url given) stays; any other is new at every connect, as after a restart
            record = _endpoint_record(self.ids.new("ep", started.timestamp(), monotonic=True), started, "agent", spec,
                                      spec.get("url") or _random_url(spec["proto"]), session_id, agent.region)
            agent.endpoints.append(record)
            self._index_endpoint(record)

    def _index_endpoint(self, record):
        self.endpoints[record["id"]] = record
        bisect.insort(self.endpoint_ids, record["id"])

    def _unindex_endpoint(self, record):
        if self.endpoints.pop(record["id"], None) is not None:
            idx = bisect.bisect_left(self.endpoint_ids, record["id"])
            if idx < len(self.endpoint_ids) and self.endpoint_ids[idx] == record["id"]:
                del self.endpoint_ids[idx]

    def add_cloud_endpoints(self, specs, now=None):
        """Cloud endpoints (no tunnel session), from specs validated first, all or nothing. Returns their records."""
        if now is None:
            now = time.time()
        if isinstance(specs, dict):
            specs = [specs]
        if not isinstance(specs, list):
            raise ControlError(400, "expected a list of cloud endpoint specs")
        checked = [_check_endpoint_spec(spec, CLOUD_ENDPOINT_SPEC_FIELDS, i) for i, spec in enumerate(specs)]
        created = []
        with self.lock:
            for spec in checked:
                record = _endpoint_record(self.ids.new("ep", now), _utc(now).replace(microsecond=0), "cloud", spec,
                                          spec["url"])
                self._index_endpoint(record)
                created.append(record)
        return created

    def list_endpoints_page(self, before_id, limit, predicate, now):
        self._materialize(now)
        return _newest_first_page(self.endpoint_ids, self.endpoints, before_id, limit, predicate,
                                  self._endpoint_filter_view)

    @staticmethod
    def _endpoint_filter_view(record):
        view = record["filter_view"]
        if view is None:
            view = record["filter_view"] = {
                "id": record["id"], "created_at": record["created_at"], "description": record["description"],
                "metadata": record["metadata"], "type": record["type"], "binding": record["bindings"][0],
                "url": record["url"], "pooling_enabled": False, "scheme": record["scheme"],
                "region": record["region"], "name": record["name"],
            }
        return view

    def _disconnect(self, agent, reconnect, now):
        sid = agent.session_id
        if sid is not None and self.sessions.get(sid) is agent:
            del self.sessions[sid]
            idx = bisect.bisect_left(self.sorted_ids, sid)
            if idx < len(self.sorted_ids) and self.sorted_ids[idx] == sid:
                del self.sorted_ids[idx]
        agent.session_id = None
        agent.filter_view = None
        for record in agent.endpoints:
            self._unindex_endpoint(record)
        agent.endpoints = []
        agent.gen += 1
        if reconnect:
            delay = agent.reconnect_delay
            if delay is None:
                delay = self.config["reconnect_delay"]
            agent.state = "pending"
            agent.due = now + float(delay)
            self.heap_seq += 1
            heapq.heappush(self.pending, (agent.due, self.heap_seq, agent.gen, agent))
            if delay <= 0:
                self._materialize(now)
        else:
            agent.state = "gone"
            agent.due = None

    def add_agents(self, specs, now=None):
        """Create agents from specs (validated first, all or nothing). Returns the agents."""
        if now is None:
            now = time.time()
        if isinstance(specs, dict) and "sessions" in specs:
            specs = specs["sessions"]
        if isinstance(specs, dict):
            specs = [specs]
        if not isinstance(specs, list):
            raise ControlError(400, "expected a list of session specs or {\"sessions\": [...]}")
        with self.lock:
            self._materialize(now)
            prepared = []
            seen_ids = set()
            seen_agents = set()
            for index, spec in enumerate(specs):
                try:
                    item = self._prepare(spec, seen_ids, seen_agents)
                except ControlError as exc:
                    raise ControlError(exc.status, "session spec #%d: %s" % (index, exc.msg)) from None
                prepared.append(item)
            created = []
            for agent, session_id, started in prepared:
                self.agents[agent.agent_id] = agent
                self._connect(agent, now, session_id=session_id, started=started)
                created.append(agent)
            return created

    def _prepare(self, spec, seen_ids, seen_agents):
        if not isinstance(spec, dict):
            raise ControlError(400, "a session spec must be an object")
        unknown = set(spec) - SPEC_FIELDS
        if unknown:
            raise ControlError(400, "unknown fields %s (known: %s)" % (sorted(unknown), ", ".join(sorted(SPEC_FIELDS))))
        for field in ("id", "agent_id", "metadata", "os", "ip", "region", "agent_version", "credential_id",
                      "started_at", "transport", "update_to"):
            if spec.get(field) is not None and not isinstance(spec[field], str):
                raise ControlError(400, "%s must be a string" % field)
        for field in ("reconnect", "restart_on_stop"):
            if spec.get(field) is not None and not isinstance(spec[field], bool):
                raise ControlError(400, "%s must be a boolean" % field)
        delay = spec.get("reconnect_delay")
        if delay is not None and (isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0):
            raise ControlError(400, "reconnect_delay must be a number >= 0")
        session_id = spec.get("id")
        if session_id is not None:
            if not _ID_RE.match(session_id):
                raise ControlError(400, "id must be 'ts_' followed by 27 characters of [0-9A-Za-z]")
            if session_id in self.sessions or session_id in seen_ids:
                raise ControlError(409, "id %s is already in use" % session_id)
            seen_ids.add(session_id)
        cred = spec.get("credential_id")
        if cred is not None and not cred:
            raise ControlError(400, "credential_id must not be empty")
        started = None
        if spec.get("started_at") is not None:
            try:
                started = parse_rfc3339(spec["started_at"]).replace(microsecond=0)
            except ValueError as exc:
                raise ControlError(400, "started_at: %s" % exc) from None
        metadata = spec.get("metadata") or ""
        if len(metadata) > 4096:
            raise ControlError(400, "metadata is longer than 4096 characters")
        agent_id = spec.get("agent_id")
        if agent_id is None:
            self.agent_seq += 1
            agent_id = "agent-%04d" % self.agent_seq
            while agent_id in self.agents or agent_id in seen_agents:
                self.agent_seq += 1
                agent_id = "agent-%04d" % self.agent_seq
        elif agent_id in self.agents and self.agents[agent_id].state != "gone" or agent_id in seen_agents:
            raise ControlError(409, "agent_id %s is already in use" % agent_id)
        seen_agents.add(agent_id)
        agent = _Agent(agent_id)
        agent.metadata = metadata
        agent.os = spec.get("os") or "linux"
        if spec.get("ip"):
            agent.ip = spec["ip"]
        else:
            self.ip_seq += 1
            agent.ip = "10.%d.%d.%d" % (100 + (self.ip_seq >> 16) % 150, (self.ip_seq >> 8) & 255, self.ip_seq & 255)
        agent.region = spec.get("region") or "us"
        agent.agent_version = spec.get("agent_version") or DEFAULT_AGENT_VERSION
        agent.credential_id = cred or new_id("cr")
        agent.transport = spec.get("transport") or "ngrok/2"
        agent.reconnect = spec.get("reconnect", True) is not False
        agent.reconnect_delay = delay
        agent.restart_on_stop = bool(spec.get("restart_on_stop", False))
        agent.fail_restart = _failure(spec, "fail_restart")
        agent.fail_stop = _failure(spec, "fail_stop")
        agent.fail_update = _failure(spec, "fail_update")
        agent.update_to = spec.get("update_to")
        endpoints = spec.get("endpoints") or []
        if not isinstance(endpoints, list):
            raise ControlError(400, "endpoints must be a list of endpoint specs")
        agent.endpoint_specs = [_check_endpoint_spec(e, ENDPOINT_SPEC_FIELDS, i) for i, e in enumerate(endpoints)]
        return agent, session_id, started

    def remove(self, key, now=None):
        """Control DELETE: the agent owning session ``key`` (or agent id ``key``) disconnects for good."""
        if now is None:
            now = time.time()
        with self.lock:
            self._materialize(now)
            agent = self.sessions.get(key) or self.agents.get(key)
            if agent is None or agent.state == "gone":
                return None
            self._disconnect(agent, False, now)
            return agent.agent_id

    def snapshot(self, now, base):
        """(API JSON of the connected sessions newest first, info of every agent)."""
        with self.lock:
            self._materialize(now)
            sessions = [_session_json(self.sessions[sid], base) for sid in reversed(self.sorted_ids)]
            agents = [a.as_info(now) for a in self.agents.values()]
        return sessions, agents

    # ---- API operations (call with the lock held)

    def find(self, session_id, now):
        self._materialize(now)
        return self.sessions.get(session_id)

    def check_rate(self, key, now):
        """Count one request; return None when accepted or the seconds until a slot frees.

        A rejected request counts too with ``rate_count_rejected``: then the wait is until the window
        holds fewer than ``rate_limit`` requests, this rejected one included.
        """
        limit = self.config["rate_limit"]
        if not limit:
            return None
        window = self.config["rate_window"]
        bucket_key = key if self.config["rate_scope"] == "key" else ""
        bucket = self.rate.get(bucket_key)
        if bucket is None:
            bucket = self.rate[bucket_key] = deque()
        cutoff = now - window
        while bucket and bucket[0] <= cutoff:
            bucket.popleft()
        if len(bucket) < limit:
            bucket.append(now)
            return None
        if self.config["rate_count_rejected"]:
            bucket.append(now)
        return bucket[len(bucket) - limit] + window - now

    def list_page(self, before_id, limit, predicate, now):
        self._materialize(now)
        return _newest_first_page(self.sorted_ids, self.sessions, before_id, limit, predicate, self._filter_view)

    @staticmethod
    def _filter_view(agent):
        view = agent.filter_view
        if view is None:
            view = agent.filter_view = {
                "id": agent.session_id, "metadata": agent.metadata, "agent_version": agent.agent_version,
                "ip": agent.ip, "os": agent.os, "region": agent.region,
                "started_at": agent.started_at,
                "credential": _Credential(agent.credential_id, "/credentials/" + agent.credential_id),
            }
        return view

    def _fail(self, agent, attr):
        failure = getattr(agent, attr)
        if failure is None:
            return None
        if failure["count"] is not None:
            failure["count"] -= 1
            if failure["count"] <= 0:
                setattr(agent, attr, None)
        return failure

    def restart(self, agent, now):
        if agent.os.lower() == "windows":
            raise ApiError(400, "ERR_NGROK_804", "This agent does not support remote restart: remote restart is not supported "
                                                 "on Windows. Stop the agent instead and let the service manager restart it.")
        if agent.transport == "ssh":
            raise ApiError(400, "ERR_NGROK_1122", ERROR_MESSAGES["ERR_NGROK_1122"])
        failure = self._fail(agent, "fail_restart")
        if failure is not None:
            if failure["apply"]:
                self._disconnect(agent, agent.reconnect, now)
            raise ApiError(failure["status"], failure["error_code"], failure["msg"])
        self._disconnect(agent, agent.reconnect, now)

    def stop(self, agent, now):
        failure = self._fail(agent, "fail_stop")
        if failure is not None:
            if failure["apply"]:
                self._disconnect(agent, agent.restart_on_stop, now)
            raise ApiError(failure["status"], failure["error_code"], failure["msg"])
        self._disconnect(agent, agent.restart_on_stop, now)

    def update(self, agent, now):
        """The spec: the agent installs the update and runs it only once restarted; until then the
        session (and its agent_version) stays as it was, and ngrok refuses another update."""
        if agent.transport == "ssh":
            raise ApiError(400, "ERR_NGROK_1121", ERROR_MESSAGES["ERR_NGROK_1121"])
        target = agent.update_to or self.config["update_to"]
        failure = self._fail(agent, "fail_update")
        if failure is not None:
            if failure["apply"] and agent.updated_to is None and agent.agent_version != target:
                agent.updated_to, agent.updated_at = target, now
            raise ApiError(failure["status"], failure["error_code"], failure["msg"])
        if agent.updated_to is not None:
            if now - agent.updated_at < UPDATE_SECONDS:
                why = "the agent is currently in process of updating"
            else:
                why = "the agent has already updated to %s but has not been restarted yet" % agent.updated_to
            raise ApiError(400, "ERR_NGROK_809", "The agent failed to update: %s." % why)
        if agent.agent_version == target:
            raise ApiError(400, "ERR_NGROK_809", "The agent failed to update: no update available (the agent already "
                                                 "runs %s)." % target)
        agent.updated_to, agent.updated_at = target, now

    # ---- faults

    def add_faults(self, specs):
        if isinstance(specs, dict) and "faults" in specs:
            specs = specs["faults"]
        if isinstance(specs, dict):
            specs = [specs]
        if not isinstance(specs, list):
            raise ControlError(400, "expected a fault object or a list of them")
        prepared = []
        for index, spec in enumerate(specs):
            try:
                prepared.append(_prepare_fault(spec))
            except ControlError as exc:
                raise ControlError(400, "fault #%d: %s" % (index, exc.msg)) from None
        with self.lock:
            for fault in prepared:
                self.fault_seq += 1
                fault["id"] = self.fault_seq
                if fault["name"] is None:
                    fault["name"] = "%s#%d" % (fault["action"], fault["id"])
                self.faults.append(fault)
            return [_fault_public(f) for f in prepared]

    def take_fault(self, method, path):
        faults = self.faults
        if not faults:
            return None
        with self.lock:
            for idx, fault in enumerate(faults):
                if fault["method"] not in ("*", method) or not fault["regex"].fullmatch(path):
                    continue
                if fault["remaining"] is not None:
                    fault["remaining"] -= 1
                    if fault["remaining"] <= 0:
                        del faults[idx]
                return fault
        return None

    # ---- request log

    def record(self, entry):
        with self.lock:
            self.log_seq += 1
            entry["seq"] = self.log_seq
            self.log.append(entry)

    def scrub(self, text):
        if not text:
            return text
        for key in self.all_keys:
            if key in text:
                text = text.replace(key, "<redacted>")
        return text

    def public_config(self):
        config = dict(self.config)
        config["api_key_count"] = len(config.pop("api_keys"))
        return config

    def set_config(self, body):
        if not isinstance(body, dict):
            raise ControlError(400, "config must be an object")
        unknown = set(body) - set(CONFIG_VALIDATORS)
        if unknown:
            raise ControlError(400, "unknown config keys %s (known: %s)" % (sorted(unknown), ", ".join(sorted(CONFIG_VALIDATORS))))
        new = {}
        for key, value in body.items():
            check, hint = CONFIG_VALIDATORS[key]
            if not check(value):
                raise ControlError(400, "%s must be %s" % (key, hint))
            new[key] = list(value) if key == "api_keys" else value
        with self.lock:
            self.config.update(new)
            if "api_keys" in new:
                self.all_keys.update(new["api_keys"])
            return self.public_config()


def _page_params(query, schema):
    """(limit text, limit, before_id, filter text, predicate) of a list request; ApiError when invalid."""
    params = parse_qs(query, keep_blank_values=True)
    limit_text = params.get("limit", [""])[-1]
    limit = MAX_LIMIT
    if limit_text != "":
        try:
            limit = int(limit_text.strip())
        except ValueError:
            limit = -1
        if not 1 <= limit <= MAX_LIMIT or not re.match(r"^[0-9]+$", limit_text.strip()):
            raise ApiError(400, "ERR_NGROK_233", "Invalid limit %r: %s" % (limit_text[:40], ERROR_MESSAGES["ERR_NGROK_233"]))
    before_id = params.get("before_id", [""])[-1] or None
    filter_text = params.get("filter", [""])[-1]
    predicate = None
    if filter_text.strip():
        try:
            predicate = compile_filter(filter_text, schema)
        except CelError as exc:
            raise ApiError(400, "ERR_NGROK_250", "Invalid CEL query: %s" % exc) from None
    return limit_text, limit, before_id, filter_text, predicate


def _next_page_uri(list_uri, last_id, limit_text, limit, filter_text):
    pairs = [("before_id", last_id)]
    if limit_text != "":
        pairs.append(("limit", str(limit)))
    if filter_text.strip():
        pairs.append(("filter", filter_text))
    return list_uri + "?" + urlencode(pairs, quote_via=quote)


def _is_num(value, minimum, strict=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return False
    return value > minimum if strict else value >= minimum


CONFIG_VALIDATORS = {
    "rate_limit": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "an integer >= 0 (0 disables)"),
    "rate_window": (lambda v: _is_num(v, 0, strict=True), "a number > 0"),
    "retry_after": (lambda v: isinstance(v, bool), "a boolean"),
    "reconnect_delay": (lambda v: _is_num(v, 0), "a number >= 0"),
    "api_keys": (lambda v: isinstance(v, list) and bool(v) and all(isinstance(k, str) and k for k in v),
                 "a non-empty list of non-empty strings"),
    "rate_scope": (lambda v: v in ("account", "key"), "'account' or 'key'"),
    "rate_count_rejected": (lambda v: isinstance(v, bool), "a boolean"),
    "update_to": (lambda v: isinstance(v, str) and bool(v), "a non-empty string"),
}

FAULT_ACTIONS = ("respond", "drop_before", "drop_after", "delay", "slow_body", "big_body")
_FAULT_FIELDS = frozenset(("name", "method", "path", "count", "action", "status", "headers", "body", "delay", "apply",
                           "size", "error_code", "msg"))


def _prepare_fault(spec):
    if not isinstance(spec, dict):
        raise ControlError(400, "a fault must be an object")
    unknown = set(spec) - _FAULT_FIELDS
    if unknown:
        raise ControlError(400, "unknown fields %s (known: %s)" % (sorted(unknown), ", ".join(sorted(_FAULT_FIELDS))))
    action = spec.get("action", "respond")
    if action not in FAULT_ACTIONS:
        raise ControlError(400, "action must be one of %s" % ", ".join(FAULT_ACTIONS))
    method = str(spec.get("method", "*")).upper()
    path = spec.get("path", ".*")
    if not isinstance(path, str):
        raise ControlError(400, "path must be a regular expression string")
    try:
        regex = re.compile(path)
    except re.error as exc:
        raise ControlError(400, "path is not a valid regular expression: %s" % exc) from None
    count = spec.get("count", 1)
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ControlError(400, "count must be a positive integer (or null for unlimited)")
    status = spec.get("status", 200 if action == "big_body" else 500)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise ControlError(400, "status must be an HTTP status code")
    headers = spec.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, (str, int, float)) for k, v in headers.items()):
        raise ControlError(400, "headers must be an object of strings")
    body = spec.get("body")
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    delay = spec.get("delay", {"delay": 1.0, "slow_body": 2.0}.get(action, 0.0))
    if not _is_num(delay, 0):
        raise ControlError(400, "delay must be a number >= 0")
    apply_ = spec.get("apply", action == "delay")
    if not isinstance(apply_, bool):
        raise ControlError(400, "apply must be a boolean")
    size = spec.get("size", BIG_BODY_DEFAULT)
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ControlError(400, "size must be an integer >= 0")
    for field in ("name", "error_code", "msg"):
        if spec.get(field) is not None and not isinstance(spec[field], str):
            raise ControlError(400, "%s must be a string" % field)
    return {"name": spec.get("name"), "method": method, "path": path, "regex": regex, "count": count, "remaining": count,
            "action": action, "status": status, "headers": {k: str(v) for k, v in headers.items()}, "body": body,
            "delay": float(delay), "apply": apply_, "size": size, "error_code": spec.get("error_code"), "msg": spec.get("msg")}


def _fault_public(fault):
    return {k: v for k, v in fault.items() if k != "regex"}


# --------------------------------------------------------------------------- HTTP

_ROUTE_RE = re.compile(r"^/tunnel_sessions(?:/([^/]+)(?:/(restart|stop|update))?)?$")
_ENDPOINTS_ROUTE_RE = re.compile(r"^/endpoints(?:/([^/]+))?$")
_JSON_CT = "application/json"


def _session_json(agent, base):
    data = {
        "agent_version": agent.agent_version,
        "credential": {"id": agent.credential_id, "uri": base + "/credentials/" + agent.credential_id},
        "id": agent.session_id,
        "ip": agent.ip,
    }
    if agent.metadata:
        data["metadata"] = agent.metadata
    data["os"] = agent.os
    data["region"] = agent.region
    data["started_at"] = agent.started_text
    data["transport"] = agent.transport
    data["uri"] = base + "/tunnel_sessions/" + agent.session_id
    return data


def _endpoint_json(record, base):
    """An endpoint in ngrok's shape (fields absent when empty; agent endpoints link their session)."""
    data = {"id": record["id"], "region": record["region"], "created_at": record["created_text"],
            "updated_at": record["created_text"], "public_url": record["url"], "proto": record["proto"],
            "hostport": record["hostport"], "type": record["type"], "uri": base + "/endpoints/" + record["id"],
            "url": record["url"], "bindings": list(record["bindings"]),
            "principal": {"id": "usr_2EmulatorPrincipal000000000", "uri": ""}}
    for field in ("upstream_url", "name", "description", "metadata"):
        if record[field]:
            data[field] = record[field]
    if record["session_id"]:
        data["tunnel_session"] = {"id": record["session_id"], "uri": base + "/tunnel_sessions/" + record["session_id"]}
        data["tunnel"] = {"id": record["tunnel_id"], "uri": base + "/tunnels/" + record["tunnel_id"]}
    return data


class _Dropped(Exception):
    """The response was deliberately not sent."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ngrok-emulator"
    sys_version = ""
    timeout = 120

    # every method goes through the same dispatcher so unknown methods get 405, not 501
    def do_GET(self):  # noqa: N802 pylint: disable=invalid-name
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_GET

    def __getattr__(self, name):
        # any other method (TRACE, PROPFIND...): http.server would answer 501 in HTML, unlogged
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        emulator = self.server.emulator
        if emulator.verbose:
            emulator.log("%s %s" % (self.address_string(), emulator.state.scrub(format % args)))

    # ---- plumbing

    def _base(self):
        host = self.headers.get("Host")
        if not host:
            host = "%s:%d" % (self.server.server_address[0], self.server.server_address[1])
        return "http://" + host

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self.close_connection = True
            raise ApiError(400, None, "Chunked request bodies are not supported by the emulator; send Content-Length.")
        length = self.headers.get("Content-Length")
        if length is None:
            return None
        try:
            size = int(length)
        except ValueError:
            self.close_connection = True
            raise ApiError(400, None, "Invalid Content-Length header.") from None
        if size < 0 or size > MAX_BODY:
            self.close_connection = True
            raise ApiError(413 if size > 0 else 400, None, "Request body too large." if size > 0 else "Invalid Content-Length.")
        return self.rfile.read(size) if size else b""

    def _send(self, status, headers, body, slow=None):
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 204 and status >= 200:
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not body or self.command == "HEAD" or status == 204:
            if slow:
                time.sleep(slow)
            self.wfile.flush()
            return
        if slow:
            self.wfile.flush()
            pieces = max(1, min(len(body), 20))
            step = -(-len(body) // pieces)
            pause = slow / pieces
            for start in range(0, len(body), step):
                time.sleep(pause)
                self.wfile.write(body[start:start + step])
                self.wfile.flush()
        else:
            self.wfile.write(body)

    def _drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _dispatch(self):
        emulator = self.server.emulator
        emulator.touch()
        try:
            split = urlsplit(self.path)
            if split.path == "/_emulator" or split.path.startswith("/_emulator/"):
                self._control(split)
            else:
                self._api(split)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True
        finally:
            emulator.touch()

    # ---- API

    def _api(self, split):
        emulator = self.server.emulator
        state = emulator.state
        method = self.command
        path = split.path
        started = time.time()
        op_id = new_id("op")
        entry = {"seq": None, "time": started, "method": method, "path": state.scrub(path),
                 "query": {state.scrub(k): [state.scrub(v) for v in vals] for k, vals in
                           parse_qs(split.query, keep_blank_values=True).items()},
                 "headers": self._logged_headers(state), "body": None, "status": None, "fault": None,
                 "operation_id": op_id, "retry_after": None}
        fault = state.take_fault(method, path)
        if fault is not None:
            entry["fault"] = fault["name"]
        try:
            if fault is not None and fault["action"] == "drop_before":
                self._drop_logged(state, entry)
                return
            if fault is not None and fault["action"] == "delay":
                time.sleep(fault["delay"])
                if not fault["apply"]:
                    self._drop_logged(state, entry)
                    return
            try:
                raw = self._read_body()
                if raw is not None:
                    entry["body"] = state.scrub(raw.decode("utf-8", "replace"))
                run_real = fault is None or fault["action"] in ("delay", "slow_body", "drop_after") or fault["apply"]
                status, headers, body = self._api_handle(method, path, split.query, raw, op_id) if run_real else (None, None, None)
            except ApiError as exc:
                status, headers, body = self._error(exc, op_id)
            if fault is not None:
                action = fault["action"]
                if action == "drop_after":
                    self._drop_logged(state, entry)
                    return
                if action == "respond":
                    status, headers, body = self._fault_response(fault, op_id)
                elif action == "big_body":
                    status, headers, body = self._big_body(fault, op_id)
            entry["status"] = status
            entry["retry_after"] = (headers or {}).get("Retry-After")
            # logged before answering, so a client that got its answer finds its request in the log
            state.record(entry)
            self._send(status, headers, body, slow=fault["delay"] if fault is not None and fault["action"] == "slow_body" else None)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True
            with state.lock:
                entry["status"] = "dropped"
            if entry["seq"] is None:
                state.record(entry)

    def _drop_logged(self, state, entry):
        entry["status"] = "dropped"
        state.record(entry)
        self._drop()

    def _logged_headers(self, state):
        headers = {}
        for name, value in self.headers.items():
            lname = name.lower()
            if lname == "authorization":
                token = value[7:] if value[:7].lower() == "bearer " else None
                valid = token is not None and token.strip() in state.config["api_keys"]
                headers[lname] = "Bearer <valid>" if valid else "Bearer <invalid>"
            else:
                headers[lname] = state.scrub(value)
        return headers

    def _error(self, exc, op_id):
        headers = {"Content-Type": _JSON_CT, "ngrok-operation-id": op_id}
        headers.update(exc.headers)
        if exc.status == 404 and exc.code is None:
            body = {"details": {"operation_id": op_id}, "msg": exc.msg, "status_code": 404}
        else:
            body = error_body(exc.status, exc.code, exc.msg, op_id)
        return exc.status, headers, json.dumps(body).encode()

    def _fault_response(self, fault, op_id):
        status = fault["status"]
        headers = {"ngrok-operation-id": op_id}
        if fault["body"] is not None:
            body = fault["body"].encode("utf-8")
            headers["Content-Type"] = _JSON_CT
        elif status >= 400:
            body = json.dumps(standard_error(status, op_id, fault["error_code"], fault["msg"])).encode()
            headers["Content-Type"] = _JSON_CT
        else:
            body = b""
        headers.update(fault["headers"])
        return status, headers, body

    def _big_body(self, fault, op_id):
        head = ('{"tunnel_sessions": [], "uri": "%s/tunnel_sessions", "next_page_uri": null, "padding": "'
                % self._base()).encode()
        pad = max(0, fault["size"] - len(head) - 2)
        headers = {"Content-Type": _JSON_CT, "ngrok-operation-id": op_id}
        headers.update(fault["headers"])
        return fault["status"], headers, head + b"x" * pad + b'"}'

    def _authorize(self, state):
        auth = self.headers.get("Authorization")
        if auth is None:
            raise ApiError(401, "ERR_NGROK_200", ERROR_MESSAGES["ERR_NGROK_200"])
        parts = auth.split(None, 1)
        if len(parts) != 2 or parts[0].lower() != "bearer" or not parts[1].strip():
            raise ApiError(401, "ERR_NGROK_201", ERROR_MESSAGES["ERR_NGROK_201"])
        token = parts[1].strip()
        if token not in state.config["api_keys"]:
            raise ApiError(401, "ERR_NGROK_203", ERROR_MESSAGES["ERR_NGROK_203"])
        version = self.headers.get("Ngrok-Version")
        if version is None or not version.strip():  # an empty value is no version (Go's Header.Get gives "" for both)
            raise ApiError(400, "ERR_NGROK_218", ERROR_MESSAGES["ERR_NGROK_218"])
        if version.strip() != API_VERSION:
            raise ApiError(400, "ERR_NGROK_217", "Unsupported 'Ngrok-Version' %r: the only supported version is 2." % version[:40])
        return token

    def _api_handle(self, method, path, query, raw, op_id):
        emulator = self.server.emulator
        state = emulator.state
        token = self._authorize(state)
        now = time.time()
        with state.lock:
            wait = state.check_rate(token, now)
            config = state.config
        if wait is not None:
            headers = {}
            if config["retry_after"]:
                headers["Retry-After"] = str(max(1, int(math.ceil(wait - 1e-9))))
            raise ApiError(429, "ERR_NGROK_226", "You have exceeded the API rate limit for your account (%d requests per "
                                                 "%g seconds). Wait for the window to pass before retrying."
                           % (config["rate_limit"], config["rate_window"]), headers)
        endpoints_match = _ENDPOINTS_ROUTE_RE.match(path)
        if endpoints_match:
            return self._endpoints(state, method, endpoints_match.group(1), query, op_id)
        match = _ROUTE_RE.match(path)
        if not match:
            raise ApiError(404, None, "Resource not found")
        session_id, action = match.group(1), match.group(2)
        allowed = "POST" if action else "GET"
        if method != allowed:
            raise ApiError(405, None, "Method not allowed: %s %s (allowed: %s)." % (method, path, allowed), {"Allow": allowed})
        base = self._base()
        body = None
        if action:
            self._check_json_body(raw)
        if session_id is None:
            return self._list(state, query, base, op_id)
        with state.lock:
            agent = state.find(session_id, now)
            if agent is None:
                raise ApiError(404, None, "Resource not found")
            if action is None:
                body = _session_json(agent, base)
            elif action == "restart":
                state.restart(agent, now)
            elif action == "stop":
                state.stop(agent, now)
            else:
                state.update(agent, now)
        headers = {"ngrok-operation-id": op_id}
        if action:
            return 204, headers, b""
        headers["Content-Type"] = _JSON_CT
        return 200, headers, json.dumps(body).encode()

    def _check_json_body(self, raw):
        ctype = self.headers.get("Content-Type")
        if ctype is None or ctype.split(";", 1)[0].strip().lower() != _JSON_CT:
            raise ApiError(400, "ERR_NGROK_216", ERROR_MESSAGES["ERR_NGROK_216"])
        if not raw or not raw.strip():
            raise ApiError(400, "ERR_NGROK_213", "The request body could not be parsed as JSON: the body is empty (send {}).")
        try:
            data = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, "ERR_NGROK_213", "The request body could not be parsed as JSON: %s" % exc) from None
        if not isinstance(data, dict):
            raise ApiError(400, "ERR_NGROK_213", "The request body could not be parsed as JSON: expected an object.")

    def _endpoints(self, state, method, endpoint_id, query, op_id):
        """GET /endpoints (paged, filtered like the tunnel sessions) and GET /endpoints/{id}."""
        if method != "GET":
            raise ApiError(405, None, "Method not allowed: %s (allowed: GET)." % method, {"Allow": "GET"})
        base = self._base()
        headers = {"Content-Type": _JSON_CT, "ngrok-operation-id": op_id}
        if endpoint_id is not None:
            with state.lock:
                state._materialize(time.time())  # pylint: disable=protected-access
                record = state.endpoints.get(endpoint_id)
                if record is None:
                    raise ApiError(404, None, "Resource not found")
                return 200, headers, json.dumps(_endpoint_json(record, base)).encode()
        limit_text, limit, before_id, filter_text, predicate = _page_params(query, "endpoints")
        try:
            with state.lock:
                page, more = state.list_endpoints_page(before_id, limit, predicate, time.time())
                items = [_endpoint_json(record, base) for record in page]
        except CelError as exc:
            raise ApiError(400, "ERR_NGROK_250", "Invalid CEL query: %s" % exc) from None
        next_uri = None
        if more and items:
            next_uri = _next_page_uri(base + "/endpoints", items[-1]["id"], limit_text, limit, filter_text)
        body = {"endpoints": items, "uri": base + "/endpoints", "next_page_uri": next_uri}
        return 200, headers, json.dumps(body).encode()

    def _list(self, state, query, base, op_id):
        limit_text, limit, before_id, filter_text, predicate = _page_params(query, "tunnel_sessions")
        now = time.time()
        try:
            with state.lock:
                page, more = state.list_page(before_id, limit, predicate, now)
                items = [_session_json(agent, base) for agent in page]
        except CelError as exc:
            raise ApiError(400, "ERR_NGROK_250", "Invalid CEL query: %s" % exc) from None
        next_uri = None
        if more and items:
            next_uri = _next_page_uri(base + "/tunnel_sessions", items[-1]["id"], limit_text, limit, filter_text)
        body = {"tunnel_sessions": items, "uri": base + "/tunnel_sessions", "next_page_uri": next_uri}
        return 200, {"Content-Type": _JSON_CT, "ngrok-operation-id": op_id}, json.dumps(body).encode()

    # ---- control API

    def _control(self, split):
        emulator = self.server.emulator
        try:
            raw = self._read_body()
        except ApiError as exc:
            self._send_json(exc.status, {"error": exc.msg})
            return
        try:
            status, payload = emulator.control(self.command, split.path, split.query, raw, self._base())
        except ControlError as exc:
            status, payload = exc.status, {"error": exc.msg}
        self._send_json(status, payload)
        if split.path == "/_emulator/shutdown" and status == 200:
            emulator.stop_async()

    def _send_json(self, status, payload):
        self._send(status, {"Content-Type": _JSON_CT}, json.dumps(payload).encode())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, emulator):
        self.emulator = emulator
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, socket.timeout)):
            return
        self.emulator.log("error while handling a request from %s:\n%s" % (client_address[0], traceback.format_exc()))


# --------------------------------------------------------------------------- emulator

def agents_specs(count, endpoints=None):
    """Specs of the ``--agents N`` seed: host-001 .. host-N, each serving ``endpoints`` (endpoint specs)."""
    width = max(3, len(str(count)))
    specs = [{"metadata": "host-%0*d" % (width, i), "os": "linux", "ip": "10.%d.%d.%d" % (10 + i // 65536, (i // 256) % 256, i % 256),
              "region": "us", "agent_version": DEFAULT_AGENT_VERSION, "transport": "ngrok/2"} for i in range(1, count + 1)]
    if endpoints:
        for spec in specs:
            spec["endpoints"] = [dict(e) for e in endpoints]
    return specs


def parse_agent_endpoint(text):
    """An ``--agent-endpoint PROTO,UPSTREAM`` value as an endpoint spec (``tcp,tcp://localhost:22``)."""
    proto, sep, upstream = text.partition(",")
    if not sep or proto not in ENDPOINT_PROTOS or not upstream:
        raise ValueError("--agent-endpoint must be PROTO,UPSTREAM with PROTO one of %s, e.g. tcp,tcp://localhost:22; "
                         "got %r" % (", ".join(ENDPOINT_PROTOS), text))
    return {"proto": proto, "upstream_url": upstream}


def cloud_endpoint_specs(count):
    """Specs of the ``--cloud-endpoints N`` seed: https://cloud-001.ngrok.app .. (no tunnel session)."""
    return [{"url": "https://cloud-%03d.ngrok.app" % i, "name": "cloud-%03d" % i} for i in range(1, count + 1)]


def load_seed_file(path):
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if isinstance(data, dict) and "sessions" in data:
        data = data["sessions"]
    if not isinstance(data, list):
        raise ValueError("%s: expected a JSON list of session specs or {\"sessions\": [...]}" % path)
    return data


class Emulator:
    """The emulator server.  ``Emulator(...).start()`` listens in a background thread; ``url``, ``port``;
    ``stop()``; ``wait(timeout)``; usable as a context manager."""

    def __init__(self, host="127.0.0.1", port=0, api_keys=None, agents=0, seed=None, reconnect_delay=1.0,
                 rate_limit=120, rate_window=60.0, retry_after=False, rate_scope="account", update_to=DEFAULT_UPDATE_TO,
                 idle_timeout=600.0, max_lifetime=3600.0, verbose=False, log_stream=None, rate_count_rejected=False,
                 agent_endpoints=None, cloud_endpoints=0):
        config = {"rate_limit": int(rate_limit), "rate_window": float(rate_window), "retry_after": bool(retry_after),
                  "reconnect_delay": float(reconnect_delay), "api_keys": list(api_keys or [DEFAULT_API_KEY]),
                  "rate_scope": rate_scope, "update_to": update_to, "rate_count_rejected": bool(rate_count_rejected)}
        for key, value in config.items():
            check, hint = CONFIG_VALIDATORS[key]
            if not check(value):
                raise ValueError("%s must be %s" % (key, hint))
        self.host = host
        self.requested_port = int(port)
        self.seed_specs = agents_specs(int(agents), agent_endpoints) + list(seed or [])
        self.cloud_specs = cloud_endpoint_specs(int(cloud_endpoints))
        self.idle_timeout = float(idle_timeout)
        self.max_lifetime = float(max_lifetime)
        self.verbose = verbose
        self.log_stream = log_stream
        self.state = State(config)
        self.server = None
        self.port = None
        self.url = None
        self.exit_reason = None
        self._thread = None
        self._watchdog = None
        self._stopped = threading.Event()
        self._stopping = threading.Lock()
        self._last_request = time.monotonic()
        self._started = None
        if self.seed_specs:
            self.state.add_agents(self.seed_specs)
        if self.cloud_specs:
            self.state.add_cloud_endpoints(self.cloud_specs)

    def log(self, message):
        stream = self.log_stream or sys.stderr
        try:
            stream.write("%s ngrok-emulator: %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), message))
            stream.flush()
        except (OSError, ValueError):
            pass

    def touch(self):
        self._last_request = time.monotonic()

    def start(self):
        self.server = _Server((self.host, self.requested_port), self)
        self.port = self.server.server_address[1]
        host = self.host if ":" not in self.host else "[%s]" % self.host
        self.url = "http://%s:%d" % (host, self.port)
        self._started = self._last_request = time.monotonic()
        self._thread = threading.Thread(target=self._serve, name="ngrok-emulator", daemon=True)
        self._thread.start()
        self._watchdog = threading.Thread(target=self._watch, name="ngrok-emulator-watchdog", daemon=True)
        self._watchdog.start()
        return self

    def _serve(self):
        try:
            self.server.serve_forever(poll_interval=0.05)
        finally:
            with self._stopping:
                unexpected = self.exit_reason is None
                if unexpected:
                    self.exit_reason = "server loop ended"
            if unexpected:
                self.server.server_close()
                self._stopped.set()

    def _watch(self):
        limits = [t for t in (self.idle_timeout, self.max_lifetime) if t > 0]
        if not limits:
            return
        interval = max(0.01, min(1.0, min(limits) / 10.0))
        while not self._stopped.wait(interval):
            now = time.monotonic()
            if 0 < self.max_lifetime <= now - self._started:
                self.stop("max-lifetime of %gs reached" % self.max_lifetime)
                return
            if 0 < self.idle_timeout <= now - self._last_request:
                self.stop("idle for %gs" % self.idle_timeout)
                return

    def stop(self, reason="stopped"):
        """Stop serving (idempotent); must not be called from the serving thread itself."""
        with self._stopping:
            if self.server is None or self.exit_reason is not None:
                return
            self.exit_reason = reason
        if self.verbose:
            self.log("shutting down: %s" % reason)
        self.server.shutdown()
        self.server.server_close()
        self._stopped.set()

    def stop_async(self, reason="shutdown requested"):
        threading.Thread(target=self.stop, args=(reason,), daemon=True).start()

    def wait(self, timeout=None):
        """Wait until the server stopped; True if it did."""
        return self._stopped.wait(timeout)

    @property
    def running(self):
        return self.server is not None and not self._stopped.is_set()

    def __enter__(self):
        if self.server is None:
            self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    # ---- control API

    def control(self, method, path, query, raw, base):  # pylint: disable=too-many-return-statements,too-many-branches
        state = self.state
        body = None
        if raw and raw.strip():
            try:
                body = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise ControlError(400, "body is not valid JSON: %s" % exc) from None
        parts = path[len("/_emulator/"):].strip("/").split("/") if path.startswith("/_emulator/") else [""]
        route = parts[0]
        now = time.time()

        def need(*methods):
            if method not in methods:
                raise ControlError(405, "method %s not allowed on %s (allowed: %s)" % (method, path, ", ".join(methods)))

        if route == "health" and len(parts) == 1:
            need("GET")
            return 200, {"ok": True}
        if route == "reset" and len(parts) == 1:
            need("POST")
            state.reset()
            if isinstance(body, dict) and body.get("reseed"):
                if self.seed_specs:
                    state.add_agents(self.seed_specs)
                if self.cloud_specs:
                    state.add_cloud_endpoints(self.cloud_specs)
            return 200, {"ok": True}
        if route == "sessions" and len(parts) == 1:
            need("GET", "POST")
            if method == "POST":
                if body is None:
                    raise ControlError(400, "expected a JSON list of session specs")
                created = state.add_agents(body, now)
                with state.lock:
                    return 200, {"tunnel_sessions": [_session_json(a, base) for a in created]}
            sessions, agents = state.snapshot(now, base)
            return 200, {"tunnel_sessions": sessions, "pending": [a for a in agents if a["state"] == "pending"],
                         "history": {a["agent_id"]: a["history"] for a in agents}, "agents": agents}
        if route == "sessions" and len(parts) == 2:
            need("DELETE")
            agent_id = state.remove(parts[1], now)
            if agent_id is None:
                raise ControlError(404, "no connected or pending agent with session or agent id %s" % parts[1])
            return 200, {"ok": True, "agent_id": agent_id}
        if route == "endpoints" and len(parts) == 1:
            need("GET", "POST")
            if method == "POST":
                if body is None:
                    raise ControlError(400, "expected a JSON list of cloud endpoint specs")
                created = state.add_cloud_endpoints(body, now)
                return 200, {"endpoints": [_endpoint_json(r, base) for r in created]}
            with state.lock:
                state._materialize(now)  # pylint: disable=protected-access
                records = [state.endpoints[i] for i in reversed(state.endpoint_ids)]
                return 200, {"endpoints": [_endpoint_json(r, base) for r in records]}
        if route == "faults" and len(parts) == 1:
            need("GET", "POST", "DELETE")
            if method == "POST":
                return 200, {"faults": state.add_faults(body)}
            with state.lock:
                faults = [_fault_public(f) for f in state.faults]
                if method == "DELETE":
                    del state.faults[:]
            return 200, {"faults": faults}
        if route == "requests" and len(parts) == 1:
            need("GET", "DELETE")
            with state.lock:
                if method == "DELETE":
                    state.log.clear()
                    return 200, {"ok": True}
                since = parse_qs(query).get("since", ["0"])[-1]
                try:
                    since = int(since)
                except ValueError:
                    raise ControlError(400, "since must be an integer") from None
                return 200, {"requests": [dict(e) for e in state.log if e["seq"] > since]}
        if route == "config" and len(parts) == 1:
            need("GET", "POST")
            if method == "POST":
                return 200, state.set_config(body)
            with state.lock:
                return 200, state.public_config()
        if route == "shutdown" and len(parts) == 1:
            need("POST")
            return 200, {"ok": True}
        raise ControlError(404, "unknown control path %s" % path)


# --------------------------------------------------------------------------- CLI

def _parser():
    parser = argparse.ArgumentParser(
        prog="ngrok_emulator.py", allow_abbrev=False,
        description="Local emulator of the ngrok API TunnelSessions resource (see README.md beside this file).")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: pick a free one)")
    parser.add_argument("--api-key", action="append", dest="api_keys", metavar="KEY",
                        help="accepted API key, repeatable (default: test-api-key)")
    parser.add_argument("--api-key-file", metavar="PATH",
                        help="accepted API keys, one a line: keeps them out of command lines (ps, ansible -vvvv)")
    parser.add_argument("--agents", type=int, default=0, metavar="N", help="seed N linux agents host-001..host-N")
    parser.add_argument("--seed-file", metavar="PATH", help="JSON list of session specs to seed")
    parser.add_argument("--agent-endpoint", action="append", dest="agent_endpoints", metavar="PROTO,UPSTREAM",
                        help="every --agents agent serves this endpoint (repeatable), e.g. tcp,tcp://localhost:22; "
                             "a new random address at each connect")
    parser.add_argument("--cloud-endpoints", type=int, default=0, metavar="N",
                        help="seed N cloud endpoints (no tunnel session)")
    parser.add_argument("--reconnect-delay", type=float, default=1.0, metavar="SECONDS",
                        help="seconds before a restarted agent reconnects (default 1.0)")
    parser.add_argument("--rate-limit", type=int, default=120, metavar="N", help="requests per window, 0 disables (default 120)")
    parser.add_argument("--rate-window", type=float, default=60.0, metavar="SECONDS", help="rolling window (default 60)")
    parser.add_argument("--rate-scope", choices=("account", "key"), default="account",
                        help="one bucket for all keys (account, default) or one per API key")
    parser.add_argument("--rate-count-rejected", action="store_true",
                        help="rejected (429) requests count against the window too (as strict as ngrok may be)")
    parser.add_argument("--retry-after", action="store_true", help="send Retry-After on 429 (ngrok does not document it)")
    parser.add_argument("--update-to", default=DEFAULT_UPDATE_TO, metavar="VERSION",
                        help="agent_version after a successful update (default %s)" % DEFAULT_UPDATE_TO)
    parser.add_argument("--idle-timeout", type=float, default=600.0, metavar="SECONDS",
                        help="exit after this long without any request (default 600; <= 0 disables)")
    parser.add_argument("--max-lifetime", type=float, default=3600.0, metavar="SECONDS",
                        help="exit after this long in any case (default 3600; <= 0 disables)")
    parser.add_argument("--port-file", metavar="PATH", help="also write the startup JSON here (atomically)")
    parser.add_argument("--background", action="store_true", help="detach; return once listening")
    parser.add_argument("--log-file", metavar="PATH", help="log file (background: also the child's stdout/stderr)")
    parser.add_argument("--verbose", action="store_true", help="log every request line (API keys are redacted)")
    return parser


def _write_atomic(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".ngrok-emulator-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _tail(path, size=4000):
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - size))
            return handle.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _run_background(args, argv):
    child_argv = [a for a in argv if a != "--background"]
    workdir = tempfile.mkdtemp(prefix="ngrok-emulator-")
    try:
        port_file = args.port_file
        if port_file is None:
            port_file = os.path.join(workdir, "port.json")
            child_argv += ["--port-file", port_file]
        elif os.path.exists(port_file):
            os.unlink(port_file)
        log_path = args.log_file or os.path.join(workdir, "child.log")
        if not args.log_file:
            child_argv += ["--log-file", log_path]
        with open(os.devnull, "rb") as devnull, open(log_path, "ab") as log:
            proc = subprocess.Popen(  # pylint: disable=consider-using-with
                [sys.executable, os.path.abspath(__file__)] + child_argv, stdin=devnull, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, close_fds=True)
        deadline = time.monotonic() + 30.0
        while True:
            if os.path.exists(port_file):
                with open(port_file, encoding="utf-8") as handle:
                    info = json.load(handle)
                break
            code = proc.poll()
            if code is not None:
                sys.stderr.write("ngrok-emulator: failed to start (exit status %d)\n%s\n" % (code, _tail(log_path)))
                return code or 1
            if time.monotonic() > deadline:
                proc.kill()
                sys.stderr.write("ngrok-emulator: did not start listening within 30s\n%s\n" % _tail(log_path))
                return 1
            time.sleep(0.02)
        sys.stdout.write(json.dumps(info) + "\n")
        sys.stdout.flush()
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    args = _parser().parse_args(argv)
    if args.agents < 0:
        _parser().error("--agents must be >= 0")
    if args.api_key_file:
        try:
            with open(args.api_key_file, encoding="utf-8") as handle:
                file_keys = [line.strip() for line in handle if line.strip()]
        except OSError as exc:
            _parser().error("--api-key-file: %s" % exc)
        if not file_keys:
            _parser().error("--api-key-file %s holds no key" % args.api_key_file)
        args.api_keys = (args.api_keys or []) + file_keys
    if args.background:
        return _run_background(args, argv)
    log_stream = None
    if args.log_file:
        log_stream = open(args.log_file, "a", encoding="utf-8")  # pylint: disable=consider-using-with
    try:
        seed = load_seed_file(args.seed_file) if args.seed_file else None
        agent_endpoints = [parse_agent_endpoint(text) for text in args.agent_endpoints or []]
        emulator = Emulator(host=args.host, port=args.port, api_keys=args.api_keys, agents=args.agents, seed=seed,
                            agent_endpoints=agent_endpoints, cloud_endpoints=args.cloud_endpoints,
                            reconnect_delay=args.reconnect_delay, rate_limit=args.rate_limit, rate_window=args.rate_window,
                            retry_after=args.retry_after, rate_scope=args.rate_scope, update_to=args.update_to,
                            rate_count_rejected=args.rate_count_rejected,
                            idle_timeout=args.idle_timeout, max_lifetime=args.max_lifetime, verbose=args.verbose,
                            log_stream=log_stream)
        emulator.start()
    except (OSError, ValueError, ControlError) as exc:
        sys.stderr.write("ngrok-emulator: cannot start: %s\n" % (exc.msg if isinstance(exc, ControlError) else exc))
        if log_stream is not None:
            log_stream.close()
        return 2
    info = {"url": emulator.url, "pid": os.getpid(), "port": emulator.port}
    line = json.dumps(info)

    def on_signal(signum, _frame):
        emulator.stop_async("signal %d" % signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, on_signal)
    try:
        if args.port_file:
            _write_atomic(args.port_file, line + "\n")
        sys.stdout.write(line + "\n")
        sys.stdout.flush()
        while not emulator.wait(1.0):
            pass
        emulator.log("exiting: %s" % emulator.exit_reason)
        return 0
    finally:
        if args.port_file:
            try:
                os.unlink(args.port_file)
            except OSError:
                pass
        if log_stream is not None:
            log_stream.close()


if __name__ == "__main__":
    sys.exit(main())
