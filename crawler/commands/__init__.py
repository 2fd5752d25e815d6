"""The project's Scrapy commands (COMMANDS_MODULE): ours replace Scrapy's of one name."""
