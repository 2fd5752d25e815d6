"""The Scrapy project that verifies reported URLs."""
