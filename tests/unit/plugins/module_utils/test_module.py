# -*- coding: utf-8 -*-
# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import re

import pytest
from ansible.module_utils.ansible_release import __version__ as ANSIBLE_CORE_VERSION

from ansible_collections.community.ngrok.plugins.module_utils import _module
from ansible_collections.community.ngrok.plugins.module_utils import _pacing
from ansible_collections.community.ngrok.plugins.module_utils._client import NgrokError
from ansible_collections.community.ngrok.plugins.module_utils._module import (
    NgrokModule,
    check_api_key,
    check_api_url,
    check_ca_path,
    check_metadata,
    check_number,
    check_tunnel_session_id,
    metadata_text,
    shown,
)
from ansible_collections.community.ngrok.plugins.modules import ngrok_tunnel_session_info
from ansible_collections.community.ngrok.plugins.modules import ngrok_tunnel_session_restart
from ansible_collections.community.ngrok.plugins.modules import ngrok_tunnel_session_stop
from ansible_collections.community.ngrok.plugins.modules import ngrok_tunnel_session_update
from ansible_collections.community.ngrok.tests.unit.plugins.modules.utils import (
    API_KEY,
    OLD_ID,
    AnsibleExitJson,
    AnsibleFailJson,
    assert_no_api_key,
    capture_exit_fail,
    make_session,
    run_module_fail,
    run_module_ok,
    set_module_args,
)

ANSIBLE_CORE = tuple(int(part) for part in ANSIBLE_CORE_VERSION.split(".")[:2])

#: Every module: the connection options and their checks are NgrokModule's, the same for all four.
ALL_MODULES = [
    pytest.param(ngrok_tunnel_session_info.main, "GET", "", id="info"),
    pytest.param(ngrok_tunnel_session_restart.main, "POST", "/restart", id="restart"),
    pytest.param(ngrok_tunnel_session_stop.main, "POST", "/stop", id="stop"),
    pytest.param(ngrok_tunnel_session_update.main, "POST", "/update", id="update"),
]
ALL_MAINS = [pytest.param(param.values[0], id=param.id) for param in ALL_MODULES]


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
    ("https://@api.ngrok.com", "must not contain credentials"),
    ("http://user:pw@127.0.0.1:8080", "must not contain credentials"),
    ("https://api.ngrok.com/?x=1", "must not have a query string or a fragment"),
    ("https://api.ngrok.com?limit=1", "must not have a query string or a fragment"),
    ("https://api.ngrok.com/#frag", "must not have a query string or a fragment"),
    ("https://api.ngrok.com?", "must not have a query string or a fragment"),
    ("https://api.ngrok.com#", "must not have a query string or a fragment"),
    ("https://api.ngrok.com/?#", "must not have a query string or a fragment"),
    ("https://api.ngrok .com", "contains spaces or control characters"),
    ("https://api.ngrok.com/\x00", "contains spaces or control characters"),
    ("https://api.ngrok.com/v\u00e4", "has non-ASCII characters in its path: percent-encode them"),
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


@pytest.mark.parametrize("value, secret", [
    ("https://api.ngrok.com/?token=s3cr3t-t0ken", "s3cr3t-t0ken"),
    ("https://api.ngrok.com/#s3cr3t-t0ken", "s3cr3t-t0ken"),
    ("http://api.example.com/?token=s3cr3t-t0ken", "s3cr3t-t0ken"),
    ("https://user:s3cr3t-t0ken@api.ngrok.com", "s3cr3t-t0ken"),
    ("http://s3cr3t-t0ken@api.example.com", "s3cr3t-t0ken"),
    ("ftp://user:s3cr3t-t0ken@api.ngrok.com/?s3cr3t-t0ken", "s3cr3t-t0ken"),
    ("https://api.ngrok.com:99999/?s3cr3t-t0ken", "s3cr3t-t0ken"),
    ("https://user:%s@api.ngrok.com" % API_KEY, API_KEY),
])
def test_check_api_url_messages_never_echo_secrets(value, secret):
    with pytest.raises(ValueError) as info:
        check_api_url(value)
    assert secret not in str(info.value)


def test_check_api_url_long_value_is_shortened():
    with pytest.raises(ValueError) as info:
        check_api_url("http://api.example.com/" + "p" * 300)
    assert "/" + "p" * 77 + "...'" in str(info.value)
    assert "p" * 78 not in str(info.value)


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
def test_check_api_key_refuses_without_showing_it(value, message):
    with pytest.raises(ValueError) as info:
        check_api_key(value)
    assert message in str(info.value)
    assert API_KEY not in str(info.value)


def test_a_null_api_key_that_hides_ngrok_api_key_says_so(monkeypatch):
    # Ansible applies an env fallback only to an option that is not given: `api_key: "{{ none }}"` hides it.
    monkeypatch.setenv("NGROK_API_KEY", API_KEY)
    with pytest.raises(ValueError) as info:
        check_api_key(None)
    assert str(info.value).startswith("api_key is empty or null (an empty variable?), and a given api_key hides "
                                      "NGROK_API_KEY")
    assert API_KEY not in str(info.value)
    with pytest.raises(ValueError) as info:
        check_api_key("  ")  # given but blank hides it too (ansible-core 2.19 passes a null str option as "")
    assert "hides NGROK_API_KEY" in str(info.value)
    monkeypatch.setenv("NGROK_API_KEY", " ")
    with pytest.raises(ValueError) as info:
        check_api_key("")  # nothing to hide: the plain message
    assert str(info.value).startswith("No ngrok API key")


# -- ca_path ---------------------------------------------------------------------------------------

def test_check_ca_path(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    check_ca_path(None)
    check_ca_path(str(bundle))
    check_ca_path(str(tmp_path))  # a directory of certificates
    with pytest.raises(ValueError) as info:
        check_ca_path(str(tmp_path / "missing.pem"))
    assert str(info.value) == ("ca_path %r does not exist: it must be a PEM file of CA certificates (or a directory of "
                               "them)" % str(tmp_path / "missing.pem"))


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
    ("ts_abc\n", "it must be 'ts_' followed"),
    ("ts_2hSHyTSIzoxrVOR0vRgfnBDNs4v\n", "it must be 'ts_' followed"),
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


# -- agent metadata -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["web-01", " ", 'we"b\\01', "héllo ☃", "x" * 4096, "\u2028 is not C0 or C1"])
def test_check_metadata_accepts(value):
    assert check_metadata(value) == value


@pytest.mark.parametrize("value, message", [
    (None, "metadata must not be empty (an empty variable?)"),
    ("", "metadata must not be empty (an empty variable?)"),
    ("web-01\n", "metadata 'web-01\\n' contains a line break, a tab or another control character"),
    ("web\t01", "metadata 'web\\t01' contains a line break"),
    ("web\x00", "metadata 'web\\x00' contains a line break"),
    ("web\x7f", "metadata 'web\\x7f' contains a line break"),
    ("web\x85", "metadata 'web\\x85' contains a line break"),
    ("\x1b[31mweb", "metadata '\\x1b[31mweb' contains a line break"),
    ("x" * 4097, "metadata '%s...' has 4097 characters: ngrok keeps at most 4096" % ("x" * 64)),
])
def test_check_metadata_refuses(value, message):
    with pytest.raises(ValueError) as info:
        check_metadata(value)
    assert str(info.value).startswith(message)


@pytest.mark.parametrize("value, expected", [
    ("web-01", "'web-01'"),
    ("it's", '"it\'s"'),
    ("a\nb\x1b[0m", "'a\\nb\\x1b[0m'"),
    ("\u202eevil", "'\\u202eevil'"),  # a right-to-left override is escaped, not shown
    ("x" * 65, "'%s...'" % ("x" * 64)),
    (None, "'None'"),
])
def test_shown_quotes_escapes_and_shortens(value, expected):
    assert shown(value) == expected


# -- numbers ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [None, 0.1, 1, 30, 3600])
def test_check_number_accepts(value):
    check_number("timeout", value, 0.1, 3600, " seconds")


@pytest.mark.parametrize("value", [0.09, 0, -1, 3600.01, 1e9, float("nan"), float("inf"), float("-inf")])
def test_check_number_refuses(value):
    with pytest.raises(ValueError) as info:
        check_number("timeout", value, 0.1, 3600, " seconds")
    assert str(info.value) == "timeout must be between 0.1 and 3600 seconds; got %s" % value


# -- NgrokModule: options to client -----------------------------------------------------------------

def _module_client(args):
    with set_module_args(args), capture_exit_fail():
        module = NgrokModule(argument_spec={})
        return module, module.client


@pytest.mark.parametrize("args, expected", [
    pytest.param({}, dict(api_url="https://api.ngrok.com", timeout=30, retries=5, rate_limit_timeout=120, verify=True),
                 id="defaults"),
    pytest.param(dict(api_url="http://127.0.0.1:8080/", validate_certs=False, timeout=2.5, retries=0, rate_limit_timeout=0),
                 dict(api_url="http://127.0.0.1:8080", timeout=2.5, retries=0, rate_limit_timeout=0, verify=False),
                 id="every-option"),
    pytest.param(dict(ca_path="{bundle}"), dict(verify="{bundle}"), id="ca_path"),
    # validate_certs=false wins: ca_path only says which CAs to trust when certificates are checked
    pytest.param(dict(ca_path="{bundle}", validate_certs=False), dict(verify=False), id="ca_path-unverified"),
])
def test_client_is_built_from_the_validated_options(client_recorder, tmp_path, args, expected):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    args = {name: value.format(bundle=bundle) if isinstance(value, str) else value for name, value in args.items()}
    module, client = _module_client(dict(args, api_key=API_KEY))
    for name, value in expected.items():
        assert getattr(client, name) == (value.format(bundle=bundle) if isinstance(value, str) else value), name
    assert module.params["api_url"] == client.api_url
    assert module.client is client
    assert client_recorder.clients == [client]


def test_ca_path_reaches_the_client_that_sends(rsps, client_recorder, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    rsps.post("https://api.ngrok.com/tunnel_sessions/%s/restart" % OLD_ID, status=204)
    run_module_ok(ngrok_tunnel_session_restart.main, {"id": OLD_ID, "ca_path": str(bundle)})
    # responses does not record verify: the client that sent the request holds it
    assert len(rsps.calls) == 1
    assert [client.verify for client in client_recorder.clients] == [str(bundle)]


INFO, RESTART, STOP, UPDATE = (param.values for param in ALL_MODULES)


@pytest.mark.parametrize("module, env, args, url", [
    pytest.param(INFO, {"NGROK_API_KEY": API_KEY}, {}, "https://api.ngrok.com", id="info-key-from-env"),
    pytest.param(RESTART, {"NGROK_API_KEY": API_KEY}, {}, "https://api.ngrok.com", id="restart-key-from-env"),
    pytest.param(STOP, {"NGROK_API_KEY": API_KEY}, {}, "https://api.ngrok.com", id="stop-key-from-env"),
    pytest.param(UPDATE, {"NGROK_API_KEY": API_KEY}, {}, "https://api.ngrok.com", id="update-key-from-env"),
    pytest.param(RESTART, {"NGROK_API_KEY": API_KEY, "NGROK_API_URL": "http://127.0.0.1:8080/"}, {},
                 "http://127.0.0.1:8080", id="key-and-url-from-env"),
    pytest.param(INFO, {"NGROK_API_URL": "http://localhost:9999"}, {"api_key": API_KEY}, "http://localhost:9999",
                 id="url-from-env"),
    pytest.param(STOP, {"NGROK_API_KEY": "envKey0123456789", "NGROK_API_URL": "http://localhost:9999"},
                 {"api_key": API_KEY, "api_url": "https://api.example.com"}, "https://api.example.com",
                 id="options-win"),
])
def test_api_key_and_api_url_environment_fallbacks(rsps, monkeypatch, module, env, args, url):
    main, method, suffix = module
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    rsps.add(method, url + "/tunnel_sessions/" + OLD_ID + suffix, json=make_session(), status=200)
    run_module_ok(main, dict(args, id=OLD_ID), with_key=False)
    assert len(rsps.calls) == 1
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer " + API_KEY


@pytest.mark.parametrize("env, args, expected", [
    pytest.param({}, {}, (120, 60.0), id="defaults"),
    pytest.param({"NGROK_RATE_LIMIT": "30", "NGROK_RATE_LIMIT_WINDOW": "7.5"}, {}, (30, 7.5), id="from-env"),
    pytest.param({"NGROK_RATE_LIMIT": "30", "NGROK_RATE_LIMIT_WINDOW": "7.5"}, dict(rate_limit=0, rate_limit_window=2),
                 (0, 2.0), id="options-win"),
])
def test_the_client_paces_with_the_rate_limit_options(client_recorder, pacing_recorder, monkeypatch, env, args, expected):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    dummy, client = _module_client(dict(args, api_key=API_KEY, api_url="http://127.0.0.1:8080/"))
    assert pacing_recorder.pacers == [client.pacer]
    assert (client.pacer.rate_limit, client.pacer.window) == expected
    # the record is the one of this API URL and key (validated and normalised first)
    assert client.pacer.path.endswith(_pacing.record_name("http://127.0.0.1:8080", API_KEY))


# -- NgrokModule: nothing is sent before the options are valid -----------------------------------------

@pytest.mark.parametrize("args, message", [
    (dict(api_key=""), "No ngrok API key"),
    (dict(api_key=API_KEY + "\n"), "api_key contains spaces"),
    (dict(api_url="http://api.ngrok.com"), "uses http:// to a host that is not this machine"),
    (dict(api_url="https://user:pw@api.ngrok.com"), "must not contain credentials"),
    (dict(api_url=""), "api_url must not be empty"),
    (dict(ca_path="/nonexistent/ca.pem"), "ca_path '/nonexistent/ca.pem' does not exist"),
    (dict(timeout=0), "timeout must be between 0.1 and 3600 seconds; got 0.0"),
    (dict(timeout=0.1), None),
    (dict(timeout=3600), None),
    (dict(timeout=3601), "timeout must be between 0.1 and 3600 seconds"),
    (dict(timeout="nan"), "timeout must be between"),
    (dict(retries=-1), "retries must be between 0 and 20; got -1"),
    (dict(retries=0), None),
    (dict(retries=20), None),
    (dict(retries=21), "retries must be between 0 and 20; got 21"),
    (dict(rate_limit_timeout=-1), "rate_limit_timeout must be between 0 and 3600 seconds"),
    (dict(rate_limit_timeout=0), None),
    (dict(rate_limit_timeout=3600), None),
    (dict(rate_limit_timeout=3600.5), "rate_limit_timeout must be between 0 and 3600 seconds"),
    (dict(rate_limit=-1), "rate_limit must be between 0 and 10000 requests (0 turns pacing off); got -1"),
    (dict(rate_limit=0), None),
    (dict(rate_limit=10000), None),
    (dict(rate_limit=10001), "rate_limit must be between 0 and 10000 requests"),
    (dict(rate_limit_window=0), "rate_limit_window must be between 0.1 and 3600 seconds; got 0.0"),
    (dict(rate_limit_window=0.1), None),
    (dict(rate_limit_window=3600), None),
    (dict(rate_limit_window=3601), "rate_limit_window must be between 0.1 and 3600 seconds"),
    (dict(rate_limit_window="nan"), "rate_limit_window must be between"),
])
def test_connection_options_are_checked_before_a_client_exists(client_recorder, rsps, args, message):
    args = dict({"api_key": API_KEY}, **args)
    with set_module_args(args), capture_exit_fail():
        module = NgrokModule(argument_spec={})
        if message is None:
            assert module.client is client_recorder.clients[0]
            return
        with pytest.raises(AnsibleFailJson) as info:
            assert module.client is None
    assert message in info.value.result["msg"]
    assert_no_api_key(info.value.result)
    assert client_recorder.clients == []
    assert len(rsps.calls) == 0


def _no_request_failure(rsps, client_recorder, main, args):
    rsps.get(re.compile(".*"), json=make_session())
    rsps.post(re.compile(".*"), status=204)
    result = run_module_fail(main, dict(args, id=OLD_ID), with_key=False)
    assert len(rsps.calls) == 0
    assert client_recorder.clients == []
    return result


@pytest.mark.parametrize("main", ALL_MAINS)
def test_missing_api_key_is_ansibles_required_argument_failure(rsps, client_recorder, main):
    result = _no_request_failure(rsps, client_recorder, main, {})
    assert result["msg"] == "missing required arguments: api_key"


@pytest.mark.parametrize("given", [None, ""])
@pytest.mark.parametrize("main", ALL_MAINS)
def test_a_blank_api_key_that_hides_ngrok_api_key_fails_saying_so(rsps, client_recorder, monkeypatch, main, given):
    monkeypatch.setenv("NGROK_API_KEY", API_KEY)
    result = _no_request_failure(rsps, client_recorder, main, {"api_key": given})
    if given is None and ANSIBLE_CORE < (2, 19):
        # ansible-core 2.16 refuses a null str option itself, before the module's code runs
        assert result["msg"].startswith("argument 'api_key' is of type <class 'NoneType'> and we were unable to "
                                        "convert to str")
    else:
        assert result["msg"].startswith("api_key is empty or null (an empty variable?), and a given api_key hides "
                                        "NGROK_API_KEY, which is set")
    assert API_KEY not in str(result)


@pytest.mark.parametrize("main", ALL_MAINS)
def test_ca_path_that_does_not_exist_fails_before_any_request(rsps, client_recorder, tmp_path, main):
    missing = str(tmp_path / "missing.pem")
    result = _no_request_failure(rsps, client_recorder, main, {"api_key": API_KEY, "ca_path": missing})
    assert result["msg"].startswith("ca_path %r does not exist" % missing)


@pytest.mark.parametrize("main", ALL_MAINS)
def test_without_requests_the_module_fails_and_sends_nothing(rsps, client_recorder, monkeypatch, main):
    monkeypatch.setattr(_module, "HAS_REQUESTS", False)
    result = _no_request_failure(rsps, client_recorder, main, {"api_key": API_KEY})
    assert result["msg"].startswith("Failed to import the required Python library (requests) on ")


# -- NgrokModule: failures, warnings and the API key ---------------------------------------------------------

def test_fail_and_exit():
    error = NgrokError("x", status_code=404, api_msg="Resource not found", operation_id="op_1")
    with set_module_args(dict(api_key=API_KEY)), capture_exit_fail():
        module = NgrokModule(argument_spec={})
        with pytest.raises(AnsibleFailJson) as info:
            module.fail("it failed", error, changed=False, tunnel_session_id="ts_a")
        with pytest.raises(AnsibleFailJson) as plain:
            module.fail("plain")
        with pytest.raises(AnsibleExitJson) as done:
            module.exit(changed=True, x=1)
    assert info.value.result == {"msg": "it failed", "failed": True, "changed": False, "tunnel_session_id": "ts_a",
                                 "api_error": {"status_code": 404, "error_code": None, "msg": "Resource not found",
                                               "operation_id": "op_1", "outcome": "failed", "attempts": 1}}
    assert plain.value.result == {"msg": "plain", "failed": True}
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


def test_masking_a_result_nested_deeper_than_the_recursion_limit():
    # An answer's JSON may nest deeper than Python's recursion limit: masking it must not recurse per level.
    deep = API_KEY
    for dummy in range(20000):
        deep = [deep]
    with set_module_args(dict(api_key=API_KEY)), capture_exit_fail():
        module = NgrokModule(argument_spec={})
        with pytest.raises(AnsibleFailJson) as info:
            module.fail("deep", tunnel_session={"x": deep})
    out = info.value.result["tunnel_session"]["x"]
    for dummy in range(20000):
        out = out[0]
    assert out == "********"


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


@pytest.mark.parametrize("value, expected", [("web-01", "web-01"), (1234, "1234"), (1.5, "1.5"), ("", ""),
                                             (None, None)])
def test_metadata_text_keeps_text_and_turns_numbers_into_text(value, expected):
    assert metadata_text(value) == expected


@pytest.mark.parametrize("value, message", [
    (True, "metadata is a boolean, not a string"),
    (["web-01"], "metadata is a list, not a string"),
    ({"host": "kiosk-b"}, "metadata is a dict, not a string (ansible-core before 2.19 turns text that looks like "
                          "JSON into a dict when it templates it)"),
])
def test_metadata_text_refuses_what_no_metadata_is(value, message):
    with pytest.raises(ValueError) as exc:
        metadata_text(value)
    assert str(exc.value) == message
