#!/usr/bin/env python3
"""Run a MongoDB wire-compatible server (mongoeco) for authgate's tests.

Why: the Swift Mongo store talks to MongoDB through libmongoc, and no real
mongod can be installed here (only Debian apt and PyPI are reachable), so the
tests point libmongoc at mongoeco's wire proxy instead.

Usage:
  mongoeco-server.py [--host 127.0.0.1] [--port N] [--sqlite PATH] [--port-file PATH]
                     [--exit-with-parent]

--port 0 picks a free port; --port-file receives the bound port (written
atomically, once the listener accepts connections) so callers never race on
a half-written file. --sqlite keeps data in a SQLite file so it survives a
restart (the default engine is in-memory). Runs until SIGTERM/SIGINT, or, with
--exit-with-parent, until the process that started it is gone (a test process
that shares one server between its tests and has no hook to stop it).

Compatibility shim (on unless --strict): mongoeco 4.11.0 rejects BSON int64
(and integral doubles) in command *arguments* where mongod accepts any
integral number. libmongoc always sends the getMore/killCursors cursor id as
int64, and passes the caller's types through for limit/skip/batchSize/
maxTimeMS/index keys, so without the shim any libmongoc cursor that needs a
getMore fails with "wire getMore cursor id must be an integer". The shim
rewrites only those command-level arguments to plain ints after decoding;
stored documents and filters keep their exact BSON types.

Needs `mongoeco[wire]==4.11.0` (see scripts/lib.sh: ensure_mongoeco_venv).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--sqlite", metavar="PATH", help="persist data in this SQLite file")
    parser.add_argument("--port-file", metavar="PATH", help="write the bound port here")
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the parent process exits (checked twice a second)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="disable the int64 command-argument compatibility shim (plain mongoeco behaviour)",
    )
    return parser.parse_args(argv)


# Command arguments that mongod accepts as any integral BSON number.
_INT_ARGS = ("getMore", "limit", "skip", "batchSize", "maxTimeMS", "ntoreturn")
_INT_STAGE_ARGS = ("$limit", "$skip")


def _as_int(value):
    from mongoeco.core.bson_scalars import BsonInt32, BsonInt64

    if isinstance(value, (BsonInt64, BsonInt32)):
        return value.value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _normalize_command(body: dict) -> None:
    """Rewrite int64/double command arguments to int, in place (see module doc)."""
    for name in _INT_ARGS:
        if name in body:
            body[name] = _as_int(body[name])
    cursor = body.get("cursor")
    if isinstance(cursor, dict) and "batchSize" in cursor:
        cursor["batchSize"] = _as_int(cursor["batchSize"])
    if "killCursors" in body and isinstance(body.get("cursors"), list):
        body["cursors"] = [_as_int(cursor_id) for cursor_id in body["cursors"]]
    if "createIndexes" in body and isinstance(body.get("indexes"), list):
        for index in body["indexes"]:
            if not isinstance(index, dict):
                continue
            key = index.get("key")
            if isinstance(key, dict):
                for field in list(key):
                    key[field] = _as_int(key[field])
            if "expireAfterSeconds" in index:
                index["expireAfterSeconds"] = _as_int(index["expireAfterSeconds"])
    pipeline = body.get("pipeline")
    if isinstance(pipeline, list):
        for stage in pipeline:
            if isinstance(stage, dict):
                for name in _INT_STAGE_ARGS:
                    if name in stage:
                        stage[name] = _as_int(stage[name])


def install_int64_shim() -> None:
    # The proxy module imported decode_op_msg by name, so patch it there.
    import mongoeco.wire.proxy as proxy

    original = getattr(proxy, "decode_op_msg", None)
    if original is None:
        print("mongoeco: decode_op_msg not found; int64 shim not installed", file=sys.stderr)
        return

    def decode_op_msg(header, payload):
        request = original(header, payload)
        if isinstance(request.body, dict):
            _normalize_command(request.body)
        return request

    proxy.decode_op_msg = decode_op_msg


def write_port_file(path: str, port: int) -> None:
    # Write to a temp file in the same directory, then rename: readers polling
    # for the file never see it empty or half-written.
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".mongoeco-port.", dir=directory)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{port}\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


async def serve(args: argparse.Namespace) -> None:
    from mongoeco.wire import AsyncMongoEcoProxyServer

    if not args.strict:
        install_int64_shim()
    engine = None
    if args.sqlite:
        from mongoeco.engines.sqlite import SQLiteEngine

        engine = SQLiteEngine(args.sqlite)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # A launcher may hand us a blocked signal mask (swift test's worker threads
    # block everything, and posix_spawn keeps the mask), which would make
    # SIGTERM never arrive; unblock the two we stop on.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    if args.exit_with_parent:
        parent = os.getppid()

        async def watch_parent() -> None:
            # An orphan is re-parented (to init or a subreaper): the parent id changes.
            while os.getppid() == parent:
                await asyncio.sleep(0.5)
            stop.set()

        watcher = asyncio.ensure_future(watch_parent())  # noqa: F841 (kept alive by the loop)

    server = AsyncMongoEcoProxyServer(engine=engine, host=args.host, port=args.port)
    # start() connects the engine, binds and begins serving; it returns the
    # real address (useful with --port 0).
    address = await server.start()
    try:
        if args.port_file:
            write_port_file(args.port_file, address.port)
        print(
            f"mongoeco listening on {address.host}:{address.port}"
            f" ({'sqlite ' + args.sqlite if args.sqlite else 'memory'}), pid {os.getpid()}",
            flush=True,
        )
        await stop.wait()
        print("mongoeco: signal received, shutting down", flush=True)
    finally:
        # close() stops the listener, drops clients and disconnects the engine
        # (flushing SQLite), so a restart on the same file sees all writes.
        await server.close()
        if args.port_file:
            try:
                os.unlink(args.port_file)
            except FileNotFoundError:
                pass


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        # A second Ctrl-C during shutdown: still exit quietly.
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
