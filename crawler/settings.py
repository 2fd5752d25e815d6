"""Scrapy settings of the verification crawler.

Our own settings (settings/) drive the crawl; this module holds the Scrapy side, with
every feature that could keep content or phone out turned off. See LIBRARIES.md notes
in docs/ARCHITECTURE.md.
"""

BOT_NAME = "ntd"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"
# Our `crawl` replaces Scrapy's, to exit as `ntd check` does when a pass failed.
COMMANDS_MODULE = "crawler.commands"

# Verifying a report is not crawling a site: robots.txt is not consulted by default.
ROBOTSTXT_OBEY = False
# Nothing of a fetch may be kept, and nothing may listen or reach out on our behalf.
HTTPCACHE_ENABLED = False
COOKIES_ENABLED = False  # its middleware builds a tldextract that fetches online
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
HTTPPROXY_ENABLED = False
ITEM_PIPELINES: dict = {}
FEEDS: dict = {}
# `scrapy crawl` installs the resolver named here before the crawl starts: our safety
# resolver, so that the policy holds however the spider is run.
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
TWISTED_DNS_RESOLVER = "crawler.resolver.SafeResolver"
DNSCACHE_ENABLED = False
