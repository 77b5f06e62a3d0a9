#!/usr/bin/env python3
"""A `likeAdded` subscriber built on the `gql` client library.

Prints one JSON object per line on stdout: {"connected": <subprotocol>} once
the server acknowledged the connection, then {"event": {...}} per event, or
{"error": [...]} if the server refuses the subscription. Runs until killed,
until the server ends the subscription ({"complete": true}), or until the
server closes the connection ({"closed": <WebSocket close code or null>}).
"""
import argparse
import asyncio
import json

from gql import Client, gql
from gql.transport.exceptions import TransportConnectionFailed, TransportQueryError
from websockets.exceptions import ConnectionClosed
from gql.transport.websockets import WebsocketsTransport

PROTOCOLS = {
    "graphql-transport-ws": WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL,
    "graphql-ws": WebsocketsTransport.APOLLO_SUBPROTOCOL,
}


def emit(obj):
    print(json.dumps(obj), flush=True)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("session", type=int)
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default="graphql-transport-ws")
    args = parser.parse_args()

    transport = WebsocketsTransport(url=args.url, subprotocols=[PROTOCOLS[args.protocol]])
    request = gql("subscription($s: Int!) { likeAdded(sessionId: $s) { sessionId likes total } }")
    request.variable_values = {"s": args.session}
    try:
        async with Client(transport=transport, fetch_schema_from_transport=False) as session:
            emit({"connected": transport.subprotocol})
            async for result in session.subscribe(request):
                emit({"event": result["likeAdded"]})
            emit({"complete": True})
    except TransportQueryError as error:
        emit({"error": error.errors})
    except TransportConnectionFailed as error:
        emit({"closed": close_code(error)})


def close_code(error):
    """The close code the server sent, found in the exception's causes."""
    while error is not None:
        if isinstance(error, ConnectionClosed):
            return error.rcvd.code if error.rcvd else None
        error = error.__cause__
    return None


if __name__ == "__main__":
    asyncio.run(main())
