"""The Scrapy baseline: a minimal spider on Scrapy's default settings.

    python scrapy_min.py URLS_FILE --concurrency 128 --per-host 8

Changed from the defaults only to hit the same URLs at the same concurrency
(CONCURRENT_REQUESTS, CONCURRENT_REQUESTS_PER_DOMAIN) and to keep the run on loopback
and off the disk: the cookies middleware's default tldextract fetches the public suffix
list online, remote control listens and writes a token under ~/.local/state, and telnet
listens (LIBRARIES.md). Everything else, logging at DEBUG and CONCURRENT_ITEMS 100
included, is Scrapy's default: this is what Scrapy costs before any tuning. The callback
hashes the body with SHA-256 and yields nothing. Prints one JSON line at the end.
"""

import argparse
import hashlib
import json

from scrapy import Spider
from scrapy.crawler import CrawlerProcess


class MinimalSpider(Spider):
    name = "minimal"

    def __init__(self, urls, tally, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = urls
        self.tally = tally

    def parse(self, response):
        hashlib.sha256(response.body).hexdigest()
        self.tally["checks"] += 1
        self.tally["ok"] += response.status == 200


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("urls")
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--per-host", type=int, default=8)
    args = parser.parse_args()
    with open(args.urls) as file:
        urls = file.read().split()
    tally = {"checks": 0, "ok": 0}
    process = CrawlerProcess(
        {
            "CONCURRENT_REQUESTS": args.concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": args.per_host,
            "COOKIES_ENABLED": False,
            "REMOTE_CONTROL_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
        }
    )
    process.crawl(MinimalSpider, urls=urls, tally=tally)
    process.start()
    print(json.dumps(tally))


if __name__ == "__main__":
    main()
