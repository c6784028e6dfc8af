# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Helpers for the unit tests: module args, exit/fail capture, fixtures' data.

Module args are set the way ansible-core's own test utilities do it:
``ansible.module_utils.testing.patch_module_args`` on ansible-core 2.19+,
patching ``ansible.module_utils.basic._ANSIBLE_ARGS`` on older versions.
"""

from __future__ import annotations

import contextlib
import json
from unittest import mock

from ansible.module_utils import basic
from ansible.module_utils.common.text.converters import to_bytes

try:
    from ansible.module_utils.testing import patch_module_args as _core_patch_module_args
except ImportError:  # ansible-core < 2.19
    _core_patch_module_args = None

#: A distinctive API key: it must never show up in a result or a message.
API_KEY = "2xQkEYsecret_DO_NOT_LEAK_7f3a9c41e0"
API_URL = "https://api.ngrok.com"

OLD_ID = "ts_32ELGMEqDFAlN8JoGk7mAGg7z6B"
NEW_ID = "ts_32ELZZnewSessionAfterRestart1"
OTHER_ID = "ts_32ELAAanotherSessionSameAgnt"
CREDENTIAL_ID = "cr_32ELG6KEtDBUO1jDXSqtOey4NgM"
SERVER_DATE = "Thu, 04 Sep 2025 10:15:00 GMT"
SERVER_DATE_RFC3339 = "2025-09-04T10:15:00Z"


def make_session(session_id=OLD_ID, **overrides):
    """A tunnel session as ngrok returns it (ngrok's own example)."""
    session = {
        "agent_version": "3.1000.0-development",
        "credential": {"id": CREDENTIAL_ID, "uri": "https://api.ngrok.com/credentials/%s" % CREDENTIAL_ID},
        "id": session_id,
        "ip": "10.110.2.2",
        "metadata": "web-01",
        "os": "linux",
        "region": "us",
        "started_at": "2025-09-04T10:11:27Z",
        "transport": "ngrok/2",
        "uri": "https://api.ngrok.com/tunnel_sessions/%s" % session_id,
    }
    session.update(overrides)
    return {k: v for k, v in session.items() if v is not None}


def ngrok_error(status, msg, error_code=None, operation_id="op_32ELGiMyruN4J6Yn0fduKjIT6ug"):
    body = {"status_code": status, "msg": msg, "details": {"operation_id": operation_id}}
    if error_code:
        body["error_code"] = error_code
    return body


class AnsibleExitJson(Exception):
    """exit_json was called; ``result`` holds its arguments."""

    def __init__(self, result):
        super().__init__(result)
        self.result = result


class AnsibleFailJson(Exception):
    """fail_json was called; ``result`` holds its arguments."""

    def __init__(self, result):
        super().__init__(result)
        self.result = result


@contextlib.contextmanager
def set_module_args(args=None):
    """Expose ``args`` to every AnsibleModule created inside the context."""
    args = dict(args or {})
    if _core_patch_module_args is not None:
        with _core_patch_module_args(args):
            yield
        return
    args.setdefault("_ansible_remote_tmp", "/tmp")
    args.setdefault("_ansible_keep_remote_files", False)
    data = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(basic, "_ANSIBLE_ARGS", data))
        if hasattr(basic, "_ANSIBLE_PROFILE"):
            stack.enter_context(mock.patch.object(basic, "_ANSIBLE_PROFILE", "legacy"))
        yield


def _exit_json(self, **kwargs):
    raise AnsibleExitJson(kwargs)


def _fail_json(self, msg=None, **kwargs):
    kwargs["failed"] = True
    kwargs["msg"] = msg
    raise AnsibleFailJson(kwargs)


@contextlib.contextmanager
def capture_exit_fail():
    with mock.patch.multiple(basic.AnsibleModule, exit_json=_exit_json, fail_json=_fail_json):
        yield


def assert_no_api_key(result):
    """The API key appears nowhere in the result (scanned as JSON)."""
    text = json.dumps(result, default=repr)
    assert API_KEY not in text
    assert API_KEY[:12] not in text


def _args(args, with_key):
    args = dict(args)
    if with_key and "api_key" not in args:
        args["api_key"] = API_KEY
    return args


def _run(main, args):
    """Run ``main()``; return the AnsibleExitJson or AnsibleFailJson it raised."""
    with set_module_args(args), capture_exit_fail():
        try:
            main()
        except (AnsibleExitJson, AnsibleFailJson) as exc:
            return exc
    raise AssertionError("the module neither exited nor failed")


def run_module_ok(main, args, with_key=True):
    """Run ``main()``; it must exit successfully. Returns the result."""
    result = _run(main, _args(args, with_key))
    if isinstance(result, AnsibleFailJson):
        raise AssertionError("the module failed: %r" % (result.result,))
    assert_no_api_key(result.result)
    return result.result


def run_module_fail(main, args, with_key=True):
    """Run ``main()``; it must fail. Returns the result."""
    result = _run(main, _args(args, with_key))
    if isinstance(result, AnsibleExitJson):
        raise AssertionError("the module did not fail: %r" % (result.result,))
    assert result.result["failed"] is True
    assert_no_api_key(result.result)
    return result.result
