#!/usr/bin/env python3
"""An independent WSS client (the `websockets` package) for the TLS test.

    scripts/py-venv.sh scripts/wss_client.py WSS_URL CA_PEM SYMBOL

Connects to WSS_URL trusting only CA_PEM, subscribes to the symbol's book and prints one
JSON line: the TLS version and cipher, and the first frames the server sent (the subscribe
acknowledgement and the book snapshot). Exits 0 only if a book snapshot for SYMBOL came.
"""

import asyncio
import json
import ssl
import sys

import websockets


async def main(url, ca, symbol):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
    async with websockets.connect(url, ssl=ctx, open_timeout=10) as ws:
        tls = ws.transport.get_extra_info("ssl_object")
        await ws.send(json.dumps({"op": "subscribe", "channels": ["book"], "symbols": [symbol]}))
        frames = []
        got_book = False
        async with asyncio.timeout(10):
            while not got_book:
                msg = json.loads(await ws.recv())
                frames.append(msg.get("type"))
                got_book = msg.get("type") == "book_snapshot" and msg.get("symbol") == symbol
        print(json.dumps({"tls_version": tls.version(), "cipher": tls.cipher()[0],
                          "frames": frames, "book_snapshot": got_book}))
        return 0 if got_book else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:4])))
