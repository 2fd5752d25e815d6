"""Who hosts a reported URL: DNS, registered domain, ASN, RDAP network and abuse contact."""
