#!/usr/bin/env python3
"""A loopback TCP forwarder whose responses share one rate limit: the model of a link of
RATE bytes per second in front of nginx (nginx's own `limit_rate` limits each response
and lets each one send a second's worth at once, so on many small files it limits
nothing). Requests go through as they come; the bytes coming back, over all connections
together, wait for a token bucket of RATE bytes/s holding at most 50 ms worth (so that
the event loop's late wake-ups do not slow it below RATE).

usage: throttle.py LISTEN_PORT TARGET_PORT RATE_BYTES_PER_SECOND
"""
import asyncio
import sys
import time

CHUNK = 64 * 1024


class Bucket:
    """Tokens (bytes) refilled at `rate` per second, at most 50 ms worth."""

    def __init__(self, rate):
        self.rate = rate
        self.capacity = max(CHUNK, rate / 20)
        self.tokens = 0.0
        self.last = time.monotonic()
        self.lock = asyncio.Lock()

    async def take(self, n):
        async with self.lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
                self.last = now
                if self.tokens >= n:
                    self.tokens -= n
                    return
                await asyncio.sleep((n - self.tokens) / self.rate)


async def pump(reader, writer, bucket):
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            if bucket is not None:
                await bucket.take(len(data))
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    listen, target, rate = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    bucket = Bucket(rate)

    async def handle(client_r, client_w):
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(
            pump(client_r, server_w, None), pump(server_r, client_w, bucket)
        )

    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server:
        await server.serve_forever()


asyncio.run(main())
