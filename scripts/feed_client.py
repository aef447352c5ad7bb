"""An independent bourse market-data client: the book from the WebSocket stream vs REST.

Written only from docs/PROTOCOL.md: subscribe to `book`, replace the book on
`book_snapshot`, apply `book` updates whose seq is exactly one more than the last, and
compare with GET /v1/stocks/{symbol}/book once the stream is quiet.
"""

import asyncio
import json
import sys
import time
import urllib.request
from decimal import Decimal

import websockets


def apply_levels(book, side, levels):
    for price, qty, orders in levels:
        key = (side, Decimal(price))
        if int(qty) == 0:
            book.pop(key, None)
        else:
            book[key] = (int(qty), int(orders))


def rest_book(base, symbol):
    with urllib.request.urlopen(f"{base}/v1/stocks/{symbol}/book?depth=1000", timeout=10) as r:
        v = json.load(r)
    book = {}
    apply_levels(book, "bid", v["bids"])
    apply_levels(book, "ask", v["asks"])
    return book, v["seq"]


async def main(base, symbol, seconds):
    url = base.replace("http://", "ws://") + "/v1/ws"
    book, seq = None, None
    snapshots = updates = 0
    async with websockets.connect(url, max_size=2**24) as ws:
        await ws.send(json.dumps({"op": "subscribe", "channels": ["book"], "symbols": [symbol]}))
        start = time.monotonic()
        last_msg = time.monotonic()
        while True:
            quiet = time.monotonic() - last_msg
            if time.monotonic() - start > seconds and quiet > 2.0:
                break
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=0.5)
            except asyncio.TimeoutError:
                continue
            last_msg = time.monotonic()
            m = json.loads(raw)
            kind = m.get("type")
            if kind == "book_snapshot":
                book = {}
                apply_levels(book, "bid", m["bids"])
                apply_levels(book, "ask", m["asks"])
                seq = m["seq"]
                snapshots += 1
                if snapshots == 1:
                    # Tells a driver the subscription is live.
                    print(json.dumps({"ready": True, "seq": seq}), flush=True)
            elif kind == "book":
                if book is None:
                    raise SystemExit(f"an update before the snapshot: {m}")
                if m["seq"] != seq + 1:
                    raise SystemExit(f"seq gap: {seq} -> {m['seq']}")
                seq = m["seq"]
                apply_levels(book, "bid", m["bids"])
                apply_levels(book, "ask", m["asks"])
                updates += 1
            elif kind in ("subscribed", "heartbeat"):
                pass
            else:
                raise SystemExit(f"unexpected message: {m}")
    want, want_seq = rest_book(base, symbol)
    same = book == want and seq == want_seq
    print(json.dumps({
        "symbol": symbol, "snapshots": snapshots, "updates": updates, "seq": seq,
        "rest_seq": want_seq, "levels": len(want), "equal": same,
    }))
    return 0 if same else 1


if __name__ == "__main__":
    base, symbol = sys.argv[1].rstrip("/"), sys.argv[2]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
    sys.exit(asyncio.run(main(base, symbol, seconds)))
