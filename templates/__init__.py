"""Every word a person reads: SMS texts, pages and their catalogs, word lists, languages."""
