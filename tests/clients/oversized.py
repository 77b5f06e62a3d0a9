#!/usr/bin/env python3
"""Sends one oversized GraphQL WebSocket message with the `websockets` library.

Usage: oversized.py URL PROTOCOL BYTES. Opens the connection with PROTOCOL,
completes the GraphQL connection handshake, sends a subscription document
padded with a comment to BYTES bytes, and prints {"closed": <close code or
null>} once the server closes the connection (or after 5 seconds).
"""
import asyncio
import json
import sys

import websockets


async def main(url, protocol, size):
    async with websockets.connect(url, subprotocols=[protocol], compression=None) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        await ws.recv()
        start = "subscribe" if protocol == "graphql-transport-ws" else "start"
        document = "subscription { likeAdded(sessionId: 1) { likes } }\n#" + "x" * size
        await ws.send(json.dumps({"id": "1", "type": start, "payload": {"query": document}}))
        try:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
        except websockets.exceptions.ConnectionClosed as closed:
            print(json.dumps({"closed": closed.rcvd.code if closed.rcvd else None}))
        except asyncio.TimeoutError:
            print(json.dumps({"closed": None}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
