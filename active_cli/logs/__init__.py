"""Bus logs: read CAN and RS485 captures, decode them as a stream.

`can_reader` iterates frames from any log python-can reads (candump ``.log``
through a faster tokenizer proven equal to python-can's), `rs485_log` defines
the RS485 capture line format with its writer and reader, `fast_decode`
compiles the DBC's messages into plain Python functions checked against
cantools, `decode_stream` turns a capture into CSV or JSON lines in constant
memory, and `traffic` makes synthetic Pylon LV traffic for tests and benches.
Nothing here opens a bus or a port: capturing is `links.capture`'s job.
"""
