# Copyright (c) community.ngrok contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A throwaway SSH server on loopback, for the inventory's end-to-end test (asyncssh).

It stands for the device behind an emulated agent's TCP endpoint: it accepts one user with one
key (both made here), runs each exec request with /bin/sh as this user, and logs every command
to ``DIR/commands.log``. It writes ``DIR/server.json`` (port, and the host key's known_hosts
line) once it listens, and ends by itself after ``--lifetime`` seconds.

    python ssh_server.py DIR USER [--lifetime 300]

Files in DIR: ``client_key`` (the private key for ssh -i), ``known_hosts``, ``server.json``,
``commands.log``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

import asyncssh


class _Server(asyncssh.SSHServer):
    """Public key authentication only, for one user and one key."""

    def __init__(self, user: str, client_key) -> None:
        self._user = user
        self._client_key = client_key

    def begin_auth(self, username: str) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key) -> bool:
        return username == self._user and key.public_data == self._client_key.public_data


def _make_process_handler(log_path: str):
    async def handle(process) -> None:
        command = process.command
        with open(log_path, "a", encoding="utf-8") as log:
            log.write("%s\n" % json.dumps(command))
        if command is None:
            process.stderr.write(b"this test server runs commands only\n")
            process.exit(1)
            return
        child = await asyncio.create_subprocess_shell(command, stdin=asyncio.subprocess.PIPE,
                                                      stdout=asyncio.subprocess.PIPE,
                                                      stderr=asyncio.subprocess.PIPE)
        await process.redirect(stdin=child.stdin, stdout=child.stdout, stderr=child.stderr)
        process.exit(await child.wait())

    return handle


async def _serve(directory: str, user: str, lifetime: float) -> None:
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    key_path = os.path.join(directory, "client_key")
    client_key.write_private_key(key_path)
    os.chmod(key_path, 0o600)
    server = await asyncssh.create_server(
        lambda: _Server(user, client_key), "127.0.0.1", 0, server_host_keys=[host_key],
        process_factory=_make_process_handler(os.path.join(directory, "commands.log")), encoding=None)
    port = server.sockets[0].getsockname()[1]
    host_line = "[127.0.0.1]:%d %s" % (port, host_key.export_public_key().decode().strip())
    with open(os.path.join(directory, "known_hosts"), "w", encoding="utf-8") as handle:
        handle.write(host_line + "\n")
    info_path = os.path.join(directory, "server.json")
    with open(info_path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump({"port": port, "pid": os.getpid()}, handle)
    os.replace(info_path + ".tmp", info_path)
    try:
        await asyncio.sleep(lifetime)
    finally:
        server.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory")
    parser.add_argument("user")
    parser.add_argument("--lifetime", type=float, default=300.0)
    args = parser.parse_args()
    try:
        asyncio.run(_serve(args.directory, args.user, args.lifetime))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
