"""The ceiling: a bare asyncio GET loop (aiohttp) that hashes each body and drops it.

    python aio_loop.py URLS_FILE --concurrency 128 --per-host 8

``--concurrency`` workers take URLs from one list; aiohttp's connector holds at most
``--concurrency`` connections in all and ``--per-host`` per host. Each body goes through
SHA-256 chunk by chunk, as ``ntd check`` does. Prints one JSON line: the checks done and
how many answered 200.
"""

import argparse
import asyncio
import hashlib
import json

import aiohttp


async def fetch_all(urls: list[str], concurrency: int, per_host: int) -> dict:
    done = ok = failed = 0
    pending = iter(urls)
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=per_host)
    timeout = aiohttp.ClientTimeout(total=30)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            nonlocal done, ok, failed
            for url in pending:
                try:
                    async with session.get(url, allow_redirects=True) as response:
                        digest = hashlib.sha256()
                        async for chunk in response.content.iter_any():
                            digest.update(chunk)
                        digest.hexdigest()
                        ok += response.status == 200
                except (TimeoutError, aiohttp.ClientError):
                    failed += 1
                done += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"checks": done, "ok": ok, "failed": failed}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("urls")
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--per-host", type=int, default=8)
    args = parser.parse_args()
    with open(args.urls) as file:
        urls = file.read().split()
    print(json.dumps(asyncio.run(fetch_all(urls, args.concurrency, args.per_host))))


if __name__ == "__main__":
    main()
