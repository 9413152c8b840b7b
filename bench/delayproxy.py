#!/usr/bin/python3
"""delayproxy.py - a loopback TCP proxy that holds what a client sends for a
fixed time before forwarding it, to give a local DynamoDB the latency of a
network (bench/run --delay-ms N).

usage: delayproxy.py UPSTREAM_PORT [--delay-ms 5] [--port-file FILE]

Listens on 127.0.0.1 (a free port, written to --port-file and to stdout) and
connects each client to 127.0.0.1:UPSTREAM_PORT. Bytes from the client are
forwarded DELAY ms after they arrived, in order (so one HTTP request, however
many segments it came in, waits DELAY once); responses pass at once. With
keep-alive each request therefore costs one extra DELAY, as a link with a
round trip of DELAY would.
"""
import argparse
import asyncio
import collections
import sys


async def pump_delayed(reader, writer, delay):
    """Forwards reader to writer, each chunk DELAY after it arrived."""
    loop = asyncio.get_running_loop()
    queue = collections.deque()
    ready = asyncio.Event()
    done = False

    async def sender():
        while True:
            while not queue:
                if done:
                    return
                ready.clear()
                await ready.wait()
            due, data = queue.popleft()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()

    task = asyncio.create_task(sender())
    try:
        while True:
            data = await reader.read(262144)
            if not data:
                break
            queue.append((loop.time() + delay, data))
            ready.set()
    finally:
        done = True
        ready.set()
        try:
            await task
        except (ConnectionError, asyncio.CancelledError):
            pass
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            pass


async def pump(reader, writer):
    try:
        while True:
            data = await reader.read(262144)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            pass


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("upstream_port", type=int)
    ap.add_argument("--delay-ms", type=float, default=5.0)
    ap.add_argument("--port-file")
    args = ap.parse_args()
    delay = args.delay_ms / 1000.0

    async def client(creader, cwriter):
        try:
            ureader, uwriter = await asyncio.open_connection("127.0.0.1",
                                                             args.upstream_port)
        except OSError:
            cwriter.close()
            return
        for w in (cwriter, uwriter):
            sock = w.get_extra_info("socket")
            if sock is not None:
                import socket
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await asyncio.gather(pump_delayed(creader, uwriter, delay),
                                 pump(ureader, cwriter))
        except ConnectionError:
            pass
        finally:
            cwriter.close()
            uwriter.close()

    server = await asyncio.start_server(client, "127.0.0.1", 0, backlog=256)
    port = server.sockets[0].getsockname()[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        import os
        os.rename(args.port_file + ".tmp", args.port_file)
    print(port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
