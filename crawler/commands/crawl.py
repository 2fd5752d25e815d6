"""``scrapy crawl``, exiting as ``ntd check`` does when the verify spider's pass failed.

Scrapy's own command exits 0 whenever the crawl started, so a cron job running
`scrapy crawl verify` would not hear of a store that failed mid-pass, or of a pass the
outage guard held back. Here it exits 1 with the reason for the first, and 3 for the
second, as `ntd check` does.
"""

from __future__ import annotations

import sys

from scrapy.commands.crawl import Command as ScrapyCrawl


class Command(ScrapyCrawl):
    crawler = None

    def _create_crawler(self, spidercls):
        self.crawler = super()._create_crawler(spidercls)
        return self.crawler

    def run(self, args, opts) -> None:
        # Here, not at the top: Scrapy imports every command to list them.
        from crawler.passes import stopped_because
        from crawler.recorder import EXIT_HELD
        from crawler.spiders.verify import VerifySpider

        super().run(args, opts)
        spider = getattr(self.crawler, "spider", None)
        if not isinstance(spider, VerifySpider):
            return
        if spider.failure is not None:
            self._say(stopped_because(spider))
            self.exitcode = 1
        elif spider.recorder.tally.held_back:
            for reason in spider.recorder.tally.held_reasons:
                self._say(f"outage guard held back state changes: {reason}")
            self.exitcode = EXIT_HELD

    @staticmethod
    def _say(message: str) -> None:
        print(f"scrapy crawl: {message}", file=sys.stderr)
