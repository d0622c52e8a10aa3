"""The guided power-on sequence (`runner`, its steps) and the record it writes (`session`)."""
