#!/usr/bin/env python3
"""A `likeAdded` subscriber built on the `gql` client library.

Prints one JSON object per line on stdout: {"connected": <subprotocol>} once
the server acknowledged the connection, then {"event": {...}} per event, or
{"error": [...]} if the server refuses the subscription. Runs until killed
or until the server ends the subscription ({"complete": true}).
"""
import argparse
import asyncio
import json

from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
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


if __name__ == "__main__":
    asyncio.run(main())
