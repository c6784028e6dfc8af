# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import re

import pytest

from ansible_collections.community.ngrok.plugins.module_utils._client import NgrokError
from ansible_collections.community.ngrok.plugins.module_utils._module import (
    NgrokModule,
    check_api_key,
    check_api_url,
    check_number,
    check_tunnel_session_id,
    connection_argument_spec,
    tunnel_session_id_argument_spec,
)
from ansible_collections.community.ngrok.tests.unit.plugins.modules.utils import (
    API_KEY,
    AnsibleExitJson,
    AnsibleFailJson,
    assert_no_api_key,
    capture_exit_fail,
    set_module_args,
)


# -- api_url --------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("https://api.ngrok.com", "https://api.ngrok.com"),
    ("https://api.ngrok.com/", "https://api.ngrok.com"),
    ("https://api.ngrok.com///", "https://api.ngrok.com"),
    ("  https://api.ngrok.com \n", "https://api.ngrok.com"),
    ("HTTPS://api.ngrok.com", "HTTPS://api.ngrok.com"),
    ("https://api.ngrok.com:8443/v2/", "https://api.ngrok.com:8443/v2"),
    ("https://10.0.0.5", "https://10.0.0.5"),
    ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
    ("http://127.0.0.1", "http://127.0.0.1"),
    ("http://127.250.1.9:9000/", "http://127.250.1.9:9000"),
    ("http://localhost:4040", "http://localhost:4040"),
    ("http://LocalHost", "http://LocalHost"),
    ("http://[::1]:8080", "http://[::1]:8080"),
    ("HTTP://127.0.0.1:1", "HTTP://127.0.0.1:1"),
])
def test_check_api_url_accepts(value, expected):
    assert check_api_url(value) == expected


@pytest.mark.parametrize("value, message", [
    ("", "api_url must not be empty"),
    ("   ", "api_url must not be empty"),
    (None, "api_url must not be empty"),
    ("api.ngrok.com", "is not a valid URL: it must look like https://api.ngrok.com"),
    ("ftp://api.ngrok.com", "is not a valid URL"),
    ("file:///etc/passwd", "is not a valid URL"),
    ("https://", "is not a valid URL"),
    ("https:///tunnel_sessions", "is not a valid URL"),
    ("https://[::1", "is not a valid URL"),
    ("https://api.ngrok.com:99999", "is not a valid URL"),
    ("https://api.ngrok.com:abc", "is not a valid URL"),
    ("https://user:secret@api.ngrok.com", "must not contain credentials"),
    ("https://user@api.ngrok.com", "must not contain credentials"),
    ("https://:secret@api.ngrok.com", "must not contain credentials"),
    ("http://user:pw@127.0.0.1:8080", "must not contain credentials"),
    ("https://api.ngrok.com/?x=1", "must not have a query string or a fragment"),
    ("https://api.ngrok.com?limit=1", "must not have a query string or a fragment"),
    ("https://api.ngrok.com/#frag", "must not have a query string or a fragment"),
    ("http://api.ngrok.com", "uses http:// to a host that is not this machine"),
    ("http://10.0.0.1:8080", "uses http:// to a host that is not this machine"),
    ("http://0.0.0.0:8080", "uses http:// to a host that is not this machine"),
    ("http://localhost.evil.example", "uses http:// to a host that is not this machine"),
    ("http://127.0.0.1.nip.io", "uses http:// to a host that is not this machine"),
    ("http://[::2]", "uses http:// to a host that is not this machine"),
    ("https://api.ngrok.com:0", "has port 0"),
    ("http://127.0.0.1:0", "has port 0"),
])
def test_check_api_url_refuses(value, message):
    with pytest.raises(ValueError) as info:
        check_api_url(value)
    assert message in str(info.value)


@pytest.mark.parametrize("value, message", [
    ("https://api.ngrok.com?", "must not have a query string or a fragment"),
    ("https://api.ngrok.com#", "must not have a query string or a fragment"),
    ("https://api.ngrok.com/?#", "must not have a query string or a fragment"),
    ("https://api.ngrok .com", "contains spaces or control characters"),
    ("https://api.ngrok.com/\x00", "contains spaces or control characters"),
    ("https://api.ngrok.com/v\u00e4", "has non-ASCII characters in its path: percent-encode them"),
    ("https://@api.ngrok.com", "must not contain credentials"),
])
def test_check_api_url_refuses_more(value, message):
    with pytest.raises(ValueError) as info:
        check_api_url(value)
    assert message in str(info.value)


@pytest.mark.parametrize("value", [
    "https://api.ngrok.com/?token=s3cr3t-t0ken",
    "https://api.ngrok.com/#s3cr3t-t0ken",
    "http://api.example.com/?token=s3cr3t-t0ken",
    "https://user:s3cr3t-t0ken@api.ngrok.com",
    "http://s3cr3t-t0ken@api.example.com",
    "ftp://user:s3cr3t-t0ken@api.ngrok.com/?s3cr3t-t0ken",
    "https://api.ngrok.com:99999/?s3cr3t-t0ken",
])
def test_check_api_url_messages_never_echo_secrets(value):
    with pytest.raises(ValueError) as info:
        check_api_url(value)
    assert "s3cr3t-t0ken" not in str(info.value)


def test_check_api_url_long_value_is_shortened():
    with pytest.raises(ValueError) as info:
        check_api_url("http://api.example.com/" + "p" * 300)
    assert "/" + "p" * 77 + "...'" in str(info.value)
    assert "p" * 78 not in str(info.value)


def test_check_api_url_credentials_message_does_not_echo_them():
    with pytest.raises(ValueError) as info:
        check_api_url("https://user:%s@api.ngrok.com" % API_KEY)
    assert API_KEY not in str(info.value)


@pytest.mark.parametrize("value", ["https://api.ngrok.com?", "https://api.ngrok.com#", "https://api.ngrok.com/?#"])
def test_check_api_url_refuses_empty_query_or_fragment(value):
    with pytest.raises(ValueError):
        check_api_url(value)


# -- api_key --------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [API_KEY, "2abcDEF_ghi", "x"])
def test_check_api_key_accepts(value):
    assert check_api_key(value) == value


@pytest.mark.parametrize("value, message", [
    (None, "No ngrok API key: set the api_key option or the NGROK_API_KEY environment variable"),
    ("", "No ngrok API key"),
    ("   ", "No ngrok API key"),
    (API_KEY + " ", "api_key contains spaces, line breaks or control characters"),
    (API_KEY + "\n", "api_key contains spaces"),
    ("\t" + API_KEY, "api_key contains spaces"),
    ("Bearer " + API_KEY, "api_key contains spaces"),
    (API_KEY + "\x00", "api_key contains spaces"),
    (API_KEY + "\x7f", "api_key contains spaces"),
    (API_KEY + "\r\nX-Injected: 1", "api_key contains spaces"),
    (API_KEY + "\u2019", "api_key contains non-ASCII characters"),
    ("\u0430" + API_KEY[1:], "api_key contains non-ASCII characters"),
])
def test_check_api_key_refuses_without_showing_it(value, message, monkeypatch):
    monkeypatch.delenv("NGROK_API_KEY", raising=False)
    with pytest.raises(ValueError) as info:
        check_api_key(value)
    assert message in str(info.value)
    assert API_KEY not in str(info.value)


def test_a_null_api_key_that_hides_ngrok_api_key_says_so(monkeypatch):
    # Ansible applies an env fallback only to an option that is not given: `api_key: "{{ none }}"` hides it.
    monkeypatch.setenv("NGROK_API_KEY", API_KEY)
    with pytest.raises(ValueError) as info:
        check_api_key(None)
    assert "api_key is null" in str(info.value) and "hides NGROK_API_KEY" in str(info.value)
    assert API_KEY not in str(info.value)
    with pytest.raises(ValueError) as info:
        check_api_key("")  # an empty string is not null: the plain message
    assert str(info.value).startswith("No ngrok API key")


# -- tunnel session IDs -----------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["ts_2hSHyTSIzoxrVOR0vRgfnBDNs4v", "ts_32ELGMEqDFAlN8JoGk7mAGg7z6B", "ts_" + "0" * 27])
def test_check_tunnel_session_id_accepts(value):
    assert check_tunnel_session_id(value) == value


@pytest.mark.parametrize("value, length", [("ts_a", 1), ("ts_2hSHyTSIzoxrVOR0vRgfnBDNs4", 26),
                                           ("ts_2hSHyTSIzoxrVOR0vRgfnBDNs4vX", 28),
                                           ("ts_2hSHyTSIzoxrVOR0vRgfnBDNs4v2hSHyTSIzoxrVOR0vRgfnBDNs4v", 54)])
def test_a_tunnel_session_id_of_the_wrong_length_is_refused(value, length):
    # ngrok's IDs are KSUIDs: 27 characters. A cut or doubled ID would be sent, and read as "not connected".
    with pytest.raises(ValueError) as info:
        check_tunnel_session_id(value)
    assert "after 'ts_' it must have 27 letters and digits, not %d (was it cut short or pasted twice?)" % length \
        in str(info.value)


@pytest.mark.parametrize("value, message", [
    ("", "id must be a tunnel session ID such as ts_2hSHyTSIzoxrVOR0vRgfnBDNs4v; got an empty value"),
    (None, "got an empty value"),
    ("ts_", "it must be 'ts_' followed by 27 letters and digits only"),
    ("ts", "it must be 'ts_' followed by 27 letters and digits only"),
    ("ts_abc def", "it must be 'ts_' followed"),
    (" ts_abc", "it must be 'ts_' followed"),
    ("ts_abc ", "it must be 'ts_' followed"),
    ("ts_abc/restart", "it must be 'ts_' followed"),
    ("ts_abc/../credentials", "it must be 'ts_' followed"),
    ("..", "it must be 'ts_' followed"),
    ("ts_..", "it must be 'ts_' followed"),
    ("ts_abc?x=1", "it must be 'ts_' followed"),
    ("ts_abc#x", "it must be 'ts_' followed"),
    ("ts_abc%2F", "it must be 'ts_' followed"),
    ("ts_abc-def", "it must be 'ts_' followed"),
    ("ts_äbc", "it must be 'ts_' followed"),
    ("TS_abc", "it must be 'ts_' followed"),
    ("cr_32ELG6KEtDBUO1jDXSqtOey4NgM", "it has the prefix 'cr_' of another kind of ngrok resource"),
    ("ep_2hSH", "it has the prefix 'ep_' of another kind"),
    ("tn_2hSH", "it has the prefix 'tn_' of another kind"),
])
def test_check_tunnel_session_id_refuses(value, message):
    with pytest.raises(ValueError) as info:
        check_tunnel_session_id(value)
    assert message in str(info.value)


def test_check_tunnel_session_id_names_the_option_and_shortens():
    with pytest.raises(ValueError) as info:
        check_tunnel_session_id("x" * 100, option="tunnel_session_id")
    text = str(info.value)
    assert text.startswith("tunnel_session_id '%s...' is not a tunnel session ID" % ("x" * 64))
    assert "x" * 65 not in text


@pytest.mark.parametrize("value", ["ts_abc\n", "ts_2hSHyTSIzoxrVOR0vRgfnBDNs4v\n"])
def test_check_tunnel_session_id_refuses_trailing_newline(value):
    with pytest.raises(ValueError):
        check_tunnel_session_id(value)


# -- numbers ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [None, 0.1, 1, 30, 3600])
def test_check_number_accepts(value):
    check_number("timeout", value, 0.1, 3600, " seconds")


@pytest.mark.parametrize("value", [0.09, 0, -1, 3600.01, 1e9, float("nan"), float("inf"), float("-inf")])
def test_check_number_refuses(value):
    with pytest.raises(ValueError) as info:
        check_number("timeout", value, 0.1, 3600, " seconds")
    assert str(info.value) == "timeout must be between 0.1 and 3600 seconds; got %s" % value


# -- argument spec -------------------------------------------------------------------------------------

def test_connection_argument_spec():
    spec = connection_argument_spec()
    assert set(spec) == {"api_key", "api_url", "validate_certs", "timeout", "retries", "rate_limit_timeout"}
    assert spec["api_key"]["no_log"] is True
    assert spec["api_key"]["fallback"][1] == ["NGROK_API_KEY"]
    assert spec["api_url"]["fallback"][1] == ["NGROK_API_URL"]
    assert spec["api_url"]["default"] == "https://api.ngrok.com"
    assert spec["validate_certs"] == dict(type="bool", default=True)
    assert spec["timeout"] == dict(type="float", default=30)
    assert spec["retries"] == dict(type="int", default=5)
    assert spec["rate_limit_timeout"] == dict(type="float", default=120)


def test_tunnel_session_id_argument_spec():
    assert tunnel_session_id_argument_spec() == dict(type="str", required=True,
                                                     aliases=["session_id", "tunnel_session_id"])
    assert tunnel_session_id_argument_spec(required=False)["required"] is False


# -- NgrokModule -----------------------------------------------------------------------------------------

def _module_client(args):
    with set_module_args(args), capture_exit_fail():
        module = NgrokModule(argument_spec={})
        return module, module.client


def _module_fails(args):
    with set_module_args(args), capture_exit_fail():
        module = NgrokModule(argument_spec={})
        with pytest.raises(AnsibleFailJson) as info:
            assert module.client is None
    assert_no_api_key(info.value.result)
    return info.value.result


def test_client_is_built_from_validated_options(client_recorder):
    module, client = _module_client(dict(api_key=API_KEY, api_url="http://127.0.0.1:8080/", validate_certs=False,
                                         timeout=2.5, retries=0, rate_limit_timeout=0))
    assert client.api_url == "http://127.0.0.1:8080"
    assert module.params["api_url"] == "http://127.0.0.1:8080"
    assert client.timeout == 2.5
    assert client.retries == 0
    assert client.rate_limit_timeout == 0
    assert client.validate_certs is False
    assert module.client is client
    assert client_recorder.clients == [client]


def test_defaults():
    module, client = _module_client(dict(api_key=API_KEY))
    assert client.api_url == "https://api.ngrok.com"
    assert client.timeout == 30
    assert client.retries == 5
    assert client.rate_limit_timeout == 120
    assert client.validate_certs is True
    assert module.check_mode is False


def test_check_mode_flag():
    module, dummy = _module_client(dict(api_key=API_KEY, _ansible_check_mode=True))
    assert module.check_mode is True


def test_api_key_and_url_from_the_environment(monkeypatch, rsps):
    monkeypatch.setenv("NGROK_API_KEY", API_KEY)
    monkeypatch.setenv("NGROK_API_URL", "http://localhost:9999")
    dummy, client = _module_client({})
    rsps.get("http://localhost:9999/tunnel_sessions/ts_a", json={})
    client.get("/tunnel_sessions/ts_a")
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer " + API_KEY


def test_options_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("NGROK_API_KEY", "env-key")
    monkeypatch.setenv("NGROK_API_URL", "http://localhost:9999")
    dummy, client = _module_client(dict(api_key=API_KEY, api_url="https://api.example.com"))
    assert client.api_url == "https://api.example.com"
    assert client._headers["Authorization"] == "Bearer " + API_KEY


@pytest.mark.parametrize("args, message", [
    (dict(), "No ngrok API key"),
    (dict(api_key=""), "No ngrok API key"),
    (dict(api_key=API_KEY + "\n"), "api_key contains spaces"),
    (dict(api_key=API_KEY, api_url="http://api.ngrok.com"), "uses http:// to a host that is not this machine"),
    (dict(api_key=API_KEY, api_url=""), "api_url must not be empty"),
    (dict(api_key=API_KEY, timeout=0), "timeout must be between 0.1 and 3600 seconds; got 0.0"),
    (dict(api_key=API_KEY, timeout=0.05), "timeout must be between 0.1 and 3600 seconds"),
    (dict(api_key=API_KEY, timeout=3601), "timeout must be between 0.1 and 3600 seconds"),
    (dict(api_key=API_KEY, timeout="nan"), "timeout must be between"),
    (dict(api_key=API_KEY, retries=-1), "retries must be between 0 and 20; got -1"),
    (dict(api_key=API_KEY, retries=21), "retries must be between 0 and 20; got 21"),
    (dict(api_key=API_KEY, rate_limit_timeout=-1), "rate_limit_timeout must be between 0 and 3600 seconds"),
    (dict(api_key=API_KEY, rate_limit_timeout=3600.5), "rate_limit_timeout must be between 0 and 3600 seconds"),
])
def test_invalid_connection_options_fail_before_a_client_exists(client_recorder, rsps, args, message):
    result = _module_fails(args)
    assert message in result["msg"]
    assert client_recorder.clients == []
    assert len(rsps.calls) == 0


@pytest.mark.parametrize("args", [
    dict(timeout=0.1), dict(timeout=3600), dict(retries=0), dict(retries=20), dict(rate_limit_timeout=0),
    dict(rate_limit_timeout=3600),
])
def test_connection_option_bounds_are_inclusive(args):
    args["api_key"] = API_KEY
    dummy, client = _module_client(args)
    assert client is not None


def test_fail_and_exit():
    error = NgrokError("x", status_code=404, api_msg="Resource not found", operation_id="op_1")
    with set_module_args(dict(api_key=API_KEY)), capture_exit_fail():
        module = NgrokModule(argument_spec={})
        with pytest.raises(AnsibleFailJson) as info:
            module.fail("it failed", error, changed=False, tunnel_session_id="ts_a")
        with pytest.raises(AnsibleExitJson) as done:
            module.exit(changed=True, x=1)
    assert info.value.result == {"msg": "it failed", "failed": True, "changed": False, "tunnel_session_id": "ts_a",
                                 "api_error": {"status_code": 404, "error_code": None, "msg": "Resource not found",
                                               "operation_id": "op_1", "outcome": "failed", "attempts": 1}}
    assert done.value.result == {"changed": True, "x": 1}


def test_fail_and_warn_mask_every_piece_of_the_key_in_everything_they_show(monkeypatch):
    # Pieces of 8 or more characters, anywhere: msg, api_error, nested dicts, lists and tuples. The fail() and
    # warn() layer on its own, whatever the client already scrubbed.
    piece, warned = API_KEY[3:14], []
    error = NgrokError("x", status_code=400, error_code="E_" + piece, api_msg="echo " + API_KEY,
                       operation_id="op_" + piece)
    with set_module_args(dict(api_key=API_KEY)), capture_exit_fail():
        module = NgrokModule(argument_spec={})
        monkeypatch.setattr(module.module, "warn", warned.append)
        module.warn("the answer quoted Bearer %s (and %s)" % (API_KEY, piece))
        with pytest.raises(AnsibleFailJson) as info:
            module.fail("failed: " + piece, error, changed=False, tunnel_session={"deep": [[("x", piece)]], "n": 7})
    assert warned == ["the answer quoted Bearer ******** (and ********)"]
    result = info.value.result
    assert result["msg"] == "failed: ********"
    assert (result["api_error"]["error_code"], result["api_error"]["msg"], result["api_error"]["operation_id"]) == (
        "E_********", "echo ********", "op_********")
    assert result["tunnel_session"] == {"deep": [[["x", "********"]]], "n": 7}
    assert piece[:8] not in repr(result)


def test_scrubbing_does_not_recurse():
    from ansible_collections.community.ngrok.plugins.module_utils._module import _scrubbed
    deep = API_KEY
    for dummy in range(20000):
        deep = [deep]
    out = _scrubbed({"x": deep}, API_KEY)["x"]
    for dummy in range(20000):
        out = out[0]
    assert out == "********"


def test_fail_without_error_has_no_api_error():
    with set_module_args(dict(api_key=API_KEY)), capture_exit_fail():
        module = NgrokModule(argument_spec={})
        with pytest.raises(AnsibleFailJson) as info:
            module.fail("plain")
    assert "api_error" not in info.value.result


def test_api_key_is_registered_as_no_log():
    with set_module_args(dict(api_key=API_KEY)), capture_exit_fail():
        module = NgrokModule(argument_spec={})
    assert API_KEY in module.module.no_log_values


def test_module_argument_spec_is_merged_and_kwargs_passed():
    with set_module_args(dict(api_key=API_KEY, id="ts_a", other="x")), capture_exit_fail():
        with pytest.raises(AnsibleFailJson) as info:
            NgrokModule(argument_spec=dict(id=dict(type="str"), other=dict(type="str")),
                        mutually_exclusive=[("id", "other")])
    assert re.search(r"mutually exclusive: id\|other", info.value.result["msg"])
