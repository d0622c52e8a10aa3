"""The guided power-on sequence (`runner` and its steps) and the session record it writes (`session`)."""
