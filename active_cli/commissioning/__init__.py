"""The guided power-on sequence (`runner`, its steps) and the session record it writes."""
